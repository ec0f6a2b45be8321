"""Samplers: pure no-grad functions of (net, process, latents, generator)."""
from __future__ import annotations

from typing import Callable

import torch

from .diffusion import DDGANProcess


@torch.no_grad()
def ddgan_sample(G: Callable, process: DDGANProcess, x_T: torch.Tensor, *, nz: int,
                 generator: torch.Generator | None = None,
                 z_fn: Callable[[int, int], torch.Tensor] | None = None,
                 return_trajectory: bool = False):
    """DDGAN's T-step sampler (Xiao et al. 2022, Alg. of Sec. 3): x_0' = G(x_{t+1}, t, z) with a fresh
    z ~ N(0, I) at every step, then x_t ~ q(x_t | x_{t+1}, x_0') (no noise at the last step).

    z_fn(t, n) may supply the latent of step t instead (e.g. PDDGAN's semantic z_2).
    NFE = process.T generator evaluations.
    """
    x = x_T
    traj = [x]
    n = x.shape[0]
    for i in reversed(range(process.T)):
        t = torch.full((n,), i, device=x.device, dtype=torch.long)
        z = z_fn(i, n) if z_fn is not None else torch.randn(n, nz, generator=generator, device=x.device)
        x0 = G(x, t, z)
        x = process.sample_posterior(x0, x, t, generator=generator)
        traj.append(x)
    return (x, traj) if return_trajectory else x
