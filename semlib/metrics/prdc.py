"""Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019).

Each sample of a reference set gets a hypersphere whose radius is the distance
to its k-th nearest *other* sample of the same set.  A query sample is "covered"
if it lies inside (distance <= radius) at least one hypersphere.

* precision = fraction of fake samples covered by the real manifold
* recall    = fraction of real samples covered by the fake manifold

Distances are exact Euclidean distances, computed block-wise with
``torch.cdist`` (float64 by default) so that memory stays at
``batch_size**2`` entries.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["precision_recall", "knn_radii", "manifold_coverage"]


def _as_tensor(x, dtype, device) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    x = torch.as_tensor(x)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (N, D), got shape {tuple(x.shape)}")
    return x.to(device=device, dtype=dtype)


def _cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # "donot_use_mm" is exact (no |a|^2+|b|^2-2ab cancellation); use it in float32.
    mode = "donot_use_mm_for_euclid_dist" if a.dtype == torch.float32 else "use_mm_for_euclid_dist"
    d = torch.cdist(a, b, compute_mode=mode)
    return d


def knn_radii(feats: torch.Tensor, k: int = 3, batch_size: int = 1024) -> torch.Tensor:
    """Distance of each row to its k-th nearest other row (the row itself is excluded)."""
    n = feats.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must satisfy 1 <= k < number of samples ({n}), got k={k}")
    radii = torch.empty(n, dtype=feats.dtype, device=feats.device)
    for i in range(0, n, batch_size):
        rows = feats[i : i + batch_size]
        # keep the k+1 smallest distances over all column blocks; the smallest
        # of each row is its own distance 0, so index k is the k-th other neighbour.
        best = None
        for j in range(0, n, batch_size):
            d = _cdist(rows, feats[j : j + batch_size])
            cand = d if best is None else torch.cat([best, d], dim=1)
            kk = min(k + 1, cand.shape[1])
            best = torch.topk(cand, kk, dim=1, largest=False).values
        radii[i : i + batch_size] = best[:, k]
    return radii


def manifold_coverage(
    ref: torch.Tensor, ref_radii: torch.Tensor, query: torch.Tensor, batch_size: int = 1024
) -> torch.Tensor:
    """Boolean mask: is each query row inside at least one ref hypersphere?"""
    inside = torch.zeros(query.shape[0], dtype=torch.bool, device=query.device)
    for i in range(0, query.shape[0], batch_size):
        q = query[i : i + batch_size]
        hit = torch.zeros(q.shape[0], dtype=torch.bool, device=query.device)
        for j in range(0, ref.shape[0], batch_size):
            d = _cdist(q, ref[j : j + batch_size])
            hit |= (d <= ref_radii[j : j + batch_size].unsqueeze(0)).any(dim=1)
        inside[i : i + batch_size] = hit
    return inside


def precision_recall(
    real_feats,
    fake_feats,
    k: int = 3,
    batch_size: int = 1024,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> dict:
    """Improved precision / recall between real and fake feature sets.

    Args:
        real_feats, fake_feats: ``(N, D)`` arrays or tensors (same D).
        k: neighbourhood size (paper default 3).
        batch_size: block size for the distance matrices.
        dtype: float64 (default, exact) or float32 (faster on GPU).
        device: where to compute.

    Returns ``dict(precision=float, recall=float, k=k, n_real=.., n_fake=..)``.
    """
    real = _as_tensor(real_feats, dtype, device)
    fake = _as_tensor(fake_feats, dtype, device)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dims differ: {real.shape[1]} vs {fake.shape[1]}")
    real_r = knn_radii(real, k, batch_size)
    fake_r = knn_radii(fake, k, batch_size)
    precision = manifold_coverage(real, real_r, fake, batch_size).double().mean().item()
    recall = manifold_coverage(fake, fake_r, real, batch_size).double().mean().item()
    return dict(precision=precision, recall=recall, k=k, n_real=real.shape[0], n_fake=fake.shape[0])
