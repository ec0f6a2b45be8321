"""Building blocks shared by every network of the study (one implementation each)."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# ------------------------------------------------------------------------------ initialisation
def variance_scaling_(weight: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """DDPM's default init: variance scaling, fan_avg, uniform; variance = scale * 2 / (fan_in + fan_out)."""
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    bound = math.sqrt(3.0 * scale * 2.0 / (fan_in + fan_out))
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def mark_zero_init(module: nn.Module) -> nn.Module:
    """Tag a layer that the reference initialises with init_scale 0 (zeroed by `ddpm_init_`)."""
    module.zero_init = True
    return module


def ddpm_init_(net: nn.Module) -> nn.Module:
    """The reference initialisation of DDGAN's nets (NCSN++ `default_init`): every conv and linear
    gets variance scaling (scale 1, fan_avg, uniform) and zero bias; layers tagged by
    `mark_zero_init` get zero weights; adaptive group norms get their gamma = 1 / beta = 0 bias back."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            variance_scaling_(m.weight, 0.0 if getattr(m, "zero_init", False) else 1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in net.modules():      # a second pass: modules() yields a norm before its style layer
        if isinstance(m, AdaptiveGroupNorm):
            m.reset_style_bias()
    return net


# ------------------------------------------------------------------------------ FIR resampling
_FIR = (1.0, 3.0, 3.0, 1.0)    # NCSN++ / StyleGAN2 fir_kernel


def _fir_2d(x: torch.Tensor, gain: float) -> torch.Tensor:
    k = torch.tensor(_FIR, dtype=x.dtype, device=x.device)
    k2 = torch.outer(k, k)
    return (gain * k2 / k2.sum()).expand(x.shape[1], 1, 4, 4)


def fir_downsample(x: torch.Tensor) -> torch.Tensor:
    """2x down with the [1,3,3,1] FIR filter (upfirdn2d, down=2, pad 1 each side); depthwise."""
    return F.conv2d(x, _fir_2d(x, 1.0), stride=2, padding=1, groups=x.shape[1])


def fir_upsample(x: torch.Tensor) -> torch.Tensor:
    """2x up with the [1,3,3,1] FIR filter (upfirdn2d, up=2, gain 4); depthwise; keeps constants."""
    return F.conv_transpose2d(x, _fir_2d(x, 4.0), stride=2, padding=1, groups=x.shape[1])


def resample(x: torch.Tensor, how: str | None, filt: str = "fir") -> torch.Tensor:
    """'down' / 'up' / None with the FIR filter ('fir') or box filters ('box': average pool / nearest)."""
    if how is None:
        return x
    if filt not in ("fir", "box"):
        raise ValueError(f"resample filter must be 'fir' or 'box', got {filt!r}")
    if how == "down":
        return fir_downsample(x) if filt == "fir" else F.avg_pool2d(x, 2)
    if how == "up":
        return fir_upsample(x) if filt == "fir" else F.interpolate(x, scale_factor=2.0, mode="nearest")
    raise ValueError(f"resample must be 'down', 'up' or None, got {how!r}")


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (integer or real) timesteps, (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class TimeEmbedding(nn.Module):
    """Sinusoidal embedding of the integer index followed by a 2-layer MLP."""

    def __init__(self, base: int, dim: int, act: type[nn.Module] = nn.SiLU):
        super().__init__()
        self.base = base
        self.mlp = nn.Sequential(nn.Linear(base, dim), act(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t, self.base))


class PixelNorm(nn.Module):
    """Normalise each latent vector to unit RMS (StyleGAN)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class ZMapping(nn.Module):
    """DDGAN's latent mapping: PixelNorm -> Linear(nz, d) -> SiLU -> n_layers x (Linear(d, d), SiLU)."""

    def __init__(self, nz: int, dim: int = 256, n_layers: int = 4):
        super().__init__()
        layers: list[nn.Module] = [PixelNorm(), nn.Linear(nz, dim), nn.SiLU()]
        for _ in range(n_layers):
            layers += [nn.Linear(dim, dim), nn.SiLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def group_norm(ch: int, affine: bool = True) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups of at least 4 channels (the largest such divisor of ch)."""
    groups = max(g for g in range(1, min(32, max(1, ch // 4)) + 1) if ch % g == 0)
    return nn.GroupNorm(groups, ch, eps=1e-6, affine=affine)


class AdaptiveGroupNorm(nn.Module):
    """GroupNorm without affine, then gamma(w) * h + beta(w); gamma starts at 1, beta at 0."""

    def __init__(self, ch: int, style_dim: int):
        super().__init__()
        self.norm = group_norm(ch, affine=False)
        self.style = nn.Linear(style_dim, 2 * ch)
        self.reset_style_bias()

    def reset_style_bias(self) -> None:
        ch = self.style.out_features // 2
        with torch.no_grad():
            self.style.bias[:ch] = 1.0
            self.style.bias[ch:] = 0.0

    def forward(self, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.style(w)[:, :, None, None].chunk(2, dim=1)
        return gamma * self.norm(h) + beta


class ResBlock(nn.Module):
    """DDPM++/NCSN++ residual block: (Ada)GN-SiLU-conv, + time bias, (Ada)GN-SiLU-dropout-conv, skip.

    `style_dim` > 0 makes both norms adaptive to the mapped latent w (DDGAN's generator);
    the output is rescaled by 1/sqrt(2) as NCSN++'s skip_rescale does.
    """

    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, style_dim: int = 0,
                 dropout: float = 0.0, resample: str | None = None, resample_filter: str = "fir"):
        super().__init__()
        self.resample, self.resample_filter = resample, resample_filter
        self.norm1 = AdaptiveGroupNorm(in_ch, style_dim) if style_dim else group_norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.temb = nn.Linear(temb_dim, out_ch)
        self.norm2 = AdaptiveGroupNorm(out_ch, style_dim) if style_dim else group_norm(out_ch)
        self.drop = nn.Dropout(dropout)
        self.conv2 = mark_zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        nn.init.zeros_(self.conv2.weight)   # each block starts as (rescaled) identity
        nn.init.zeros_(self.conv2.bias)
        # NCSN++'s ResnetBlockBigGANpp: a 1x1 skip conv whenever the channels change or the block resamples
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if (in_ch != out_ch or resample) else nn.Identity()

    def _norm(self, norm: nn.Module, h: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        return norm(h, w) if isinstance(norm, AdaptiveGroupNorm) else norm(h)

    def _resample(self, x: torch.Tensor) -> torch.Tensor:
        return resample(x, self.resample, self.resample_filter)

    def forward(self, x: torch.Tensor, temb: torch.Tensor, w: torch.Tensor | None = None,
                zmod: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """zmod = (z_s, z_b), each (N, out_ch): PDAE's latent modulation (1 + z_s) * norm2(h) + z_b of the
        time-conditioned features (semlib.methods.pdae)."""
        h = F.silu(self._norm(self.norm1, x, w))
        h = self._resample(h)
        x = self._resample(x)
        h = self.conv1(h) + self.temb(F.silu(temb))[:, :, None, None]
        h = self._norm(self.norm2, h, w)
        if zmod is not None:
            h = (1 + zmod[0][:, :, None, None]) * h + zmod[1][:, :, None, None]
        h = self.conv2(self.drop(F.silu(h)))
        return (self.skip(x) + h) / math.sqrt(2.0)


class AttnBlock(nn.Module):
    """Single-head self-attention over spatial positions with a residual connection."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm = group_norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = mark_zero_init(nn.Conv2d(ch, ch, 1))
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, hh, ww = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, hh * ww).unbind(1)
        h = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        h = h.transpose(1, 2).reshape(n, c, hh, ww)
        return (x + self.proj(h)) / math.sqrt(2.0)


class MinibatchStd(nn.Module):
    """Append the mean over features of the per-group std as one extra channel (StyleGAN)."""

    def __init__(self, group_size: int = 4, num_features: int = 1):
        super().__init__()
        self.group_size, self.num_features = group_size, num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        while n % g:            # the last partial batch: fall back to a divisor of n
            g -= 1
        f = self.num_features
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(dim=0)).pow(2).mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])            # (n/g, f)
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)
