"""Samplers: pure no-grad functions of (net, process, latents, generator)."""
from __future__ import annotations

import contextlib
from typing import Callable

import torch

from .diffusion import DDGANProcess, GaussianDiffusion, _extract


@torch.no_grad()
def ddgan_sample(G: Callable, process: DDGANProcess, x_T: torch.Tensor, *, nz: int,
                 generator: torch.Generator | None = None,
                 z_fn: Callable[[int, int], torch.Tensor] | None = None,
                 return_trajectory: bool = False):
    """DDGAN's T-step sampler (Xiao et al. 2022, Alg. of Sec. 3): x_0' = G(x_{t+1}, t, z) with a fresh
    z ~ N(0, I) at every step, then x_t ~ q(x_t | x_{t+1}, x_0') (no noise at the last step).

    z_fn(t, n) may supply the latent of step t instead (e.g. PDDGAN's semantic z_2).
    NFE = process.T generator evaluations.  The random numbers are drawn first (`draw_randomness`, in the order
    z then noise from step T-1 down), then `ddgan_loop` runs the steps: semlib.fastpath runs the same loop faster.
    """
    zs, noises = draw_randomness(process.T, x_T.shape[0], nz, tuple(x_T.shape[1:]), generator=generator,
                                 device=x_T.device, z_fn=z_fn)
    return ddgan_loop(G, process, x_T, zs, noises, return_trajectory=return_trajectory)


def draw_randomness(T: int, n: int, nz: int, shape: tuple[int, ...], *, generator: torch.Generator | None,
                    device, z_fn: Callable[[int, int], torch.Tensor] | None = None
                    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """z and posterior noise of every step, drawn in the eager sampler's order (z then noise, from step T-1 down to
    0; z from z_fn(t, n) where given).  Lists indexed by step t."""
    zs: list[torch.Tensor | None] = [None] * T
    noises: list[torch.Tensor | None] = [None] * T
    for i in reversed(range(T)):
        zs[i] = z_fn(i, n) if z_fn is not None else torch.randn(n, nz, generator=generator, device=device)
        noises[i] = torch.randn((n, *shape), generator=generator, device=device)
    return zs, noises


def ddgan_loop(G: Callable, process: DDGANProcess, x_T: torch.Tensor, zs: list[torch.Tensor],
               noises: list[torch.Tensor], *, channels_last: bool = False, autocast=None,
               return_trajectory: bool = False, start: int | None = None):
    """DDGAN's T-step loop as a pure function of its inputs (x_T and every step's z and posterior noise, from
    `draw_randomness`).  channels_last / autocast (a dtype) are semlib.fastpath's options; off, this is the eager
    sampler.  start = k < T enters the loop at x_k (pass it as x_T) and runs only the last k steps."""
    x = x_T
    traj = [x]
    n = x.shape[0]
    ctx = (torch.autocast(x.device.type, dtype=autocast) if autocast is not None else contextlib.nullcontext())
    for i in reversed(range(process.T if start is None else start)):
        t = torch.full((n,), i, device=x.device, dtype=torch.long)
        inp = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        with ctx:
            x0 = G(inp, t, zs[i])
        x = process.posterior_step(x0.float().contiguous(), x, t, noises[i])
        traj.append(x)
    return (x, traj) if return_trajectory else x


# ============================================================================ DDPM / DDIM
# eps_model(x_t, t) -> predicted noise, with t the network's timestep (process.model_t(i)).  eps_fn, when
# given, replaces the raw call: eps_fn(x_t, i, t) -> eps (PDAE's shifted epsilon, Asyrp's edited one).
def _eps(eps_model, eps_fn, process: GaussianDiffusion, x: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    t = process.model_t(i)
    return eps_fn(x, i, t) if eps_fn is not None else eps_model(x, t)


@torch.no_grad()
def ddpm_sample(eps_model: Callable, process: GaussianDiffusion, x_T: torch.Tensor, *,
                generator: torch.Generator | None = None, clip_x0: bool = True, eps_fn: Callable | None = None
                ) -> torch.Tensor:
    """DDPM's ancestral sampler with the posterior variance ("fixed small"): x_{i-1} ~ q(x_{i-1} | x_i, x0_hat),
    x0_hat from the predicted noise (clipped to [-1, 1] with clip_x0); no noise at the last step.  NFE = T."""
    x = x_T
    n = x.shape[0]
    for k in reversed(range(process.T)):
        i = torch.full((n,), k, device=x.device, dtype=torch.long)
        x0 = process.x0_from_eps(x, i, _eps(eps_model, eps_fn, process, x, i))
        if clip_x0:
            x0 = x0.clamp(-1, 1)
        mean, log_var = process.posterior(x0, x, i)
        x = mean + (torch.exp(0.5 * log_var) * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
                    if k > 0 else 0.0)
    return x


@torch.no_grad()
def ddim_sample(eps_model: Callable, process: GaussianDiffusion, x_T: torch.Tensor, *, eta: float = 0.0,
                generator: torch.Generator | None = None, clip_x0: bool = True, eps_fn: Callable | None = None,
                return_trajectory: bool = False):
    """DDIM (Song et al. 2021, Eq. 12) over the steps of `process` (respace it for K < T steps):
    x_{i-1} = sqrt(ab_{i-1}) x0_hat + sqrt(1 - ab_{i-1} - sigma^2) eps_hat + sigma z,
    sigma = eta sqrt((1 - ab_{i-1}) / (1 - ab_i)) sqrt(1 - ab_i / ab_{i-1}), with ab before the first step = 1,
    so the last step returns x0_hat.  eps_hat is recomputed from the clipped x0_hat.  With eta = 1 on all
    steps this is DDPM's ancestral sampler with the posterior variance.  NFE = process.T."""
    x = x_T
    n = x.shape[0]
    traj = [x]
    for k in reversed(range(process.T)):
        i = torch.full((n,), k, device=x.device, dtype=torch.long)
        eps = _eps(eps_model, eps_fn, process, x, i)
        x0 = process.x0_from_eps(x, i, eps)
        if clip_x0:
            x0 = x0.clamp(-1, 1)
            eps = process.eps_from_x0(x, i, x0)
        ab, ab_prev = _extract(process.alpha_bar, i, x), _extract(process.alpha_bar_prev, i, x)
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
        x = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps
        if eta > 0 and k > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        traj.append(x)
    return (x, traj) if return_trajectory else x


@torch.no_grad()
def ddim_invert(eps_model: Callable, process: GaussianDiffusion, x0: torch.Tensor, *, eps_fn: Callable | None = None,
                clip_x0: bool = True) -> torch.Tensor:
    """Deterministic DDIM inversion (eta = 0 run forwards): from x_0 (taken as the state before the first step)
    to x at the last step, x_{i} = sqrt(ab_i) x0_hat + sqrt(1 - ab_i) eps_hat with eps_hat evaluated at the
    previous state.  `ddim_sample` from the result reconstructs x_0 up to the discretisation error.  NFE = T."""
    x = x0
    n = x.shape[0]
    for k in range(process.T):
        i_prev = torch.full((n,), max(k - 1, 0), device=x.device, dtype=torch.long)
        if k == 0:   # at alpha_bar = 1 the state is x_0 itself: evaluate the network at the first step
            eps = _eps(eps_model, eps_fn, process, x, i_prev)
            x0_hat = x
        else:
            eps = _eps(eps_model, eps_fn, process, x, i_prev)
            x0_hat = process.x0_from_eps(x, i_prev, eps)
            if clip_x0:
                x0_hat = x0_hat.clamp(-1, 1)
                eps = process.eps_from_x0(x, i_prev, x0_hat)
        i = torch.full((n,), k, device=x.device, dtype=torch.long)
        ab = _extract(process.alpha_bar, i, x)
        x = ab.sqrt() * x0_hat + (1 - ab).sqrt() * eps
    return x
