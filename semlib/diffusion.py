"""Diffusion processes: the few-step VP schedule of DDGAN.

The process owns the noise schedule and everything that is a pure function of it
(forward noising, training pairs, the Gaussian posterior).  Networks never see betas.
"""
from __future__ import annotations

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
        mean, log_var = self.posterior(x0, x_tp1, t)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        nonzero = (t != 0).to(x0.dtype).view(-1, *([1] * (x0.dim() - 1)))
        return mean + nonzero * torch.exp(0.5 * log_var) * noise

    def sample_t(self, n: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Uniform integer index t in [0, T-1] for a batch of training pairs."""
        return torch.randint(0, self.T, (n,), generator=generator, device=device)

    def __repr__(self) -> str:
        b = ", ".join(f"{v:.4g}" for v in self.betas_with_dummy.tolist())
        return f"DDGANProcess(T={self.T}, betas=[{b}])"

