"""How much a U-Net's bottleneck h decides its output, against its skip connections and its z path (issue 9,
ASYRP-PDDGAN): for n test images, the change of the output when h gets a random direction of its own norm (or twice
it), is zeroed, or is taken from another image, and when the skips or the mapped z (w) are taken from another image,
each as a fraction of the mean distance between the outputs of two different images.

    .venv/bin/python tools/hspace_probe.py [scale] [n]

Compares PDDGAN's full row (seed 1, the base of ASYRP-PDDGAN: the semantic step's x_0 prediction from x_2 and
z_2 = SE(x_0)) with the DPM base (its x_0 prediction P_t at t = 500 and 800, the steps Asyrp edits).  Loads both from
the scale's run folders (trains them when missing: hours at `cpu`).  A diagnostic for the findings, not a result: it
writes nothing.
"""
import sys
from dataclasses import replace

import torch

from semlib import load_dataset, recipes


def probe(name: str, decode, bn, generator: torch.Generator, n: int) -> None:
    perm = torch.roll(torch.arange(n), 1)
    with torch.no_grad():
        out = decode(bn)

        def change(o):
            return (o - out).flatten(1).norm(dim=1).mean().item()

        spread = change(out[perm])
        r = torch.randn(bn.h.shape, generator=generator)
        r = r * (bn.h.flatten(1).norm(dim=1) / r.flatten(1).norm(dim=1))[:, None, None, None]
        rows = {"h + random of ||h||": replace(bn, h=bn.h + r),
                "h + random of 2 ||h||": replace(bn, h=bn.h + 2 * r),
                "h = 0": replace(bn, h=torch.zeros_like(bn.h)),
                "h of another image": replace(bn, h=bn.h[perm]),
                "skips of another image": replace(bn, skips=[s[perm] for s in bn.skips])}
        if bn.w is not None:
            rows["w (z path) of another image"] = replace(bn, w=bn.w[perm])
        print(f"{name}: distance between two images' outputs {spread:.3f}; change as a fraction of it:")
        for k, b in rows.items():
            print(f"   {k:30s} {change(decode(b)) / spread:.3f}")


def main(scale: str = "cpu", n: int = 64) -> None:
    torch.set_num_threads(1)
    x0 = load_dataset("synthfaces", resolution=32, split="test").get_batch(torch.arange(n))[0]
    g = torch.Generator().manual_seed(0)

    m = recipes.pddgan_row(scale, "full", seed=1, device="cpu").model
    G = m.G_ema.eval()
    with torch.no_grad():
        x2 = torch.randn(x0.shape, generator=g)
        bn = G.encode(x2, torch.ones(n, dtype=torch.long), m.encode(x0))
    probe("PDDGAN full-s1, semantic step (x_0 prediction from x_2)", G.decode, bn, g, n)

    dpm, _ = recipes.dpm_base(scale, device="cpu")
    U = dpm.net_ema.eval()
    for t_ in (500, 800):
        t = torch.full((n,), t_, dtype=torch.long)
        with torch.no_grad():
            xt = dpm.process.q_sample(x0, t, noise=torch.randn(x0.shape, generator=g))
            bn = U.encode(xt, t)
        probe(f"DPM base, P_t at t = {t_}", lambda b: dpm.process.x0_from_eps(xt, t, U.decode(b)), bn, g, n)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cpu", int(sys.argv[2]) if len(sys.argv) > 2 else 64)
