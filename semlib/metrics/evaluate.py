"""Sample-quality evaluation: FID + improved precision/recall in one call."""
from __future__ import annotations

import torch

from .fid import fid_from_features
from .prdc import precision_recall

__all__ = ["compute_features", "evaluate_samples"]


@torch.no_grad()
def compute_features(extractor, images_or_dataset, batch_size: int = 256) -> torch.Tensor:
    """``(N, D)`` float32 features of an image tensor (NCHW in [-1, 1]) or a
    dataset (``.images`` tensor, ``get_batch(idx)`` or ``__getitem__``),
    streamed in batches; nothing is cached."""
    x = images_or_dataset
    if isinstance(x, torch.Tensor):
        return extractor.features(x, batch_size=batch_size)
    images = getattr(x, "images", None)
    if isinstance(images, torch.Tensor):
        return extractor.features(images, batch_size=batch_size)
    n = len(x)
    out = []
    for i in range(0, n, batch_size):
        idx = torch.arange(i, min(i + batch_size, n))
        if hasattr(x, "get_batch"):
            imgs = x.get_batch(idx)[0]
        else:
            items = [x[int(j)] for j in idx]
            imgs = torch.stack([it[0] if isinstance(it, (tuple, list)) else it for it in items])
        out.append(extractor.features(imgs, batch_size=batch_size))
    return torch.cat(out) if out else torch.zeros(0, getattr(extractor, "feature_dim", 0) or 0)


def evaluate_samples(
    fake_images,
    real_images,
    extractor,
    *,
    k: int = 3,
    batch_size: int = 256,
    real_features: torch.Tensor | None = None,
) -> dict:
    """FID / precision / recall of ``fake_images`` against ``real_images``.

    Both are NCHW tensors in [-1, 1] (or datasets); pass ``real_features`` to
    reuse precomputed real features.  Keys are suffixed with the extractor's
    name: ``FID_dom``, ``precision_dom``, ``recall_dom`` (or ``_inception``),
    plus ``n_fake``, ``n_real``, ``k``.  Note FID is biased upwards for small N:
    compare numbers only at equal ``n_fake``/``n_real``.
    """
    name = extractor.name
    f_fake = compute_features(extractor, fake_images, batch_size)
    f_real = real_features if real_features is not None else compute_features(extractor, real_images, batch_size)
    pr = precision_recall(f_real, f_fake, k=k)
    return {
        f"FID_{name}": fid_from_features(f_real, f_fake),
        f"precision_{name}": pr["precision"],
        f"recall_{name}": pr["recall"],
        "n_fake": int(f_fake.shape[0]),
        "n_real": int(f_real.shape[0]),
        "k": k,
    }
