"""LPIPS-like perceptual distance on a ``feature_maps`` network, and PPL.

``PerceptualDistance(net)`` with ``net.feature_maps(x) -> list[(N, C_l, H_l, W_l)]``
(e.g. the in-project :class:`~semlib.metrics.extractors.DomainNet`) computes::

    d(x, y) = sum_l mean_{h,w} || f_l(x)_hw / |f_l(x)_hw| - f_l(y)_hw / |f_l(y)_hw| ||^2

i.e. LPIPS with unit channel weights (no learned linear layer).  It is
differentiable (usable as a loss); wrap calls in ``torch.no_grad()`` for metrics.
Metric names carry the network's name, e.g. ``PPL_dom``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn as nn

__all__ = ["PerceptualDistance", "perceptual_path_length", "lerp", "slerp"]


class PerceptualDistance(nn.Module):
    def __init__(self, net: nn.Module, eps: float = 1e-10, layers: list[int] | None = None):
        super().__init__()
        if not hasattr(net, "feature_maps"):
            raise TypeError("PerceptualDistance needs a network with a feature_maps(x) method")
        self.net = net
        self.eps = eps
        self.layers = layers

    @property
    def name(self) -> str:
        return getattr(self.net, "name", "custom")

    def _normalize(self, f: torch.Tensor) -> torch.Tensor:
        norm = torch.sqrt((f * f).sum(dim=1, keepdim=True) + self.eps)
        return f / norm

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape:
            raise ValueError(f"image shapes differ: {tuple(x.shape)} vs {tuple(y.shape)}")
        # one pass over the concatenated batch (identical normalisation for both)
        maps = self.net.feature_maps(torch.cat([x, y], dim=0))
        n = x.shape[0]
        d = x.new_zeros(n, dtype=torch.float32)
        for i, f in enumerate(maps):
            if self.layers is not None and i not in self.layers:
                continue
            f = self._normalize(f.float())
            diff = (f[:n] - f[n:]).pow(2).sum(dim=1)  # (N, H, W)
            d = d + diff.mean(dim=(1, 2))
        return d


def lerp(a, b, t):
    """Linear interpolation; ``t`` is (N,) and broadcast over the trailing dims."""
    if isinstance(a, (tuple, list)):
        return type(a)(lerp(x, y, t) for x, y in zip(a, b))
    tt = t.reshape(-1, *([1] * (a.ndim - 1))).to(a.dtype)
    return a + (b - a) * tt


def slerp(a, b, t, keep_norm: bool = True, eps: float = 1e-7):
    """Spherical interpolation per sample (flattened over trailing dims).

    StyleGAN's slerp returns unit vectors (its mapping network re-normalises z);
    with ``keep_norm=True`` (default) the result is rescaled to the linearly
    interpolated norm, so Gaussian latents such as diffusion noise stay on
    their typical shell.  ``keep_norm=False`` gives StyleGAN's unit vectors.
    """
    if isinstance(a, (tuple, list)):
        return type(a)(slerp(x, y, t, keep_norm, eps) for x, y in zip(a, b))
    shape = a.shape
    af, bf = a.reshape(shape[0], -1), b.reshape(shape[0], -1)
    na, nb = af.norm(dim=1, keepdim=True), bf.norm(dim=1, keepdim=True)
    ua, ub = af / (na + eps), bf / (nb + eps)
    d = (ua * ub).sum(dim=1, keepdim=True).clamp(-1.0, 1.0)
    tt = t.reshape(-1, 1).to(a.dtype)
    p = tt * torch.acos(d)
    c = ub - d * ua
    c = c / (c.norm(dim=1, keepdim=True) + eps)
    out = ua * torch.cos(p) + c * torch.sin(p)
    out = out / (out.norm(dim=1, keepdim=True) + eps)
    if keep_norm:
        out = out * (na + (nb - na) * tt)
    return out.reshape(shape)


@torch.no_grad()
def perceptual_path_length(
    gen_fn: Callable,
    sample_latent_fn: Callable,
    distance: Callable,
    *,
    n: int,
    eps: float = 1e-4,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
    interpolation: str = "lerp",
    sampling: str = "full",
    return_all: bool = False,
):
    """Perceptual path length (Karras et al., StyleGAN 2019, "full" sampling).

    For each of ``n`` pairs of latents ``z0, z1 = sample_latent_fn(b, generator)``
    and ``t ~ U(0, 1)`` (``sampling="end"``: t = 0), computes
    ``distance(gen_fn(z(t)), gen_fn(z(t + eps))) / eps**2`` with ``z(t)``
    the ``lerp``/``slerp`` interpolation; drops values outside the
    [1st, 99th] percentiles (as StyleGAN) and returns the mean.

    Args:
        gen_fn: ``latent -> images``; MUST be deterministic given the latent
            (fix any sampler noise inside it).  It is called once per batch on
            ``cat([z(t), z(t+eps)])``.
        sample_latent_fn: ``(batch_size, generator) -> latent`` tensor (or a
            tuple of tensors interpolated elementwise).
        distance: ``(x, y) -> (N,)`` e.g. :class:`PerceptualDistance`.
        generator: torch.Generator for the latents and t (reproducibility).

    Returns the PPL (float), or ``(ppl, all_distances ndarray)`` if ``return_all``.
    """
    if interpolation not in ("lerp", "slerp"):
        raise ValueError("interpolation must be 'lerp' or 'slerp'")
    if sampling not in ("full", "end"):
        raise ValueError("sampling must be 'full' or 'end'")
    interp = lerp if interpolation == "lerp" else slerp
    dists = []
    done = 0
    while done < n:
        b = min(batch_size, n - done)
        z0 = sample_latent_fn(b, generator)
        z1 = sample_latent_fn(b, generator)
        if sampling == "full":
            t = torch.rand(b, generator=generator, dtype=torch.float64)
        else:
            t = torch.zeros(b, dtype=torch.float64)
        ref = z0[0] if isinstance(z0, (tuple, list)) else z0
        t = t.to(ref.device)
        za = interp(z0, z1, t)
        zb = interp(z0, z1, t + eps)
        if isinstance(za, (tuple, list)):
            z = type(za)(torch.cat([p, q]) for p, q in zip(za, zb))
        else:
            z = torch.cat([za, zb])
        img = gen_fn(z)
        d = distance(img[:b], img[b:]).double() / (eps**2)
        dists.append(d.cpu())
        done += b
    dist = torch.cat(dists).numpy()
    if dist.size >= 3:
        lo = np.percentile(dist, 1, method="lower")
        hi = np.percentile(dist, 99, method="higher")
        kept = dist[(dist >= lo) & (dist <= hi)]
    else:
        kept = dist
    ppl = float(kept.mean())
    return (ppl, dist) if return_all else ppl
