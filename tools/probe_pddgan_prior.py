"""Is a PDDGAN's low recall its generator's or its z_2 prior's (issue 7)?  A diagnostic for the findings, not a result.

    .venv/bin/python tools/probe_pddgan_prior.py PDDGAN-T1-full-latent_zoom [n] [scale]

Unconditional samples draw z_2 from a Gaussian fitted to SE's codes of training images (`fit_latent_prior`).  If the
generator covers the data but that Gaussian puts its mass where few codes are, recall falls with the prior, not with
G.  This scores, under the learning bar's protocol (n samples against n training images, E = the domain network of
seed 1, k = 3, one evaluation seed), four ways to pick z_2 with x_2, z_1 and the posterior noise random:
  fitted    the Gaussian prior the row notebook samples with;
  standard  N(0, I);
  codes     SE(x_0) of n held-out test images (the encoder's own codes: an autoencoding, no prior involved);
  shuffled  the same codes with each coordinate permuted across images (the codes' marginals, none of their joint).
`codes` close to the data and `fitted` far from it means the prior, not G, limits the samples.  Reads the `cpu` model
(or the given scale's) of a registered PDDGAN row entry (recipes.pddgan_entry); writes nothing.
"""
import sys

import torch

from semlib.evaluation import reference_sets
from semlib.metrics import evaluate_samples
from semlib.recipes import pddgan_entry
from semlib.study import gap_closed


def main(entry: str, n: int = 2000, scale: str = "cpu") -> None:
    torch.set_num_threads(1)
    tp = pddgan_entry(scale, entry, device="cpu")
    m, E = tp.model, tp.E
    if m.SE is None:
        raise SystemExit(f"{entry} has no semantic encoder: z_2 is N(0, I), there is no prior to probe")
    ref, floor, noise = reference_sets(tp.train_ds, tp.test_ds, n)
    score = lambda x: evaluate_samples(x, ref, E)                                        # noqa: E731
    base_floor, base_noise = score(floor)["FID_dom"], score(noise)["FID_dom"]
    g = torch.Generator().manual_seed(0)
    x_te = tp.test_ds.get_batch(torch.arange(n))[0]
    codes = torch.cat([m.encode(x_te[i:i + 500]) for i in range(0, n, 500)])
    shuffled = torch.stack([c[torch.randperm(n, generator=g)] for c in codes.T], 1)
    c, r, nz = m.data_ch, m.data_res, m.config.nz
    draws = {"fitted": m._prior_sampler("fitted", "cpu")(n, g), "standard": torch.randn(n, nz, generator=g),
             "codes": codes, "shuffled": shuffled}
    print(f"{entry} ({tp.config.space} space, step {tp.result.step}), n = {n}: FID_dom / gap closed / recall_dom / "
          f"precision_dom (real floor FID {base_floor:.2f}, noise {base_noise:.1f})")
    for name, z2 in draws.items():
        gx = torch.Generator().manual_seed(1)           # the same x_2, z_1 and posterior noise for every z_2 choice
        x2, z1, noise1 = (torch.randn(n, c, r, r, generator=gx), torch.randn(n, nz, generator=gx),
                          torch.randn(n, c, r, r, generator=gx))
        x = torch.cat([m.generate(x2[i:i + 250], z2[i:i + 250], z1[i:i + 250], noise1[i:i + 250])
                       for i in range(0, n, 250)])
        q = score(x)
        print(f"  {name:9s} {q['FID_dom']:7.2f} / {gap_closed(q['FID_dom'], base_noise, base_floor):.3f} / "
              f"{q['recall_dom']:.3f} / {q['precision_dom']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]), *sys.argv[3:4])
