"""The image autoencoder of LDDGAN's first stage and its patch discriminator (004, Sec. 4.2).

    net = AutoencoderNet(autoencoder_preset("cpu"))
    h = net.encode(x)            # (B, z_ch, H/f, W/f): continuous (vq: before quantisation; kl: the posterior mean)
    x_rec = net.decode(h)        # vq: quantise, then decode; kl: decode; tanh output in [-1, 1]

kind 'vq' follows VQGAN as LDM uses it for diffusion: the quantiser sits at the start of the decoder, so the latent
space the GAN diffuses in is continuous and the decoder snaps it to the codebook.  kind 'kl' has a Gaussian posterior.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import group_norm


class _Res(nn.Module):
    """GN-SiLU-conv, GN-SiLU-conv, 1x1 skip when the width changes."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.n1, self.c1 = group_norm(in_ch), nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.n2, self.c2 = group_norm(out_ch), nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x):
        h = self.c1(F.silu(self.n1(x)))
        h = self.c2(F.silu(self.n2(h)))
        return self.skip(x) + h


class Encoder(nn.Module):
    def __init__(self, in_ch: int, ch: int, ch_mult: tuple[int, ...], num_res_blocks: int, out_ch: int):
        super().__init__()
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)
        layers, c = [], ch
        for i, m in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                layers.append(_Res(c, ch * m))
                c = ch * m
            if i < len(ch_mult) - 1:
                layers.append(nn.Conv2d(c, c, 3, stride=2, padding=1))     # halve
        layers += [_Res(c, c)]
        self.body = nn.Sequential(*layers)
        self.norm_out, self.conv_out = group_norm(c), nn.Conv2d(c, out_ch, 3, padding=1)

    def forward(self, x):
        return self.conv_out(F.silu(self.norm_out(self.body(self.conv_in(x)))))


class Decoder(nn.Module):
    def __init__(self, out_ch: int, ch: int, ch_mult: tuple[int, ...], num_res_blocks: int, z_ch: int):
        super().__init__()
        c = ch * ch_mult[-1]
        self.conv_in = nn.Conv2d(z_ch, c, 3, padding=1)
        layers = [_Res(c, c)]
        for i, m in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                layers.append(_Res(c, ch * m))
                c = ch * m
            if i > 0:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, c, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        self.norm_out, self.conv_out = group_norm(c), nn.Conv2d(c, out_ch, 3, padding=1)

    def forward(self, z):
        return torch.tanh(self.conv_out(F.silu(self.norm_out(self.body(self.conv_in(z))))))


class VectorQuantizer(nn.Module):
    """Nearest-codebook quantisation with the straight-through gradient, the codebook loss
    |sg(z) - e|^2 and the commitment loss beta |z - sg(e)|^2 (VQ-VAE).  The codebook is initialised from the
    first batch of encoder outputs it sees (random rows), so that no code starts dead."""

    def __init__(self, n_embed: int, dim: int, beta: float = 0.25):
        super().__init__()
        self.embed = nn.Embedding(n_embed, dim)
        nn.init.uniform_(self.embed.weight, -1.0 / n_embed, 1.0 / n_embed)
        self.beta = beta
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        n = self.embed.num_embeddings
        idx = torch.randint(0, flat.shape[0], (n,), device=flat.device)
        self.embed.weight.copy_(flat[idx] + 1e-3 * torch.randn_like(flat[idx]))
        self.initialised.fill_(True)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        b, c, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        if self.training and not bool(self.initialised):
            self._init_from(flat.detach())
        e = self.embed.weight
        d = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ e.T + e.pow(2).sum(1)[None]
        idx = d.argmin(1)
        zq = e[idx].view(b, h, w, c).permute(0, 3, 1, 2)
        loss = F.mse_loss(zq, z.detach()) + self.beta * F.mse_loss(z, zq.detach())
        zq = z + (zq - z).detach()
        counts = torch.bincount(idx, minlength=e.shape[0]).float()
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum())
        return zq, loss, {"perplexity": perplexity.detach(), "codes_used": (counts > 0).sum().float()}


class AutoencoderNet(nn.Module):
    """Encoder, (quantiser,) decoder and the latent scale factor (a buffer: saved with the weights)."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config
        self.encoder = Encoder(c.in_ch, c.ch, c.ch_mult, c.num_res_blocks, c.z_ch * (2 if c.kind == "kl" else 1))
        self.decoder = Decoder(c.in_ch, c.ch, c.ch_mult, c.num_res_blocks, c.z_ch)
        self.quantizer = VectorQuantizer(c.n_embed, c.z_ch, c.beta_commit) if c.kind == "vq" else None
        self.register_buffer("_scale", torch.full((), float("nan")))

    @property
    def latent_side(self) -> int:
        return self.config.resolution // self.config.f

    @property
    def scale_factor(self) -> float | None:
        v = float(self._scale)
        return None if v != v else v

    def set_scale_factor(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"a scale factor must be > 0, got {value}")
        self._scale.fill_(float(value))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """kl: mean and log-variance (clamped as LDM does) of q(h | x)."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def encode(self, x: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """The continuous latent: vq, the encoder output (before quantisation); kl, the posterior mean
        (sample=True: a posterior sample)."""
        if self.config.kind == "vq":
            return self.encoder(x)
        mean, logvar = self.posterior(x)
        if not sample:
            return mean
        return mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator, device=mean.device)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        if self.quantizer is not None:
            h = self.quantizer(h)[0]
        return self.decoder(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class PatchDiscriminator(nn.Module):
    """PatchGAN (pix2pix's N-layer discriminator, as VQGAN uses it): 4x4 convs, d_layers of them with stride 2,
    BatchNorm after the first, LeakyReLU 0.2; one logit per patch."""

    def __init__(self, in_ch: int, ch: int = 64, n_layers: int = 2):
        super().__init__()
        layers = [nn.Conv2d(in_ch, ch, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = ch
        for i in range(1, n_layers):
            nc = ch * min(2 ** i, 8)
            layers += [nn.Conv2d(c, nc, 4, 2, 1, bias=False), nn.BatchNorm2d(nc), nn.LeakyReLU(0.2)]
            c = nc
        nc = ch * min(2 ** n_layers, 8)
        layers += [nn.Conv2d(c, nc, 4, 1, 1, bias=False), nn.BatchNorm2d(nc), nn.LeakyReLU(0.2),
                   nn.Conv2d(nc, 1, 4, 1, 1)]
        self.net = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)
