"""Where a trained DDGAN loses the data's variety (issue 7): start its sampler from real test images noised to step k
(x_k ~ q(x_k | x_0)) and let G draw only the remaining k steps; k = T is the ordinary sampler from noise.

    .venv/bin/python tools/probe_ddgan_partial.py results/cpu/DDGAN-BASE-synthfaces-T4/weights.pt [n]

For each k it prints FID_dom, the gap closed, precision_dom and recall_dom of n such images against n training images
(the protocol of ddgan.ipynb, one evaluation seed).  If recall stays high while only the last steps are G's, those
steps keep the variety the real x_k carries and the loss is in the first, unconditional steps; if it falls already
at k = 1, the last (detail) step is where it is lost.  A diagnostic for the findings, not a result: it writes nothing.
"""
import sys

import torch

from semlib import load_dataset
from semlib.evaluation import reference_sets, sample_quality
from semlib.metrics import get_extractor
from semlib.samplers import draw_randomness
from semlib.study import gap_closed

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from attribute_coverage import load  # noqa: E402  (the same loader of a run folder or a kept weights.pt)


def main(path: str, n: int = 2000) -> None:
    torch.set_num_threads(1)
    m = load(path)
    c = m.config
    train = load_dataset(c.dataset, resolution=c.resolution, split="train")
    test = load_dataset(c.dataset, resolution=c.resolution, split="test")
    ref, floor, noise = reference_sets(train, test, n)
    E = get_extractor(c.dataset, resolution=c.resolution, device="cpu")
    name = E.name

    def q(images: torch.Tensor) -> dict:
        return sample_quality(lambda k, g: images[:k], ref, E, n=n, seeds=[0], progress=False)

    fid_floor = q(floor)[f"FID_{name}"]
    fid_noise = q(noise)[f"FID_{name}"]
    P, T = m.process, m.process.T
    print(f"{path}: T = {T}, n = {n}, extractor {name}; real floor FID {fid_floor:.2f}, noise FID {fid_noise:.1f}")
    for k in range(1, T + 1):
        g = torch.Generator().manual_seed(0)
        x0 = floor[:n]
        x_k = P.q_sample(x0, torch.full((n,), k, dtype=torch.long), generator=g)
        # G's remaining steps k-1 .. 0, as in ddgan_sample but entered at x_k
        zs, noises = draw_randomness(T, n, c.nz, tuple(x0.shape[1:]), generator=g, device="cpu")
        x = x_k
        with torch.no_grad():
            for i in reversed(range(k)):
                t = torch.full((n,), i, dtype=torch.long)
                x = P.posterior_step(m.G_ema(x, t, zs[i]).float(), x, t, noises[i])
        r = q(x.clamp(-1, 1))
        print(f"k = {k} ({'G draws every step' if k == T else f'real x_{k}, G draws the last {k} step(s)'}): "
              f"FID_{name} {r[f'FID_{name}']:.2f}, gap closed {gap_closed(r[f'FID_{name}'], fid_noise, fid_floor):.3f}, "
              f"precision {r[f'precision_{name}']:.3f}, recall {r[f'recall_{name}']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
