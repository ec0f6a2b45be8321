"""A ViT backbone with the U-Net's interface, for LDDGAN-T12 (004 Table 12: "ViT-based U-Net").

    G = ViTGenerator(resolution=16, in_ch=4, out_ch=4, dim=256, depth=8, heads=4, patch=2, nz=50)
    x0 = G(x_t, t, z)                       # same call as semlib.nets.UNet: (N, C, H, W), int t, latent z

U-ViT's layout (Bao et al. 2023): the image cut into patches and embedded, the time and the mapped latent z as two
extra tokens, transformer blocks (timm's `Block`: pre-norm attention and MLP) with long skips from the first half to
the second (concatenated, then a linear layer), a linear head back to patches and a 3x3 conv.  A
zero-initialised output conv, so G predicts x_0 = 0 at initialisation, as the reference's U-Net does.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from timm.models.vision_transformer import Block

from .layers import TimeEmbedding, ZMapping, mark_zero_init


class ViTGenerator(nn.Module):
    def __init__(self, *, resolution: int = 16, in_ch: int = 4, out_ch: int = 4, dim: int = 256, depth: int = 8,
                 heads: int = 4, patch: int = 2, mlp_ratio: float = 4.0, nz: int = 100, z_emb_dim: int = 256,
                 n_mlp: int = 4, out_act: str = "tanh"):
        super().__init__()
        if resolution % patch:
            raise ValueError(f"resolution {resolution} is not divisible by the patch size {patch}")
        if depth % 2:
            raise ValueError(f"depth must be even (long skips pair the first half with the second), got {depth}")
        self.resolution, self.in_ch, self.out_ch, self.nz, self.patch = resolution, in_ch, out_ch, nz, patch
        self.out_act = out_act
        self.conv_in = nn.Conv2d(in_ch, dim, patch, stride=patch)          # patch embedding
        n = (resolution // patch) ** 2
        self.pos = nn.Parameter(torch.zeros(1, n + 2, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.time_embed = TimeEmbedding(dim // 4, dim)
        self.z_map = ZMapping(nz, z_emb_dim, n_mlp) if nz > 0 else None
        self.z_proj = nn.Linear(z_emb_dim, dim) if nz > 0 else None
        half = depth // 2
        self.in_blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, qkv_bias=True) for _ in range(half))
        self.mid = Block(dim, heads, mlp_ratio, qkv_bias=True)
        self.out_blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, qkv_bias=True) for _ in range(half))
        self.skips = nn.ModuleList(nn.Linear(2 * dim, dim) for _ in range(half))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch * patch * out_ch)
        self.conv_out = mark_zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1))   # G = 0 at the start
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        p = self.patch
        tok = self.conv_in(x).flatten(2).transpose(1, 2)                     # (B, n, dim)
        extra = [self.time_embed(t)[:, None]]
        if self.z_map is not None:
            if z is None:
                raise ValueError("this generator takes a latent z (nz > 0)")
            extra.append(self.z_proj(self.z_map(z))[:, None])
        else:
            extra.append(torch.zeros_like(extra[0]))
        hcur = torch.cat([*extra, tok], dim=1) + self.pos
        skips = []
        for blk in self.in_blocks:
            hcur = blk(hcur)
            skips.append(hcur)
        hcur = self.mid(hcur)
        for blk, lin in zip(self.out_blocks, self.skips):
            hcur = blk(lin(torch.cat([hcur, skips.pop()], dim=-1)))
        out = self.head(self.norm(hcur))[:, 2:]                              # drop the time and z tokens
        out = out.reshape(b, h // p, w // p, p, p, self.out_ch).permute(0, 5, 1, 3, 2, 4).reshape(b, self.out_ch, h, w)
        out = self.conv_out(out)
        return torch.tanh(out) if self.out_act == "tanh" else out
