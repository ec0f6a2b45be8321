"""DDGAN (Xiao et al. 2022): a conditional GAN per denoising step of a T-step diffusion.

    ddgan = DDGAN(ddgan_preset("cpu"), in_ch=3)
    train(ddgan, dataset, run_dir, ...)             # one shared loop
    x = ddgan.sample(100, generator=g)              # T network evaluations

The same class diffuses in another space (semlib.spaces) with an optional reconstruction term of G:
WDDGAN is config.space = "wavelet" with rec_loss = "fixed" (weight 1); LDDGAN is space = "latent" (a trained
autoencoder, config.autoencoder) with rec_loss = "weighted" (004's Weighted Learning).  Data are encoded per
batch, samples decoded at the end; process, loop and sampler are the pixel DDGAN's.
"""
from __future__ import annotations

import torch
import torch.nn as nn

import dataclasses

from ..config import DDGANConfig
from ..diffusion import DDGANProcess
from ..ema import make_ema
from ..losses import R1Penalty, d_adversarial, g_adversarial, weighted_learning_lambda
from ..nets import PairDiscriminator, PerStepDiscriminator, UNet
from .. import fastpath
from ..samplers import ddgan_sample


def build_generator(cfg: DDGANConfig, in_ch: int, resolution: int | None = None) -> nn.Module:
    """G on in_ch x resolution^2 inputs (the space's channels and side; default the config's images): the U-Net, or
    the ViT backbone of LDDGAN-T12 (same call G(x, t, z))."""
    if cfg.backbone == "vit":
        from ..nets.vit import ViTGenerator
        return ViTGenerator(resolution=resolution or cfg.resolution, in_ch=in_ch, out_ch=in_ch, dim=cfg.vit_dim,
                            depth=cfg.vit_depth, heads=cfg.vit_heads, patch=cfg.vit_patch, nz=cfg.nz,
                            z_emb_dim=cfg.z_emb_dim, n_mlp=cfg.n_mlp, out_act="tanh")
    return UNet(resolution=resolution or cfg.resolution, in_ch=in_ch, out_ch=in_ch, ch=cfg.ch, ch_mult=cfg.ch_mult,
                num_res_blocks=cfg.num_res_blocks, attn_resolutions=cfg.attn_resolutions,
                dropout=cfg.dropout, nz=cfg.nz, z_emb_dim=cfg.z_emb_dim, n_mlp=cfg.n_mlp, out_act="tanh",
                resample_filter=cfg.resample_filter, init=cfg.init)


def build_discriminator(cfg: DDGANConfig, in_ch: int, resolution: int | None = None) -> nn.Module:
    """The pair discriminator D(x_t, t, x_{t+1}): one shared over t of width d_ch (the reference), or with
    cfg.d_ch_by_t one per step t of width d_ch_by_t[t] (PerStepDiscriminator)."""
    def one(ch: int) -> PairDiscriminator:
        return PairDiscriminator(resolution=resolution or cfg.resolution, in_ch=in_ch, ch=ch, ch_mult=cfg.d_ch_mult,
                                 t_emb_dim=cfg.t_emb_dim, resample_filter=cfg.resample_filter, init=cfg.init)
    if cfg.d_ch_by_t:
        return PerStepDiscriminator([one(ch) for ch in cfg.d_ch_by_t])
    return one(cfg.d_ch)


def make_space(config: DDGANConfig):
    """The semlib.spaces object of config.space (the latent space loads config.autoencoder)."""
    from .. import spaces
    if config.space == "pixel":
        return spaces.PixelSpace()
    if config.space == "wavelet":
        return spaces.WaveletSpace()
    if config.autoencoder is None:
        raise ValueError("space='latent' needs a trained autoencoder: set config.autoencoder to its checkpoint "
                         "(semlib.methods.autoencoder), or pass space=LatentSpace(ae)")
    from .autoencoder import load_autoencoder
    return spaces.LatentSpace(load_autoencoder(config.autoencoder))


def bind_space(config, space=None):
    """The space of a config (DDGAN's or a DPM's: fields space, autoencoder, autoencoder_sha), made from the config
    unless given, and the config with the autoencoder's fingerprint filled in (a latent run made with other weights
    or another scale factor refuses to go on).  Returns (space, config)."""
    space = space if space is not None else make_space(config)
    if space.name != config.space:
        raise ValueError(f"config.space is {config.space!r} but a {space.name!r} space was passed")
    if space.name == "latent":
        fp = space.fingerprint()
        if config.autoencoder_sha not in (None, fp):
            raise ValueError(f"this latent run was made with autoencoder {config.autoencoder_sha}, but the one given "
                             f"is {fp} (other weights or scale factor): use the run's autoencoder or a new run folder")
        config = dataclasses.replace(config, autoencoder_sha=fp)
    return space, config


def _grad_norm(params) -> torch.Tensor:
    """Global L2 norm of the gradients (before any clipping), logged as gnorm_d / gnorm_g."""
    norms = [p.grad.detach().norm() for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


class DDGAN:
    """Networks, optimisers and one training iteration of DDGAN; the loop lives in semlib.train."""

    def __init__(self, config: DDGANConfig, in_ch: int = 3, seed: int | None = None, space=None):
        """in_ch: channels of the images; space: a semlib.spaces object (default: made from config.space; the
        latent space loads config.autoencoder)."""
        self.space, config = bind_space(config, space)
        self.config = config
        self.in_ch = in_ch
        self.data_ch, self.data_res = self.space.shape(in_ch, config.resolution)   # what G and D see
        torch.manual_seed(config.seed if seed is None else seed)   # reproducible initialisation
        self.process = DDGANProcess(config.num_timesteps, config.beta_min, config.beta_max)
        self.G = build_generator(config, self.data_ch, self.data_res)
        self.D = build_discriminator(config, self.data_ch, self.data_res)
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
        """Indices t of a training batch: uniform in [0, T-1] for DDGAN; with one D per step (d_ch_by_t) stratified
        instead, each t on n / T pairs in random order, so that every step's D sees a batch (and its minibatch std
        a group of four) at every iteration."""
        if self.config.d_ch_by_t:
            return torch.randperm(n, generator=generator, device=device) % self.process.T
        return self.process.sample_t(n, device, generator)

    def rec_lambda(self, step: int) -> float:
        """The weight of G's reconstruction term at this step: 0 (DDGAN), rec_weight ('fixed', WDDGAN) or
        004's Weighted Learning lambda at progress step / steps ('weighted', LDDGAN)."""
        c = self.config
        if c.rec_loss == "none":
            return 0.0
        if c.rec_loss == "fixed":
            return c.rec_weight
        return weighted_learning_lambda(step / max(1, c.steps), c.wl_delta, c.wl_form)

    def generator_extra_losses(self, x0, t, x_t, x_tp1, x0_fake, step, generator) -> dict[str, torch.Tensor]:
        """Extra generator loss terms (scalars) added to the adversarial loss: L1(x0', x0) in the space, times
        rec_lambda(step), when config.rec_loss is not 'none' (WDDGAN, LDDGAN); none for DDGAN."""
        if self.config.rec_loss == "none":
            return {}
        return {"l_rec": self.rec_lambda(step) * (x0_fake - x0).abs().mean()}

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
        if self.space.name != "pixel":
            with torch.no_grad():
                x0 = self.space.encode(x0)
        out = self.d_step(x0, step, generator, nets["G"], nets["D"])
        out.update(self.g_step(x0, step, generator, nets["G"], self.D))
        return out

    def _clip_params(self, params) -> None:
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(list(params), self.config.grad_clip)

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, ema: bool = True,
               device: torch.device | None = None, batch_size: int = 500, z_fn=None, fast=None) -> torch.Tensor:
        """n images in [-1, 1] with the T-step sampler (NFE = T); z_fn(t, b) may supply the latents
        (derived methods do: PDDGAN's z_2), else a fresh z ~ N(0, I) per step.  fast: a semlib.fastpath.FastPath
        or the name of one (channels_last, bf16, compile, cuda_graph, ...): the same sampler run faster; G is
        prepared once per option and kept (call `reset_fast_paths()` after changing G's weights)."""
        G = self.G_ema if ema else self.G
        device = device or next(G.parameters()).device
        G.eval()
        fast = fastpath.resolve(fast)
        sampler = None
        if fast is not None:
            key = (fast, ema, str(device))
            cache = self.__dict__.setdefault("_fast_samplers", {})
            if key not in cache:
                cache[key] = fastpath.FastSampler(G, self.process, self.config.nz, fast, device)
            sampler = cache[key]
        out = []
        c, r = self.data_ch, self.data_res
        for i in range(0, n, batch_size):
            b = min(batch_size, n - i)
            x_T = torch.randn(b, c, r, r, generator=generator, device=device)
            if sampler is None:
                y = ddgan_sample(G, self.process, x_T, nz=self.config.nz, generator=generator, z_fn=z_fn)
            else:
                y = sampler(x_T, generator=generator, z_fn=z_fn)
            out.append(self.space.decode(y))
        return torch.cat(out).clamp(-1, 1)

    def reset_fast_paths(self) -> None:
        """Forget the prepared fast samplers (their channels-last copies and graphs hold G's weights as they were)."""
        self.__dict__.pop("_fast_samplers", None)

    @property
    def nfe(self) -> int:
        return self.process.T
