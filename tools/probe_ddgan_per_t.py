"""Probe a trained DDGAN run per step t (issue 7): how well G denoises real pairs, how much high-frequency energy its
x_0 carries against the data's, and how far D's logits separate real from fake pairs.

    .venv/bin/python tools/probe_ddgan_per_t.py runs/cpu/DDGAN-BASE-synthfaces-T8 [dataset] [n]

Reads the run's last checkpoint (semlib.recipes.load_ddgan); prints one line per t and generator (EMA, raw).  A
diagnostic for the findings, not a result: it writes nothing.
"""
import sys

import torch

from semlib import load_dataset
from semlib.recipes import load_ddgan


def hf(x: torch.Tensor) -> float:
    """Mean absolute difference between horizontal neighbours (speckle shows up here)."""
    return float((x[..., 1:] - x[..., :-1]).abs().mean())


def main(run: str, dataset: str = "synthfaces", n: int = 64) -> None:
    torch.set_num_threads(1)
    m, step = load_ddgan(run, device="cpu")
    x0 = load_dataset(dataset, resolution=m.config.resolution, split="test").get_batch(torch.arange(n))[0]
    P, g = m.process, torch.Generator().manual_seed(0)
    print(f"{run}: T = {P.T}, iteration {step}; data high-frequency energy {hf(x0):.3f}")
    with torch.no_grad():
        for t_ in range(P.T):
            t = torch.full((n,), t_, dtype=torch.long)
            x_t, x_tp1 = P.q_sample_pairs(x0, t, g)
            naive = (x_tp1 / P.sqrt_alpha_bar[t_ + 1]).clamp(-1, 1)
            for name, G in (("ema", m.G_ema), ("raw", m.G)):
                x0p = G(x_tp1, t, torch.randn(n, m.config.nz, generator=g))
                fake = P.sample_posterior(x0p, x_tp1, t, g)
                d_real, d_fake = float(m.D(x_t, t, x_tp1).mean()), float(m.D(fake, t, x_tp1).mean())
                print(f"t={t_} {name}: MSE(G x_0) {float(((x0p - x0) ** 2).mean()):.4f} | MSE(rescaled x_t+1) "
                      f"{float(((naive - x0) ** 2).mean()):.4f} | HF energy of G's x_0 {hf(x0p):.3f} | "
                      f"D real {d_real:+.2f} fake {d_fake:+.2f}")


if __name__ == "__main__":
    main(sys.argv[1], *(sys.argv[2:3]), *([int(sys.argv[3])] if len(sys.argv) > 3 else []))
