"""A plain convolutional image encoder x -> z (PDDGAN's semantic encoder SE; reusable by PDAE).

    se = ConvEncoder(resolution=32, in_ch=3, ch=32, ch_mult=(1, 2, 2), out_dim=100)
    z = se(x)                                   # (N, 100), x in [-1, 1]

conv3x3 stem, then one stride-2 [conv3x3 -> GroupNorm -> SiLU] block per entry of ch_mult,
flatten, Linear -> out_dim (as the encoders of PDAE / DiffAE-style autoencoders: a few stride-2
conv layers with GroupNorm and SiLU, then a linear map to the latent).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .layers import group_norm


class ConvEncoder(nn.Module):
    def __init__(self, resolution: int = 32, in_ch: int = 3, ch: int = 32,
                 ch_mult: tuple[int, ...] = (1, 2, 2), out_dim: int = 100):
        super().__init__()
        levels = len(ch_mult)
        if levels == 0 or resolution % (2 ** levels) or resolution < 2 ** levels:
            raise ValueError(f"ConvEncoder halves the image {levels} times (one per ch_mult entry); "
                             f"resolution {resolution} must be a multiple of {2 ** levels}. "
                             f"Use a shorter ch_mult.")
        self.resolution, self.in_ch, self.out_dim = resolution, in_ch, out_dim
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)
        blocks: list[nn.Module] = []
        cur = ch
        for mult in ch_mult:
            blocks += [nn.Conv2d(cur, ch * mult, 3, stride=2, padding=1), group_norm(ch * mult), nn.SiLU()]
            cur = ch * mult
        self.blocks = nn.Sequential(*blocks)
        side = resolution // 2 ** levels
        self.out = nn.Linear(cur * side * side, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution or x.shape[1] != self.in_ch:
            raise ValueError(f"ConvEncoder expects (N, {self.in_ch}, {self.resolution}, {self.resolution}) "
                             f"images, got {tuple(x.shape)}")
        h = self.blocks(self.conv_in(x))
        return self.out(h.flatten(1))
