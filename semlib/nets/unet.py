"""NCSN++-style U-Net with optional latent (z) conditioning through adaptive group norm.

Used as DDGAN's generator G(x_{t+1}, t, z) -> x_0 (tanh output) and, with nz = 0, as a plain
time-conditioned U-Net (the DPM's noise predictor; num_classes > 0 adds a label embedding).  The bottleneck h (output of the middle block, "h-space") is reachable:
`encode` returns it with the skip connections, `decode` runs the decoder on a (possibly edited) h
with the original skips.

Against NVlabs' NCSN++ (the DDGAN generator): resampling blocks use the [1,3,3,1] FIR filter with a
1x1 skip conv (resample_filter='box' gives average pool / nearest instead), one attention block per
level at the attention resolutions in both halves, the reference initialisation (init='ddpm':
variance scaling, zero second convs, zero attention output and zero output conv, so an untrained G
predicts x_0 = 0).  Simplifications, recorded so they are not mistaken for the original: no
progressive input/output branches, single-head attention.  Everything named in
IMPLEMENTATION_NOTES.md (z mapping, adaptive GN with gamma initialised at 1, sinusoidal time
embedding + 2-layer MLP added as a per-channel bias, tanh x_0 output, skip rescaling) is as in the
reference.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import AttnBlock, ResBlock, TimeEmbedding, ZMapping, ddpm_init_, group_norm, mark_zero_init


@dataclass
class Bottleneck:
    """What the encoder half hands to the decoder half."""
    h: torch.Tensor                 # middle-block output (h-space)
    skips: list[torch.Tensor]       # encoder activations for the skip connections
    temb: torch.Tensor              # time embedding
    w: torch.Tensor | None          # mapped latent driving adaptive GN (None when nz = 0)


class UNet(nn.Module):
    def __init__(self, *, resolution: int = 32, in_ch: int = 3, out_ch: int = 3, ch: int = 64,
                 ch_mult: tuple[int, ...] = (1, 2, 2), num_res_blocks: int = 2,
                 attn_resolutions: tuple[int, ...] = (16,), dropout: float = 0.0,
                 nz: int = 100, z_emb_dim: int = 256, n_mlp: int = 4, out_act: str = "tanh",
                 resample_filter: str = "fir", init: str = "ddpm", num_classes: int = 0):
        super().__init__()
        self.resolution, self.in_ch, self.out_ch, self.nz = resolution, in_ch, out_ch, nz
        self.out_act = out_act
        temb_dim = 4 * ch
        self.time_embed = TimeEmbedding(ch, temb_dim)
        # class-conditional models (num_classes > 0): a learned label embedding added to the time embedding
        self.class_embed = nn.Embedding(num_classes, temb_dim) if num_classes > 0 else None
        self.z_map = ZMapping(nz, z_emb_dim, n_mlp) if nz > 0 else None
        sd = z_emb_dim if nz > 0 else 0
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)

        # encoder
        self.down = nn.ModuleList()
        chans = [ch]
        cur, res = ch, resolution
        for level, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                blocks = nn.ModuleList([ResBlock(cur, ch * mult, temb_dim, sd, dropout)])
                cur = ch * mult
                if res in attn_resolutions:
                    blocks.append(AttnBlock(cur))
                self.down.append(blocks)
                chans.append(cur)
            if level != len(ch_mult) - 1:
                self.down.append(nn.ModuleList([ResBlock(cur, cur, temb_dim, sd, dropout, resample="down",
                                                         resample_filter=resample_filter)]))
                chans.append(cur)
                res //= 2
        # middle (its output is h-space)
        self.mid = nn.ModuleList([ResBlock(cur, cur, temb_dim, sd, dropout), AttnBlock(cur),
                                  ResBlock(cur, cur, temb_dim, sd, dropout)])
        self.h_channels, self.h_resolution = cur, res
        # decoder
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(ch_mult))):
            for i in range(num_res_blocks + 1):
                blocks = nn.ModuleList([ResBlock(cur + chans.pop(), ch * mult, temb_dim, sd, dropout)])
                cur = ch * mult
                if res in attn_resolutions and i == num_res_blocks:   # NCSN++: one per level, after its blocks
                    blocks.append(AttnBlock(cur))
                self.up.append(blocks)
            if level != 0:
                self.up.append(nn.ModuleList([ResBlock(cur, cur, temb_dim, sd, dropout, resample="up",
                                                       resample_filter=resample_filter)]))
                res *= 2
        self.norm_out = group_norm(cur)
        self.conv_out = mark_zero_init(nn.Conv2d(cur, out_ch, 3, padding=1))
        if init == "ddpm":
            ddpm_init_(self)
        elif init != "torch":
            raise ValueError(f"init must be 'ddpm' or 'torch', got {init!r}")

    @staticmethod
    def _run(blocks: nn.ModuleList, h, temb, w):
        for b in blocks:
            h = b(h, temb, w) if isinstance(b, ResBlock) else b(h)
        return h

    def encoder_features(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor | None = None,
                         y: torch.Tensor | None = None) -> Bottleneck:
        """The encoder half only: `h` is the input of the middle block (PDAE's gradient estimator starts there)."""
        return self.encode(x, t, z, y, middle=False)

    def encode(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor | None = None,
               y: torch.Tensor | None = None, middle: bool = True) -> Bottleneck:
        """Encoder half and middle block: x -> h-space and skips (y: class labels of a conditional model)."""
        temb = self.time_embed(t)
        if self.class_embed is not None:
            if y is None:
                raise ValueError("this U-Net is class-conditional (num_classes > 0): pass y")
            temb = temb + self.class_embed(y)
        w = None
        if self.z_map is not None:
            if z is None:
                raise ValueError("this U-Net is latent-conditioned (nz > 0): pass z")
            w = self.z_map(z)
        h = self.conv_in(x)
        skips = [h]
        for blocks in self.down:
            h = self._run(blocks, h, temb, w)
            skips.append(h)
        if middle:
            h = self._run(self.mid, h, temb, w)
        return Bottleneck(h, skips, temb, w)

    def decode(self, bn: Bottleneck) -> torch.Tensor:
        """Decoder half on bn.h with bn's skip connections."""
        h, skips, temb, w = bn.h, list(bn.skips), bn.temb, bn.w
        for blocks in self.up:
            if blocks[0].resample != "up":
                h = torch.cat([h, skips.pop()], dim=1)
            h = self._run(blocks, h, temb, w)
        h = self.conv_out(F.silu(self.norm_out(h)))
        return torch.tanh(h) if self.out_act == "tanh" else h

    def forward(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor | None = None,
                y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, t, z, y))
