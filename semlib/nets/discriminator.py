"""DDGAN's time-conditioned pair discriminator D(x_t, t, x_{t+1}), after NVlabs' Discriminator_small/large."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import MinibatchStd, TimeEmbedding, ddpm_init_, mark_zero_init, resample


class DownBlock(nn.Module):
    """DDGAN's DownConvBlock: act, conv3x3, + dense(t_emb), act, downsample (the block input too),
    conv3x3, skip = bias-free 1x1 conv of the (downsampled) input, (out + skip) / sqrt(2)."""

    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, down: bool = True, resample_filter: str = "fir"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.temb = nn.Linear(temb_dim, out_ch)
        self.conv2 = mark_zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.down, self.resample_filter = down, resample_filter

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(x, 0.2)) + self.temb(temb)[:, :, None, None]
        h = F.leaky_relu(h, 0.2)
        if self.down:
            h = resample(h, "down", self.resample_filter)
            x = resample(x, "down", self.resample_filter)
        return (self.conv2(h) + self.skip(x)) / math.sqrt(2.0)


class PairDiscriminator(nn.Module):
    """Concatenate (x_t, x_{t+1}) on channels, 1x1 conv to ch * ch_mult[0]; one DownBlock per entry of
    ch_mult, the last log2(resolution / 4) of which halve the resolution (down to 4x4); minibatch std,
    conv3x3, act, sum over space, linear head -> one logit per pair.  Every block gets the time embedding.

    The reference 32 px discriminator (Discriminator_small) is ch = ngf, ch_mult = (2, 4, 8, 8): its
    first block keeps the resolution.  The 256 px one (Discriminator_large) is ch_mult = (4, 8, 8, 8, 8, 8),
    all blocks downsampling.
    init='ddpm' is the reference initialisation (variance scaling; block conv2 and the last conv zero,
    so D starts at logit 0); init='torch' keeps PyTorch's defaults (about a third of that variance).
    """

    def __init__(self, *, resolution: int = 32, in_ch: int = 3, ch: int = 64,
                 ch_mult: tuple[int, ...] = (2, 4, 8, 8), t_emb_dim: int = 256,
                 resample_filter: str = "fir", init: str = "ddpm"):
        super().__init__()
        self.time_embed = TimeEmbedding(t_emb_dim, t_emb_dim, act=lambda: nn.LeakyReLU(0.2))
        cur = ch * ch_mult[0]
        self.conv_in = nn.Conv2d(2 * in_ch, cur, 1)
        n_down = max(0, int(math.log2(resolution // 4)))
        if n_down > len(ch_mult):
            raise ValueError(f"a {resolution} px discriminator needs at least {n_down} blocks to reach 4x4; "
                             f"d_ch_mult {tuple(ch_mult)} has {len(ch_mult)}")
        blocks, res = [], resolution
        for i, m in enumerate(ch_mult):
            down = i >= len(ch_mult) - n_down
            blocks.append(DownBlock(cur, ch * m, t_emb_dim, down=down, resample_filter=resample_filter))
            cur, res = ch * m, res // 2 if down else res
        self.blocks = nn.ModuleList(blocks)
        self.mbstd = MinibatchStd(group_size=4, num_features=1)
        self.conv_out = mark_zero_init(nn.Conv2d(cur + 1, cur, 3, padding=1))
        self.head = nn.Linear(cur, 1)
        if init == "ddpm":
            ddpm_init_(self)
        elif init != "torch":
            raise ValueError(f"init must be 'ddpm' or 'torch', got {init!r}")

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, x_tp1: torch.Tensor) -> torch.Tensor:
        temb = F.leaky_relu(self.time_embed(t), 0.2)
        h = self.conv_in(torch.cat([x_t, x_tp1], dim=1))
        for b in self.blocks:
            h = b(h, temb)
        h = F.leaky_relu(self.conv_out(self.mbstd(h)), 0.2)
        return self.head(h.sum(dim=[2, 3])).squeeze(1)


class PerStepDiscriminator(nn.Module):
    """One PairDiscriminator per denoising step t (discriminators[t]), each free to have its own width: a D whose
    strength depends on t.  forward routes every pair to its step's D and returns the logits in the batch's order;
    a step with no pair in the batch is skipped.  Not the reference design (one D shared over t): an option of
    issue 7's diagnosis."""

    def __init__(self, discriminators: list[PairDiscriminator]):
        super().__init__()
        self.discriminators = nn.ModuleList(discriminators)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, x_tp1: torch.Tensor) -> torch.Tensor:
        if int(t.max()) >= len(self.discriminators) or int(t.min()) < 0:
            raise ValueError(f"t in [{int(t.min())}, {int(t.max())}] but there are {len(self.discriminators)} "
                             f"per-step discriminators")
        logits, order = [], []
        for k, d in enumerate(self.discriminators):
            idx = (t == k).nonzero(as_tuple=True)[0]
            if idx.numel():
                logits.append(d(x_t[idx], t[idx], x_tp1[idx]))
                order.append(idx)
        return torch.cat(logits)[torch.argsort(torch.cat(order))]
