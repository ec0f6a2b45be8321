"""Does a trained DDGAN use its latent z (issue 7)?  Spread of the samples over z at a fixed x_T, and over x_T at fixed z.

    .venv/bin/python tools/probe_z_sensitivity.py runs/cpu/DDGAN-BASE-synthfaces-dwide-r1 [n] [k]

For n starting points x_T, the EMA generator's full sampler is run k times with fresh z (and fresh posterior noise),
and, for k draws of x_T, with the same z of every step for all images.  It prints the per-pixel standard deviation
over the k draws (averaged over pixels and the n starts), for the full sampler and for G's first step alone, next to
the per-pixel standard deviation of n x k real training images.  A G that ignores z shows a spread over z near 0;
then the sampler's variety comes from x_T only.  A diagnostic for the findings, not a result: it writes nothing.
"""
import sys

import torch

from semlib import load_dataset
from semlib.samplers import ddgan_sample

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from attribute_coverage import load  # noqa: E402  (the same loader of a run folder or a kept weights.pt)


@torch.no_grad()
def spreads(m, n: int = 16, k: int = 16, seed: int = 0) -> dict[str, float]:
    """Per-pixel std over k draws of z (x_T fixed) and over k draws of x_T (z fixed), full sampler and first step."""
    G, p, nz = m.G_ema.eval(), m.process, m.config.nz
    shape = (n, m.data_ch, m.data_res, m.data_res)
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(shape, generator=g)
    fixed = {t: torch.randn(1, nz, generator=g).expand(n, -1) for t in range(p.T)}
    t_first = torch.full((n,), p.T - 1, dtype=torch.long)
    over_z = torch.stack([ddgan_sample(G, p, x_T, nz=nz, generator=g) for _ in range(k)])
    over_x = torch.stack([ddgan_sample(G, p, torch.randn(shape, generator=g), nz=nz, generator=g,
                                       z_fn=lambda t, b: fixed[t]) for _ in range(k)])
    first_z = torch.stack([G(x_T, t_first, torch.randn(n, nz, generator=g)) for _ in range(k)])
    first_x = torch.stack([G(torch.randn(shape, generator=g), t_first, fixed[p.T - 1]) for _ in range(k)])
    return {name: v.std(0).mean().item() for name, v in
            (("sampler, over z", over_z), ("sampler, over x_T", over_x),
             ("first step, over z", first_z), ("first step, over x_T", first_x))}


def main(path: str, n: int = 16, k: int = 16) -> None:
    torch.set_num_threads(1)
    m = load(path)
    real = load_dataset(m.config.dataset, resolution=m.config.resolution, split="train").get_batch(
        torch.arange(n * k))[0]
    print(f"real training images: per-pixel std over {n * k} images {real.std(0).mean().item():.3f}")
    for name, v in spreads(m, n, k).items():
        print(f"{name}: per-pixel std {v:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:4]))
