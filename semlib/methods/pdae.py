"""PDAE (Zhang et al. 2022, seed 002): unsupervised representation learning on a frozen pre-trained DPM by
learning the mean shift that fills its posterior mean gap.

    pdae = PDAE(pdae_preset("cpu"), dpm)          # dpm: a trained semlib DPM (its EMA network is used, frozen)
    fit(pdae, dataset, run_dir)
    z = pdae.encode(x0)                           # E(x_0)
    x_T = pdae.infer_xT(x0, z)                    # DDIM inversion guided by z
    x0_rec = pdae.decode(z, x_T)                  # DDIM guided by z

Training target (the reference code): || eps - (eps_theta(x_t, t) + c_t G(x_t, t, z)) ||^2 weighted by
lambda_t = SNR_t^gamma / (1 + SNR_t), with c_t = -sqrt(alpha_t) (1 - alpha_bar_{t-1}) / sqrt(1 - alpha_bar_t):
the posterior mean then moves by Sigma_t G (the mean shift, in epsilon units).  Sampling and inversion use the
score-shift form eps_hat = eps_theta - sqrt(1 - alpha_bar_t) G.  The two coefficients differ (study/findings.md).
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from ..config import PDAEConfig
from ..diffusion import GaussianDiffusion, _extract
from ..ema import make_ema
from ..nets import Bottleneck, ConvEncoder, ResBlock, UNet
from ..nets.layers import mark_zero_init
from ..samplers import ddim_invert, ddim_sample
from .dpm import DPM


class ClassCode(nn.Module):
    """Labels -> codes: the "encoder" of a class-conditional gradient estimator."""

    def __init__(self, num_classes: int, z_dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, z_dim)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.embed(y.long())


class ShiftPredictor(nn.Module):
    """PDAE's gradient estimator G(x_t, t, z): a trainable copy of a U-Net's middle block and decoder half that
    reads the frozen U-Net's encoder features and skips.  z modulates every residual block of the copy as
    (1 + z_s) norm(h) + z_b (after the block's time-conditioned features; semlib's blocks add the time embedding
    as a bias before the norm, where the reference scales and shifts by it); the z layers and the output conv
    start at zero, so G = 0 and the copy equals the DPM's blocks at the start."""

    def __init__(self, unet: UNet, z_dim: int):
        super().__init__()
        self.z_dim = z_dim
        self.mid = copy.deepcopy(unet.mid)
        self.up = copy.deepcopy(unet.up)
        self.norm_out = copy.deepcopy(unet.norm_out)
        out_ch = unet.conv_out.out_channels
        self.conv_out = mark_zero_init(nn.Conv2d(unet.conv_out.in_channels, out_ch, 3, padding=1))
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        blocks = [b for b in self.mid if isinstance(b, ResBlock)] + [b for bl in self.up for b in bl if isinstance(b, ResBlock)]
        self.zmods = nn.ModuleList(mark_zero_init(nn.Linear(z_dim, 2 * b.conv2.out_channels)) for b in blocks)
        for lin in self.zmods:
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.requires_grad_(True)

    def forward(self, bn: Bottleneck, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (N, {self.z_dim}), got {tuple(z.shape)}")
        mods = iter(self.zmods)

        def run(blocks, h):
            for b in blocks:
                h = b(h, bn.temb, None, next(mods)(z).chunk(2, dim=1)) if isinstance(b, ResBlock) else b(h)
            return h
        h = run(self.mid, bn.h)
        skips = list(bn.skips)
        for blocks in self.up:
            if blocks[0].resample != "up":
                h = torch.cat([h, skips.pop()], dim=1)
            h = run(blocks, h)
        return self.conv_out(torch.nn.functional.silu(self.norm_out(h)))


def pdae_weight(process: GaussianDiffusion, i: torch.Tensor, gamma: float = 0.1) -> torch.Tensor:
    """lambda_t = SNR^gamma / (1 + SNR) (float64, per step index i)."""
    snr = process.snr(i.cpu())
    return (snr ** gamma / (1 + snr)).to(i.device)


def mean_shift_coef(process: GaussianDiffusion) -> torch.Tensor:
    """The training coefficient c_t = -sqrt(alpha_t)(1 - alpha_bar_{t-1}) / sqrt(1 - alpha_bar_t): with
    eps + c_t G in DDPM's posterior mean, the mean moves by exactly Sigma_t G."""
    return -process.alphas.sqrt() * (1 - process.alpha_bar_prev) / (1 - process.alpha_bar).sqrt()


class PDAE:
    """Encoder and gradient estimator trained on a frozen DPM through semlib.train; the DPM's EMA network is the
    pre-trained model and stays bit-identical."""

    def __init__(self, config: PDAEConfig, dpm: DPM, in_ch: int = 3, seed: int | None = None):
        if dpm.space.name != "pixel":
            raise ValueError(f"PDAE is built on a pixel-space DPM; this one diffuses in the {dpm.space.name} space")
        self.config, self.in_ch = config, in_ch
        torch.manual_seed(config.seed if seed is None else seed)
        self.process = dpm.process
        self.unet = dpm.net_ema.eval().requires_grad_(False)       # the pre-trained model, frozen
        c = config
        # a class-conditional G (002 Fig. 9) reads a learned embedding of the label in place of the encoder's code
        self.E = (ClassCode(c.num_classes, c.z_dim) if c.num_classes else
                  ConvEncoder(resolution=c.resolution, in_ch=in_ch, ch=c.enc_ch, ch_mult=c.enc_ch_mult, out_dim=c.z_dim))
        self.G = ShiftPredictor(self.unet, c.z_dim)
        self.E_ema, self.G_ema = make_ema(self.E), make_ema(self.G)
        self.c_t = mean_shift_coef(self.process)
        self._opts: dict[str, torch.optim.Optimizer] | None = None

    # ---------------------------------------------------------------- Method protocol
    def networks(self) -> dict[str, nn.Module]:
        return {"E": self.E, "G": self.G, "E_ema": self.E_ema, "G_ema": self.G_ema, "dpm": self.unet}

    def trainable(self) -> dict[str, nn.Module]:
        return {"E": self.E, "G": self.G}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self._opts is None:
            self._opts = {"EG": torch.optim.Adam([*self.E.parameters(), *self.G.parameters()], lr=self.config.lr)}
        return self._opts

    def ema_pairs(self) -> dict[str, str]:
        return {"E_ema": "E", "G_ema": "G"}

    @torch.no_grad()
    def _frozen(self, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, Bottleneck]:
        """eps_theta(x_t, t) of the frozen DPM and its encoder features (one pass)."""
        self.unet.eval()
        bn = self.unet.encoder_features(x_t, t)
        h = self.unet._run(self.unet.mid, bn.h, bn.temb, None)
        return self.unet.decode(Bottleneck(h, bn.skips, bn.temb, None)), bn

    def loss(self, E, G, x0: torch.Tensor, generator: torch.Generator, y: torch.Tensor | None = None) -> torch.Tensor:
        i = self.process.sample_t(x0.shape[0], x0.device, generator)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = self.process.q_sample(x0, i, noise)
        eps, bn = self._frozen(x_t, self.process.model_t(i))
        shift = _extract(self.c_t, i, x0) * G(bn, E(y.long()) if self.config.num_classes else E(x0))
        per = ((noise - (eps + shift)) ** 2).flatten(1).mean(1)
        return (pdae_weight(self.process, i, self.config.weight_gamma).to(per.dtype) * per).mean()

    def training_step(self, x0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        opt = self.optimizers()["EG"]
        opt.zero_grad(set_to_none=True)
        loss = self.loss(nets["E"], nets["G"], x0, generator, y)
        loss.backward()
        params = [*self.E.parameters(), *self.G.parameters()]
        gnorm = torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip or float("inf"))
        opt.step()
        return {"loss": loss.detach(), "gnorm": gnorm.detach()}

    # ---------------------------------------------------------------- autoencoding
    @torch.no_grad()
    def encode(self, x0: torch.Tensor, ema: bool = True) -> torch.Tensor:
        if self.config.num_classes:
            raise ValueError("this PDAE is class-conditional (num_classes > 0): its codes come from labels, use class_code(y)")
        return (self.E_ema if ema else self.E).eval()(x0)

    @torch.no_grad()
    def class_code(self, y: torch.Tensor, ema: bool = True) -> torch.Tensor:
        """The code of labels y for a class-conditional PDAE."""
        if not self.config.num_classes:
            raise ValueError("this PDAE encodes images (num_classes = 0): use encode(x0)")
        return (self.E_ema if ema else self.E).eval()(y.long())

    def shifted_eps_fn(self, z: torch.Tensor | list[tuple[float, torch.Tensor]], process: GaussianDiffusion, *,
                       ema: bool = True, stop_frac: float | None = None, scale: float = 1.0):
        """eps_fn for the samplers: eps_theta - scale * sqrt(1 - alpha_bar) G(x_t, t, z) (the score-shift form),
        with no shift in the last `stop_frac` of the steps (small indices).  z may be a list of (weight, z_k): the
        shift is then sum_k weight_k G(x_t, t, z_k) (002 Fig. 7's interpolation of the predicted directions)."""
        G = (self.G_ema if ema else self.G).eval()
        stop = self.config.stop_frac if stop_frac is None else stop_frac
        n_stop = int(round(stop * process.T))
        codes = z if isinstance(z, (list, tuple)) else [(1.0, z)]

        def eps_fn(x, i, t):
            eps, bn = self._frozen(x, t)
            if int(i[0]) < n_stop:
                return eps
            shift = sum(w * G(bn, zk[: x.shape[0]]) for w, zk in codes)
            return eps - scale * _extract(process.sqrt_one_minus_alpha_bar, i, x) * shift
        return eps_fn

    def sampling_process(self, k: int | None = None) -> GaussianDiffusion:
        k = k or self.config.ddim_steps
        return self.process if k == self.process.T else self.process.ddim_steps(k)

    @torch.no_grad()
    def infer_xT(self, x0: torch.Tensor, z: torch.Tensor, *, k: int | None = None) -> torch.Tensor:
        """x_T by DDIM inversion guided by z."""
        p = self.sampling_process(k)
        return ddim_invert(None, p, x0, eps_fn=self.shifted_eps_fn(z, p))

    @torch.no_grad()
    def decode(self, z: torch.Tensor | list[tuple[float, torch.Tensor]], x_T: torch.Tensor | None = None, *,
               k: int | None = None, eta: float = 0.0, generator: torch.Generator | None = None,
               stop_frac: float | None = None, scale: float = 1.0) -> torch.Tensor:
        """Images from codes z: DDIM guided by z from x_T (random when None); z may be a list of (weight, z_k)
        (see `shifted_eps_fn`)."""
        p = self.sampling_process(k)
        if x_T is None:
            z0 = z[0][1] if isinstance(z, (list, tuple)) else z
            r = self.config.resolution
            x_T = torch.randn(z0.shape[0], self.in_ch, r, r, generator=generator, device=z0.device)
        return ddim_sample(None, p, x_T, eta=eta, generator=generator,
                           eps_fn=self.shifted_eps_fn(z, p, stop_frac=stop_frac, scale=scale)).clamp(-1, 1)

    # ---------------------------------------------------------------- the posterior mean gap (002 Fig. 5)
    @torch.no_grad()
    def posterior_gap(self, x0: torch.Tensor, steps: list[int], *, generator: torch.Generator | None = None,
                      ema: bool = True, z: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per step index i of `steps`: the mean squared gap between the true posterior mean mu~(x_t, x_0) and the
        model's, for the frozen DPM (eps_theta) and for PDAE (eps_theta + c_t G, the training form, which moves the
        mean by Sigma_t G), each (len(steps), N) per image (mean over pixels); and the one-step x_0 predictions
        (len(steps), N, C, H, W) of both, unclipped, and the x_t they start from.  The same x_t (one noise draw per
        image and step) for both.  z: the codes (default: encode(x0); a class-conditional PDAE needs class_code(y))."""
        z = self.encode(x0, ema=ema) if z is None else z
        G = (self.G_ema if ema else self.G).eval()
        p = self.process
        gaps = {"dpm": [], "pdae": []}
        preds = {"dpm": [], "pdae": []}
        xts = []
        for s in steps:
            if not 0 <= s < p.T:
                raise ValueError(f"step {s} outside [0, {p.T - 1}]")
            i = torch.full((x0.shape[0],), int(s), dtype=torch.long, device=x0.device)
            noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
            x_t = p.q_sample(x0, i, noise)
            xts.append(x_t)
            eps, bn = self._frozen(x_t, p.model_t(i))
            true_mean = p.posterior(x0, x_t, i)[0]
            for name, e in (("dpm", eps), ("pdae", eps + _extract(self.c_t, i, x0) * G(bn, z))):
                x0_hat = p.x0_from_eps(x_t, i, e)
                gaps[name].append((p.posterior(x0_hat, x_t, i)[0] - true_mean).pow(2).flatten(1).mean(1))
                preds[name].append(x0_hat)
        return {"gap_dpm": torch.stack(gaps["dpm"]), "gap_pdae": torch.stack(gaps["pdae"]),
                "x0_dpm": torch.stack(preds["dpm"]), "x0_pdae": torch.stack(preds["pdae"]), "x_t": torch.stack(xts)}


def relative_weightings(process: GaussianDiffusion, gamma: float = 0.1,
                        p2: tuple[tuple[float, float], ...] = ((1.0, 1.0), (0.5, 1.0))) -> dict[str, torch.Tensor]:
    """The weight each scheme puts on step t relative to the true variational bound (002 Fig. 4), normalised to
    sum 1 over the steps (float64, per step index).  An epsilon loss lambda_t || eps - eps_theta ||^2 is the VLB
    term of step t times lambda_t / w_t, with w_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t)) and sigma_t^2
    the posterior variance (its step-0 value clipped to step 1's, as the samplers do).  Schemes: DDPM's simple loss
    (lambda = 1), P2 weighting 1 / (k + SNR)^g for each (g, k) of p2, and PDAE's SNR^gamma / (1 + SNR)."""
    p = process
    var = torch.cat([p.post_var[1:2], p.post_var[1:]]) if p.T > 1 else p.post_var
    w_vlb = p.betas ** 2 / (2 * var * p.alphas * (1 - p.alpha_bar))
    snr = p.alpha_bar / (1 - p.alpha_bar)
    lam = {"DDPM (simple)": torch.ones_like(snr),
           **{f"P2 (gamma {g:g}, k {k:g})": 1 / (k + snr) ** g for g, k in p2},
           f"PDAE (gamma {gamma:g})": snr ** gamma / (1 + snr)}
    out = {}
    for name, l in lam.items():
        r = l / w_vlb
        out[name] = r / r.sum()
    return out
