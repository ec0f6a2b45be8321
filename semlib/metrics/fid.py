"""Fréchet distance between Gaussians fitted to feature sets (FID).

``frechet_distance`` follows the standard (TTUR / pytorch-fid) computation::

    d^2 = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrtm(S1 S2))

using ``scipy.linalg.sqrtm``.  If the product is singular (``sqrtm`` returns
non-finite values) an ``eps * I`` offset is added to both covariances, as in the
reference implementation; a small imaginary part from numerical error is
discarded.  If ``sqrtm`` still yields a large imaginary component we do not
crash the evaluation: the trace term is recomputed with the symmetric,
mathematically equivalent form ``Tr sqrt(sqrt(S1) S2 sqrt(S1))`` (eigenvalues
clipped at 0) and a warning is emitted.

The value depends on the feature extractor, so metric names carry its name,
e.g. ``FID_dom`` (in-project domain network) or ``FID_inception``.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

__all__ = ["feature_stats", "frechet_distance", "fid_from_features"]


def _to_numpy64(x) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            x = x.detach().to("cpu", torch.float64).numpy()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return np.asarray(x, dtype=np.float64)


def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, ``ddof=1``) covariance of an ``(N, D)`` feature array.

    Accepts numpy arrays or torch tensors; returns float64 ``(D,)`` and ``(D, D)``.
    """
    f = _to_numpy64(feats)
    if f.ndim != 2:
        raise ValueError(f"features must be 2-D (N, D), got shape {f.shape}")
    if f.shape[0] < 2:
        raise ValueError(f"need at least 2 samples to estimate a covariance, got {f.shape[0]}")
    mu = f.mean(axis=0)
    sigma = np.cov(f, rowvar=False)
    sigma = np.atleast_2d(sigma)
    return mu, sigma


def _trace_sqrt_product_symmetric(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr sqrtm(S1 S2) computed as Tr sqrt(S1^1/2 S2 S1^1/2) (PSD, real)."""
    w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    w = np.clip(w, 0.0, None)
    s1h = (v * np.sqrt(w)) @ v.T
    m = s1h @ sigma2 @ s1h
    ev = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(ev, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (squared, as in FID)."""
    mu1 = np.atleast_1d(_to_numpy64(mu1))
    mu2 = np.atleast_1d(_to_numpy64(mu2))
    sigma1 = np.atleast_2d(_to_numpy64(sigma1))
    sigma2 = np.atleast_2d(_to_numpy64(sigma2))
    if mu1.shape != mu2.shape:
        raise ValueError(f"mean vectors have different shapes {mu1.shape} vs {mu2.shape}")
    if sigma1.shape != sigma2.shape or sigma1.shape != (mu1.shape[0],) * 2:
        raise ValueError(
            f"covariance shapes {sigma1.shape}, {sigma2.shape} do not match mean shape {mu1.shape}"
        )
    diff = mu1 - mu2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns on singular input; handled below
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if isinstance(covmean, tuple):  # very old scipy with disp=False semantics
        covmean = covmean[0]
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if isinstance(covmean, tuple):
            covmean = covmean[0]

    tr_covmean = None
    if np.isfinite(covmean).all():
        if np.iscomplexobj(covmean):
            imag = np.abs(np.diagonal(covmean).imag).max() if covmean.size else 0.0
            if imag <= 1e-3:
                covmean = covmean.real
                tr_covmean = float(np.trace(covmean))
        else:
            tr_covmean = float(np.trace(covmean))
    if tr_covmean is None:
        warnings.warn(
            "sqrtm(sigma1 @ sigma2) was not finite/real; using the symmetric "
            "eigenvalue form of Tr sqrt(S1 S2) instead",
            RuntimeWarning,
            stacklevel=2,
        )
        tr_covmean = _trace_sqrt_product_symmetric(sigma1, sigma2)

    fd = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    # round-off can give tiny negative values for identical distributions; clip those
    # (a clearly negative value is returned as is: it would indicate a real problem)
    if -1e-6 * max(1.0, float(np.trace(sigma1))) < fd < 0.0:
        fd = 0.0
    return fd


def fid_from_features(f_real, f_fake) -> float:
    """FID between two ``(N, D)`` feature sets (numpy or torch)."""
    mu1, s1 = feature_stats(f_real)
    mu2, s2 = feature_stats(f_fake)
    return frechet_distance(mu1, s1, mu2, s2)
