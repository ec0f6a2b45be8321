"""A DPM on codes z (Diff-AE's latent DDIM, PDAE Sec. 4.3): unconditional sampling of z for a decoder such as PDAE's.

    codes = pdae.encode(train_images)                   # (N, D)
    ldpm = LatentDPM(latent_dpm_preset("cpu"), codes)   # normalisation fitted on the codes
    fit(ldpm, ldpm.dataset(), run_dir)                  # the shared loop, on the normalised codes
    z = ldpm.sample(100, k=50)                          # codes on the scale of the training codes

Codes are normalised per dimension by the training codes' mean and spread (stored with the networks, so a
checkpoint carries them); the noise predictor is `semlib.nets.SkipMLP`; DDIM sampling does not clip (codes are
unbounded).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import LatentDPMConfig
from ..diffusion import GaussianDiffusion
from ..ema import SingleNetMethod, make_ema
from ..nets import SkipMLP
from ..samplers import ddim_sample


class CodeNorm(nn.Module):
    """Per-dimension mean and spread of the training codes (buffers, saved with the checkpoint)."""

    def __init__(self, codes: torch.Tensor):
        super().__init__()
        if codes.dim() != 2 or len(codes) < 2:
            raise ValueError(f"need codes (N >= 2, D), got {tuple(codes.shape)}")
        self.register_buffer("mean", codes.float().mean(0))
        self.register_buffer("std", codes.float().std(0).clamp(min=1e-6))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.mean) / self.std

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        return u * self.std + self.mean


class CodeDataset:
    """Normalised codes with the dataset batch interface of the loop (labels optional)."""

    def __init__(self, codes: torch.Tensor, labels: torch.Tensor | None = None):
        self.codes = codes.float()
        self.labels = labels if labels is not None else torch.zeros(len(codes), dtype=torch.long)

    def __len__(self) -> int:
        return len(self.codes)

    def get_batch(self, idx):
        return self.codes[idx], self.labels[idx]


class LatentDPM(SingleNetMethod):
    def __init__(self, config: LatentDPMConfig, codes: torch.Tensor, seed: int | None = None):
        self.config = config
        torch.manual_seed(config.seed if seed is None else seed)
        c = config
        self.process = GaussianDiffusion.linear(c.num_timesteps, c.beta_start, c.beta_end)
        self.norm = CodeNorm(codes)
        self.extra_networks = {"norm": self.norm}       # saved with the checkpoint, not trained
        self.codes = codes
        self.net = SkipMLP(codes.shape[1], hidden=c.hidden, n_layers=c.n_layers)
        self.net_ema = make_ema(self.net)
        self._opts: dict[str, torch.optim.Optimizer] | None = None

    def dataset(self) -> CodeDataset:
        """The normalised training codes, for `semlib.train.fit`."""
        with torch.no_grad():
            return CodeDataset(self.norm(self.codes))


    def training_step(self, u0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        opt = self.optimizers()["net"]
        opt.zero_grad(set_to_none=True)
        i = self.process.sample_t(u0.shape[0], u0.device, generator)
        noise = torch.randn(u0.shape, generator=generator, device=u0.device, dtype=u0.dtype)
        loss = F.mse_loss(nets["net"](self.process.q_sample(u0, i, noise), self.process.model_t(i)), noise)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip or float("inf"))
        opt.step()
        return {"loss": loss.detach(), "gnorm": gnorm.detach()}

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, *, k: int | None = None, eta: float = 0.0, generator: torch.Generator | None = None,
               device=None, ema: bool = True) -> torch.Tensor:
        """n codes on the training codes' scale: DDIM with K steps (default: the config's) and eta, no clipping."""
        net = (self.net_ema if ema else self.net).eval()
        device = device or next(net.parameters()).device
        k = k or self.config.ddim_steps
        proc = self.process if k == self.process.T else self.process.ddim_steps(k)
        u_T = torch.randn(n, self.net.dim, generator=generator, device=device)
        u0 = ddim_sample(lambda u, t: net(u, t), proc, u_T, eta=eta, generator=generator, clip_x0=False)
        return self.norm.to(device).inverse(u0)
