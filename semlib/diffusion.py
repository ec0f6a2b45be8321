"""Diffusion processes: the few-step VP schedule of DDGAN, and the many-step Gaussian diffusion (DDPM / DDIM)
that PDAE and Asyrp build on.

A process owns its noise schedule and everything that is a pure function of it (forward noising, training
pairs, the Gaussian posterior, respacing).  Networks never see betas.
"""
from __future__ import annotations

import copy

import torch


def vp_alpha_bar(t: torch.Tensor, beta_min: float = 0.1, beta_max: float = 20.0) -> torch.Tensor:
    """Cumulative signal of the VP-SDE: alpha_bar(t) = exp(-0.5 t^2 (b_max - b_min) - t b_min)."""
    return torch.exp(-0.5 * t**2 * (beta_max - beta_min) - t * beta_min)


def ddgan_betas(num_timesteps: int, beta_min: float = 0.1, beta_max: float = 20.0,
                eps_small: float = 1e-3) -> torch.Tensor:
    """DDGAN's discretised VP schedule, with the dummy beta_0 = 1e-8 placed first (length T + 1).

    t_k = (k / T)(1 - eps_small) + eps_small, beta_k = 1 - alpha_bar(t_k) / alpha_bar(t_{k-1}).
    """
    k = torch.arange(num_timesteps + 1, dtype=torch.float64)
    t = k / num_timesteps * (1.0 - eps_small) + eps_small
    ab = vp_alpha_bar(t, beta_min, beta_max)
    betas = 1.0 - ab[1:] / ab[:-1]
    return torch.cat([torch.tensor([1e-8], dtype=torch.float64), betas])


def _extract(a: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gather a[t] per sample and broadcast to x's shape."""
    return a.to(x.device, x.dtype)[t].view(-1, *([1] * (x.dim() - 1)))


class DDGANProcess:
    """The T-step diffusion of DDGAN (Xiao et al. 2022), indexed as in the reference code.

    Index convention (their issue #11): a training pair is (x_t, x_{t+1}) for integer t in
    [0, T-1]; the generator G(x_{t+1}, t, z) and the discriminator D(x_t, t, x_{t+1}) receive
    the index t of the *target* x_t.  x at index 0 is (almost) the clean image.
    """

    def __init__(self, num_timesteps: int = 4, beta_min: float = 0.1, beta_max: float = 20.0):
        self.T = int(num_timesteps)
        self.beta_min, self.beta_max = beta_min, beta_max
        betas_d = ddgan_betas(self.T, beta_min, beta_max)          # with dummy, length T + 1
        # marginal q(x_t | x_0): products over the betas including the dummy (as the reference)
        self.betas_with_dummy = betas_d
        self.sqrt_alpha = torch.sqrt(1.0 - betas_d)                 # a_s
        self.sigma = torch.sqrt(betas_d)                            # sigmas
        ab = torch.cumprod(1.0 - betas_d, 0)
        self.sqrt_alpha_bar = torch.sqrt(ab)                        # a_s_cum
        self.sqrt_one_minus_alpha_bar = torch.sqrt(1.0 - ab)        # sigmas_cum
        # posterior q(x_t | x_{t+1}, x_0): standard DDPM posterior on the betas WITHOUT the dummy
        betas = betas_d[1:]
        alphas = 1.0 - betas
        ab_p = torch.cumprod(alphas, 0)
        ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), ab_p[:-1]])
        self.post_coef_x0 = betas * torch.sqrt(ab_prev) / (1.0 - ab_p)               # c1
        self.post_coef_xtp1 = (1.0 - ab_prev) * torch.sqrt(alphas) / (1.0 - ab_p)    # c2
        self.post_var = betas * (1.0 - ab_prev) / (1.0 - ab_p)
        self.post_log_var = torch.log(self.post_var.clamp(min=1e-20))

    def to(self, device) -> "DDGANProcess":
        """A copy whose coefficient tensors live on `device` (a CUDA graph cannot copy them from the host)."""
        new = copy.copy(self)
        for k, v in vars(self).items():
            if isinstance(v, torch.Tensor):
                setattr(new, k, v.to(device))
        return new

    # ----------------------------------------------------------------- forward
    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return (_extract(self.sqrt_alpha_bar, t, x0) * x0
                + _extract(self.sqrt_one_minus_alpha_bar, t, x0) * noise)

    def q_sample_pairs(self, x0: torch.Tensor, t: torch.Tensor,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A training pair: x_t = q_sample(x0, t), x_{t+1} = sqrt(1 - beta_{t+1}) x_t + sqrt(beta_{t+1}) eps'."""
        x_t = self.q_sample(x0, t, generator=generator)
        return x_t, self.q_step(x_t, t, generator=generator)

    def q_step(self, x_t: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """One forward step q(x_{t+1} | x_t): sqrt(1 - beta_{t+1}) x_t + sqrt(beta_{t+1}) eps."""
        if noise is None:
            noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return _extract(self.sqrt_alpha, t + 1, x_t) * x_t + _extract(self.sigma, t + 1, x_t) * noise

    # --------------------------------------------------------------- posterior
    def posterior(self, x0: torch.Tensor, x_tp1: torch.Tensor, t: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(x_t | x_{t+1}, x_0) (DDPM Eq. 7)."""
        mean = _extract(self.post_coef_x0, t, x0) * x0 + _extract(self.post_coef_xtp1, t, x0) * x_tp1
        return mean, _extract(self.post_log_var, t, x0)

    def sample_posterior(self, x0: torch.Tensor, x_tp1: torch.Tensor, t: torch.Tensor,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """x_t ~ q(x_t | x_{t+1}, x_0); no noise is added at the last step (t = 0)."""
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return self.posterior_step(x0, x_tp1, t, noise)

    def posterior_step(self, x0: torch.Tensor, x_tp1: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """sample_posterior with its noise given (a pure function: semlib.fastpath pre-draws the noise so that the whole
        sampling loop can be compiled or captured as one CUDA graph)."""
        mean, log_var = self.posterior(x0, x_tp1, t)
        nonzero = (t != 0).to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
        return mean + nonzero * torch.exp(0.5 * log_var) * noise

    def sample_t(self, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform integer index t in [0, T-1] for a batch of training pairs."""
        return torch.randint(0, self.T, (n,), generator=generator, device=device)

    def __repr__(self) -> str:
        b = ", ".join(f"{v:.4g}" for v in self.betas_with_dummy.tolist())
        return f"DDGANProcess(T={self.T}, betas=[{b}])"



# ============================================================================ DDPM / DDIM (the DPM base)
def linear_betas(num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """DDPM's linear schedule (Ho et al. 2020): betas evenly spaced from beta_start to beta_end (float64)."""
    return torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)


def cosine_betas(num_timesteps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """The cosine schedule (Nichol & Dhariwal 2021): alpha_bar(t) = f(t) / f(0), f(t) = cos^2((t/T + s)/(1 + s) pi/2),
    beta_t = 1 - alpha_bar(t + 1) / alpha_bar(t), clipped at max_beta (float64)."""
    t = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
    f = torch.cos((t + s) / (1 + s) * torch.pi / 2) ** 2
    return (1.0 - f[1:] / f[:-1]).clamp(max=max_beta)


class GaussianDiffusion:
    """A T-step Gaussian diffusion with epsilon prediction, indexed as in DDPM's code: step i in [0, T-1],
    x_i = sqrt(alpha_bar_i) x_0 + sqrt(1 - alpha_bar_i) eps, alpha_bar_i = prod_{j <= i} (1 - beta_j).

    `timesteps[i]` is the index the network is conditioned on at step i: i itself, or, for a respaced process
    (DDIM with K < T steps, `respace`), the original step it came from.  Samplers are the pure functions
    `ddpm_sample`, `ddim_sample` and `ddim_invert` in semlib.samplers.
    """

    def __init__(self, betas: torch.Tensor, timesteps: torch.Tensor | None = None):
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.dim() != 1 or not len(betas) or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas must be a non-empty 1-D sequence in (0, 1)")
        self.betas = betas
        self.T = len(betas)
        self.timesteps = torch.arange(self.T) if timesteps is None else torch.as_tensor(timesteps, dtype=torch.long)
        if len(self.timesteps) != self.T:
            raise ValueError(f"{len(self.timesteps)} timesteps for {self.T} betas")
        self.alphas = 1.0 - betas
        self.alpha_bar = torch.cumprod(self.alphas, 0)
        self.alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])
        self.sqrt_alpha_bar = self.alpha_bar.sqrt()
        self.sqrt_one_minus_alpha_bar = (1.0 - self.alpha_bar).sqrt()
        # posterior q(x_{i-1} | x_i, x_0) (DDPM Eq. 6-7); at i = 0 the variance is 0, its log is clipped as in DDPM
        self.post_var = betas * (1.0 - self.alpha_bar_prev) / (1.0 - self.alpha_bar)
        self.post_log_var = torch.log(torch.cat([self.post_var[1:2], self.post_var[1:]]) if self.T > 1
                                      else self.post_var.clamp(min=1e-20))
        self.post_coef_x0 = betas * self.alpha_bar_prev.sqrt() / (1.0 - self.alpha_bar)
        self.post_coef_xt = (1.0 - self.alpha_bar_prev) * self.alphas.sqrt() / (1.0 - self.alpha_bar)

    @classmethod
    def linear(cls, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> "GaussianDiffusion":
        return cls(linear_betas(num_timesteps, beta_start, beta_end))

    @classmethod
    def cosine(cls, num_timesteps: int = 1000) -> "GaussianDiffusion":
        return cls(cosine_betas(num_timesteps))

    # ----------------------------------------------------------------- forward and conversions
    def q_sample(self, x0: torch.Tensor, i: torch.Tensor, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        return _extract(self.sqrt_alpha_bar, i, x0) * x0 + _extract(self.sqrt_one_minus_alpha_bar, i, x0) * noise

    def x0_from_eps(self, x_t: torch.Tensor, i: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return (x_t - _extract(self.sqrt_one_minus_alpha_bar, i, x_t) * eps) / _extract(self.sqrt_alpha_bar, i, x_t)

    def eps_from_x0(self, x_t: torch.Tensor, i: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        return (x_t - _extract(self.sqrt_alpha_bar, i, x_t) * x0) / _extract(self.sqrt_one_minus_alpha_bar, i, x_t)

    def posterior(self, x0: torch.Tensor, x_t: torch.Tensor, i: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (clipped at step 0) of q(x_{i-1} | x_i, x_0)."""
        mean = _extract(self.post_coef_x0, i, x0) * x0 + _extract(self.post_coef_xt, i, x0) * x_t
        return mean, _extract(self.post_log_var, i, x0)

    def snr(self, i: torch.Tensor) -> torch.Tensor:
        """Signal-to-noise ratio alpha_bar / (1 - alpha_bar) at step i (float64)."""
        ab = self.alpha_bar[i]
        return ab / (1.0 - ab)

    def sample_t(self, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randint(0, self.T, (n,), generator=generator, device=device)

    def model_t(self, i: torch.Tensor) -> torch.Tensor:
        """The timestep the network sees at step i (the original index for a respaced process)."""
        return self.timesteps.to(i.device)[i]

    # ----------------------------------------------------------------- respacing
    def respace(self, keep) -> "GaussianDiffusion":
        """The process on a subset of steps (sorted, unique indices into this one) with the same alpha_bar at
        every kept step: beta'_k = 1 - alpha_bar[keep_k] / alpha_bar[keep_{k-1}] (alpha_bar before the first = 1)."""
        keep = torch.as_tensor(sorted({int(k) for k in keep}), dtype=torch.long)
        if not len(keep) or keep[0] < 0 or keep[-1] >= self.T:
            raise ValueError(f"steps to keep must lie in [0, {self.T - 1}]")
        ab = self.alpha_bar[keep]
        ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])
        return GaussianDiffusion(1.0 - ab / ab_prev, timesteps=self.timesteps[keep])

    def ddim_steps(self, k: int) -> "GaussianDiffusion":
        """K evenly spaced steps for DDIM: indices round(linspace(0, T - 1, K))."""
        if not 1 <= k <= self.T:
            raise ValueError(f"K must be in [1, {self.T}], got {k}")
        return self.respace(torch.linspace(0, self.T - 1, k).round().long().tolist())

    def __repr__(self) -> str:
        return (f"GaussianDiffusion(T={self.T}, beta {self.betas[0]:.3g}..{self.betas[-1]:.3g}, "
                f"alpha_bar {self.alpha_bar[0]:.4g}..{self.alpha_bar[-1]:.3g})")
