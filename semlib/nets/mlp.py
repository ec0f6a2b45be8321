"""A time-conditioned MLP with skip connections: the noise predictor of a latent DPM on codes z (Diff-AE's latent
DDIM, used by PDAE for unconditional sampling and few-shot generation).

    net = SkipMLP(dim=64, hidden=512, n_layers=8)
    eps = net(z_t, t)                            # (N, dim)

Each hidden layer reads [h, z_t] (the input is concatenated back in: the "skips"), adds the projected time
embedding, then LayerNorm and SiLU; the output layer reads [h, z_t] too, so eps can grow linearly with z_t (at the
noisy steps eps is close to z_t itself; a head on normalised features alone saturates and lets samples that start
in the Gaussian's tails run away). The output layer starts at zero, so an untrained net predicts eps = 0.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .layers import TimeEmbedding


class SkipMLP(nn.Module):
    def __init__(self, dim: int, hidden: int = 512, n_layers: int = 8, temb_dim: int = 64):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers={n_layers}: at least 1")
        self.dim = dim
        self.time_embed = TimeEmbedding(temb_dim, hidden)
        self.layers = nn.ModuleList(nn.Linear((0 if i == 0 else hidden) + dim, hidden) for i in range(n_layers))
        self.temb = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(n_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(n_layers))
        self.out = nn.Linear(hidden + dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"SkipMLP expects codes (N, {self.dim}), got {tuple(z.shape)}")
        e = nn.functional.silu(self.time_embed(t))
        h = None
        for lin, te, norm in zip(self.layers, self.temb, self.norms):
            h = lin(z if h is None else torch.cat([h, z], dim=1)) + te(e)
            h = nn.functional.silu(norm(h))
        return self.out(torch.cat([h, z], dim=1))
