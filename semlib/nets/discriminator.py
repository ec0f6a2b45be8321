"""DDGAN's time-conditioned pair discriminator D(x_t, t, x_{t+1})."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import MinibatchStd, TimeEmbedding


class DownBlock(nn.Module):
    """LeakyReLU-conv, + time bias, LeakyReLU-conv, average-pool down, residual 1x1 skip."""

    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, down: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.temb = nn.Linear(temb_dim, out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.down = down

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(x, 0.2)) + self.temb(temb)[:, :, None, None]
        h = self.conv2(F.leaky_relu(h, 0.2))
        s = self.skip(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return (h + s) / math.sqrt(2.0)


class PairDiscriminator(nn.Module):
    """Concatenate (x_t, x_{t+1}) on channels; every block gets the time embedding;
    minibatch std, a last conv, sum pooling over space, linear head -> one logit per pair."""

    def __init__(self, *, resolution: int = 32, in_ch: int = 3, ch: int = 64,
                 ch_mult: tuple[int, ...] = (1, 2, 2, 2), t_emb_dim: int = 128):
        super().__init__()
        self.time_embed = TimeEmbedding(t_emb_dim, t_emb_dim, act=lambda: nn.LeakyReLU(0.2))
        self.conv_in = nn.Conv2d(2 * in_ch, ch, 1)
        blocks, cur = [], ch
        for i, m in enumerate(ch_mult):
            blocks.append(DownBlock(cur, ch * m, t_emb_dim, down=(resolution >> i) > 4))
            cur = ch * m
        self.blocks = nn.ModuleList(blocks)
        self.mbstd = MinibatchStd(group_size=4, num_features=1)
        self.conv_out = nn.Conv2d(cur + 1, cur, 3, padding=1)
        self.head = nn.Linear(cur, 1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, x_tp1: torch.Tensor) -> torch.Tensor:
        temb = F.leaky_relu(self.time_embed(t), 0.2)
        h = self.conv_in(torch.cat([x_t, x_tp1], dim=1))
        for b in self.blocks:
            h = b(h, temb)
        h = F.leaky_relu(self.conv_out(self.mbstd(h)), 0.2)
        return self.head(h.sum(dim=[2, 3])).squeeze(1)
