"""DDGAN (Xiao et al. 2022): a conditional GAN per denoising step of a T-step diffusion.

    ddgan = DDGAN(ddgan_preset("cpu"), in_ch=3)
    train(ddgan, dataset, run_dir, ...)             # one shared loop
    x = ddgan.sample(100, generator=g)              # T network evaluations
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import DDGANConfig
from ..diffusion import DDGANProcess
from ..ema import make_ema
from ..losses import R1Penalty, d_adversarial, g_adversarial
from ..nets import PairDiscriminator, UNet
from ..samplers import ddgan_sample


def build_generator(cfg: DDGANConfig, in_ch: int) -> UNet:
    return UNet(resolution=cfg.resolution, in_ch=in_ch, out_ch=in_ch, ch=cfg.ch, ch_mult=cfg.ch_mult,
                num_res_blocks=cfg.num_res_blocks, attn_resolutions=cfg.attn_resolutions,
                dropout=cfg.dropout, nz=cfg.nz, z_emb_dim=cfg.z_emb_dim, n_mlp=cfg.n_mlp, out_act="tanh",
                resample_filter=cfg.resample_filter, init=cfg.init)


def build_discriminator(cfg: DDGANConfig, in_ch: int) -> PairDiscriminator:
    return PairDiscriminator(resolution=cfg.resolution, in_ch=in_ch, ch=cfg.d_ch, ch_mult=cfg.d_ch_mult,
                             t_emb_dim=cfg.t_emb_dim, resample_filter=cfg.resample_filter, init=cfg.init)


def _grad_norm(params) -> torch.Tensor:
    """Global L2 norm of the gradients (before any clipping), logged as gnorm_d / gnorm_g."""
    norms = [p.grad.detach().norm() for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


class DDGAN:
    """Networks, optimisers and one training iteration of DDGAN; the loop lives in semlib.train."""

    def __init__(self, config: DDGANConfig, in_ch: int = 3, seed: int | None = None):
        self.config = config
        self.in_ch = in_ch
        torch.manual_seed(config.seed if seed is None else seed)   # reproducible initialisation
        self.process = DDGANProcess(config.num_timesteps, config.beta_min, config.beta_max)
        self.G = build_generator(config, in_ch)
        self.D = build_discriminator(config, in_ch)
        self.G_ema = make_ema(self.G)
        self.r1 = R1Penalty(config.r1_gamma, config.lazy_reg)
        self._opts: dict[str, torch.optim.Optimizer] | None = None

    # ---------------------------------------------------------------- Method protocol
    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema}

    def trainable(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self._opts is None:
            c = self.config
            self._opts = {"G": torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=(c.beta1, c.beta2)),
                          "D": torch.optim.Adam(self.D.parameters(), lr=c.lr_d, betas=(c.beta1, c.beta2))}
        return self._opts

    def ema_pairs(self) -> dict[str, str]:
        return {"G_ema": "G"}

    # ---------------------------------------------------------------- hooks for derived methods
    def generator_latent(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The z fed to G during training: random for DDGAN (PDDGAN overrides this at t = T-1)."""
        return torch.randn(x0.shape[0], self.config.nz, generator=generator, device=x0.device)

    def training_t(self, step: int, n: int, device, generator: torch.Generator) -> torch.Tensor:
        """Indices t of a training batch: uniform in [0, T-1] for DDGAN."""
        return self.process.sample_t(n, device, generator)

    def generator_extra_losses(self, x0, t, x_t, x_tp1, x0_fake, step, generator) -> dict[str, torch.Tensor]:
        """Extra generator loss terms (scalars) added to the adversarial loss; none for DDGAN."""
        return {}

    def d_step(self, x0, step, generator, G, D) -> dict[str, torch.Tensor]:
        """Discriminator update on a real pair and a fake pair drawn with its own t."""
        opt = self.optimizers()["D"]
        self.D.requires_grad_(True)
        opt.zero_grad(set_to_none=True)
        t = self.training_t(step, x0.shape[0], x0.device, generator)
        x_t, x_tp1 = self.process.q_sample_pairs(x0, t, generator)
        use_r1 = self.r1.active(step)
        x_t.requires_grad_(use_r1)
        d_real = D(x_t, t, x_tp1)
        with torch.no_grad():
            x0_fake = G(x_tp1, t, self.generator_latent(x0, t, generator))
            x_t_fake = self.process.sample_posterior(x0_fake, x_tp1, t, generator)
        d_fake = D(x_t_fake, t, x_tp1)
        loss = d_adversarial(d_real, d_fake).mean()
        out = {"loss_d": loss.detach(), "d_real": d_real.detach().mean(), "d_fake": d_fake.detach().mean()}
        if use_r1:
            r1 = self.r1(d_real, x_t).mean()
            loss = loss + r1
            out["r1"] = r1.detach()
        loss.backward()
        out["gnorm_d"] = _grad_norm(self.D.parameters())
        self._clip_params(self.D.parameters())
        opt.step()
        return out

    def g_step(self, x0, step, generator, G, D_raw) -> dict[str, torch.Tensor]:
        """Generator update through the (frozen) discriminator; D_raw is never DDP-wrapped."""
        opt = self.optimizers()["G"]
        self.D.requires_grad_(False)
        opt.zero_grad(set_to_none=True)
        t = self.training_t(step, x0.shape[0], x0.device, generator)
        x_t, x_tp1 = self.process.q_sample_pairs(x0, t, generator)
        x0_fake = G(x_tp1, t, self.generator_latent(x0, t, generator))
        x_t_fake = self.process.sample_posterior(x0_fake, x_tp1, t, generator)
        adv = g_adversarial(D_raw(x_t_fake, t, x_tp1)).mean()
        extra = self.generator_extra_losses(x0, t, x_t, x_tp1, x0_fake, step, generator)
        loss = adv + sum(extra.values()) if extra else adv
        loss.backward()
        gnorm = _grad_norm(p for group in opt.param_groups for p in group["params"])
        for group in opt.param_groups:
            self._clip_params(group["params"])
        opt.step()
        self.D.requires_grad_(True)
        return {"loss_g": adv.detach(), "gnorm_g": gnorm, **{k: v.detach() for k, v in extra.items()}}

    def training_step(self, x0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        out = self.d_step(x0, step, generator, nets["G"], nets["D"])
        out.update(self.g_step(x0, step, generator, nets["G"], self.D))
        return out

    def _clip_params(self, params) -> None:
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(list(params), self.config.grad_clip)

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, ema: bool = True,
               device: torch.device | None = None, batch_size: int = 500, z_fn=None) -> torch.Tensor:
        """n images in [-1, 1] with the T-step sampler (NFE = T); z_fn(t, b) may supply the latents
        (derived methods do: PDDGAN's z_2), else a fresh z ~ N(0, I) per step."""
        G = self.G_ema if ema else self.G
        device = device or next(G.parameters()).device
        G.eval()
        out = []
        r = self.config.resolution
        for i in range(0, n, batch_size):
            b = min(batch_size, n - i)
            x_T = torch.randn(b, self.in_ch, r, r, generator=generator, device=device)
            out.append(ddgan_sample(G, self.process, x_T, nz=self.config.nz, generator=generator, z_fn=z_fn))
        return torch.cat(out).clamp(-1, 1)

    @property
    def nfe(self) -> int:
        return self.process.T
