"""The DPM base: a many-step Gaussian diffusion with epsilon prediction (DDPM training, DDIM / DDPM sampling,
DDIM inversion), trained through semlib.train like every method.

    dpm = DPM(dpm_preset("cpu"), in_ch=3)
    fit(dpm, dataset, run_dir)
    x = dpm.sample(100, k=50)                    # DDIM, NFE = 50
    x_T = dpm.invert(x0, k=100)                  # deterministic DDIM inversion

The same class is a latent DPM (an LDM) when config.space = "latent": the U-Net diffuses the latents of a trained
autoencoder (semlib.spaces.LatentSpace, the one LDDGAN uses); batches are encoded in the training step, `sample`
and `generate` decode, `invert` encodes first.  Images go in and come out either way; `data_shape` is what the
network sees.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import DPMConfig
from ..diffusion import GaussianDiffusion
from ..ema import SingleNetMethod, make_ema
from ..nets import UNet
from ..samplers import ddim_invert, ddim_sample, ddpm_sample


class DPM(SingleNetMethod):
    def __init__(self, config: DPMConfig, in_ch: int = 3, seed: int | None = None, space=None):
        """in_ch: channels of the images; space: a semlib.spaces object (default: made from config.space; the latent
        space loads config.autoencoder)."""
        from .ddgan import bind_space
        self.space, config = bind_space(config, space)
        self.config, self.in_ch = config, in_ch
        self.data_shape = self.space.shape(in_ch, config.resolution)       # (channels, side) the network sees
        ch_net, res_net = self.data_shape
        levels = 2 ** (len(config.ch_mult) - 1)
        if res_net % levels:
            raise ValueError(f"the network sees {res_net} px ({self.space.name} space): must be divisible by {levels} "
                             f"(ch_mult={config.ch_mult})")
        torch.manual_seed(config.seed if seed is None else seed)
        c = config
        self.process = (GaussianDiffusion.linear(c.num_timesteps, c.beta_start, c.beta_end) if c.schedule == "linear"
                        else GaussianDiffusion.cosine(c.num_timesteps))
        self.net = UNet(resolution=res_net, in_ch=ch_net, out_ch=ch_net, ch=c.ch, ch_mult=c.ch_mult,
                        num_res_blocks=c.num_res_blocks, attn_resolutions=c.attn_resolutions, dropout=c.dropout,
                        nz=0, out_act="none", num_classes=c.num_classes)
        self.net_ema = make_ema(self.net)
        self._opts: dict[str, torch.optim.Optimizer] | None = None


    def loss(self, net, x0: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """DDPM's simple loss: || eps - eps_theta(x_t, t) ||^2 for uniform t (mean over pixels and batch)."""
        i = self.process.sample_t(x0.shape[0], x0.device, generator)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = self.process.q_sample(x0, i, noise)
        return F.mse_loss(net(x_t, self.process.model_t(i), None, self._labels(y)), noise)

    def training_step(self, x0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        if self.space.name != "pixel":
            with torch.no_grad():
                x0 = self.space.encode(x0)
        opt = self.optimizers()["net"]
        opt.zero_grad(set_to_none=True)
        loss = self.loss(nets["net"], x0, y, generator)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip or float("inf"))
        opt.step()
        return {"loss": loss.detach(), "gnorm": gnorm.detach()}

    def _labels(self, y):
        return y.long() if self.config.num_classes > 0 else None

    # ---------------------------------------------------------------- sampling and inversion
    def eps_model(self, ema: bool = True, y: torch.Tensor | None = None):
        """eps_model(x_t, t) of the (EMA) network, for the samplers (y: labels of a conditional model)."""
        net = (self.net_ema if ema else self.net).eval()
        return lambda x, t: net(x, t, None, y[: x.shape[0]] if y is not None else None)

    def sampling_process(self, k: int | None = None) -> GaussianDiffusion:
        """The process on K evenly spaced steps (K = T: all of them)."""
        k = k or self.config.ddim_steps
        return self.process if k == self.process.T else self.process.ddim_steps(k)

    @torch.no_grad()
    def sample(self, n: int, *, k: int | None = None, eta: float | None = None, sampler: str = "ddim",
               generator: torch.Generator | None = None, ema: bool = True, device=None, batch_size: int = 500,
               y: torch.Tensor | None = None) -> torch.Tensor:
        """n images in [-1, 1]: DDIM with K steps and eta (defaults from the config), or sampler='ddpm' (all T)."""
        net = self.net_ema if ema else self.net
        device = device or next(net.parameters()).device
        (c, r), out = self.data_shape, []
        for i in range(0, n, batch_size):
            b = min(batch_size, n - i)
            yb = y[i:i + b].to(device) if y is not None else None
            x_T = torch.randn(b, c, r, r, generator=generator, device=device)
            if sampler == "ddpm":
                out.append(self.decode(ddpm_sample(self.eps_model(ema, yb), self.process, x_T, generator=generator)))
            else:
                out.append(self.decode(ddim_sample(self.eps_model(ema, yb), self.sampling_process(k), x_T,
                                                   eta=self.config.eta if eta is None else eta, generator=generator)))
        return torch.cat(out).clamp(-1, 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> what the network diffuses (the identity in pixel space)."""
        return x if self.space.name == "pixel" else self.space.encode(x)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """What the network diffuses -> images (the identity in pixel space; differentiable through the decoder)."""
        return y if self.space.name == "pixel" else self.space.decode(y)

    @torch.no_grad()
    def invert(self, x0: torch.Tensor, *, k: int | None = None, ema: bool = True,
               y: torch.Tensor | None = None) -> torch.Tensor:
        """x_T of images x0 by deterministic DDIM inversion over K steps (`generate` from it reconstructs x0; in the
        latent space x_T is a latent and the reconstruction goes through the autoencoder)."""
        return ddim_invert(self.eps_model(ema, y), self.sampling_process(k), self.encode(x0))

    @torch.no_grad()
    def generate(self, x_T: torch.Tensor, *, k: int | None = None, eta: float = 0.0, ema: bool = True,
                 generator: torch.Generator | None = None, y: torch.Tensor | None = None) -> torch.Tensor:
        """Images decoded from given x_T by DDIM with K steps (eta 0: the inverse of `invert`)."""
        return self.decode(ddim_sample(self.eps_model(ema, y), self.sampling_process(k), x_T, eta=eta,
                                       generator=generator)).clamp(-1, 1)

    def nfe(self, k: int | None = None) -> int:
        return self.sampling_process(k).T
