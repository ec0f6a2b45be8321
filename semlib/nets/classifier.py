"""A time-conditioned image classifier p(y | x_t, t) for classifier guidance (Dhariwal & Nichol 2021; PDAE Fig. 3).

    clf = NoisyClassifier(resolution=32, in_ch=1, ch=32, ch_mult=(1, 2, 2), num_classes=10)
    logits = clf(x_t, t)                     # (N, 10)

conv3x3 stem, then per level a residual block (the study's ResBlock, time embedding added) that halves the
resolution after the first level, GroupNorm, SiLU, global average pooling and a linear head.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import ResBlock, TimeEmbedding, group_norm


class NoisyClassifier(nn.Module):
    def __init__(self, *, resolution: int = 32, in_ch: int = 3, ch: int = 32, ch_mult: tuple[int, ...] = (1, 2, 2),
                 num_classes: int = 10):
        super().__init__()
        if resolution % 2 ** (len(ch_mult) - 1):
            raise ValueError(f"resolution {resolution} must be divisible by {2 ** (len(ch_mult) - 1)} (ch_mult {ch_mult})")
        temb = 4 * ch
        self.in_ch, self.resolution, self.num_classes = in_ch, resolution, num_classes
        self.time_embed = TimeEmbedding(ch, temb)
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)
        blocks, cur = [], ch
        for level, m in enumerate(ch_mult):
            blocks.append(ResBlock(cur, ch * m, temb, resample="down" if level > 0 else None))
            cur = ch * m
        self.blocks = nn.ModuleList(blocks)
        self.norm = group_norm(cur)
        self.head = nn.Linear(cur, num_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time_embed(t)
        h = self.conv_in(x)
        for b in self.blocks:
            h = b(h, temb)
        return self.head(F.silu(self.norm(h)).mean(dim=(2, 3)))
