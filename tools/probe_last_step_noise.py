"""Issue 7, a pilot of ours (not 000's): what the last step's posterior noise decides in a two-step (PD)DGAN, and what
the samples lose without it.  000's Figure 2 keeps noise1 (the noise of x_1 ~ q(x_1 | x_2, x~_0)) fixed; varied alone it
changes the class of ~60% of pairs on Fashion-MNIST (the notebook's `change(noise_1)` column), more than z_1.  Here the
trained row samples with x_1 = mean + s * sigma * noise1 for s in {1, 0.5, 0} (s = 1 is the model as trained; s < 1 is a
sampler change only, nothing is retrained): per s, FID_ssl and FID_dom / gap closed / recall_dom of n samples (fitted
prior, one seed) and the class change of pairs that differ in z_2, z_1 or noise1 only (`evaluation.attribute_change`,
top class of the dom seed-1 reader, as Figure 2 reads Fashion-MNIST).

    .venv/bin/python tools/probe_last_step_noise.py PDDGAN-T1-full-fashion-8k-constlr [more row entries] [--n 2000]

A diagnostic for the findings, not a result: it writes nothing and changes no verdict.  Reads registered cpu row
entries (`recipes.pddgan_entry`; their kept weights).
"""
import argparse

import torch

from semlib import evaluation, study
from semlib.evaluation import _two_step_draws, attribute_change
from semlib.recipes import pddgan_entry


class ScaledLastNoise:
    """A trained two-step model whose x_1 carries s times its posterior noise (generate and sample); else the model."""

    def __init__(self, model, s: float):
        self.model, self.s = model, s

    def __getattr__(self, name):
        return getattr(self.model, name)

    def generate(self, x2, z2, z1, noise1):
        return self.model.generate(x2, z2, z1, self.s * noise1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, batch: int = 500) -> torch.Tensor:
        draws, out = _two_step_draws(self.model, "fitted", "cpu"), []
        for i in range(0, n, batch):
            v = {k: f(min(batch, n - i), generator) for k, f in draws.items()}
            out.append(self.generate(v["x2"], v["z2"], v["z1"], v["noise1"]))
        return torch.cat(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("entries", nargs="+")
    ap.add_argument("--n", type=int, default=2000, help="samples for FID (one seed)")
    ap.add_argument("--pairs", type=int, default=250, help="pairs per input for the class change (seed 0)")
    a = ap.parse_args()
    for entry in a.entries:
        tr = pddgan_entry("cpu", entry, device="cpu")
        ref, floor, noise = evaluation.reference_sets(tr.train_ds, tr.test_ds, a.n)
        fid_noise = evaluation.evaluate_samples(noise, ref, tr.E)["FID_dom"]
        classify = lambda x: tr.E.predict(x).argmax(1, keepdim=True)   # noqa: E731
        print(f"== {entry}: n {a.n} (seed 0), {a.pairs} pairs per input; x_1 = mean + s * sigma * noise1")
        print("s    | FID_ssl | FID_dom | gap closed | recall_dom | change(z_2) change(z_1) change(noise_1)")
        for s in (1.0, 0.5, 0.0):
            m = ScaledLastNoise(tr.model, s)
            q = {}
            for net in (tr.S, tr.E):
                q.update(evaluation.sample_quality(lambda k, g: m.sample(k, g), ref, net, n=a.n, seeds=[0],
                                                   real_floor=floor if net is tr.E else None, progress=False))
            gap = study.gap_closed(q["FID_dom"], fid_noise, q["FID_dom_real_floor"])
            ch = [attribute_change(m, v, classify, n=a.pairs)["mean"] for v in ("z2", "z1", "noise1")]
            print(f"{s:4.1f} | {q['FID_ssl']:7.2f} | {q['FID_dom']:7.2f} | {gap:10.3f} | {q['recall_dom']:10.3f} | "
                  f"{ch[0]:11.3f} {ch[1]:11.3f} {ch[2]:15.3f}")


if __name__ == "__main__":
    main()
