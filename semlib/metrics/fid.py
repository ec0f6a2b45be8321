"""Fréchet distance between Gaussians fitted to feature sets (FID).

``frechet_distance`` is clean-fid's (the TTUR / pytorch-fid computation)::

    d^2 = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrtm(S1 S2))

with scipy's ``sqrtm`` and an ``eps * I`` offset when the product is singular.  If ``sqrtm`` yields a large
imaginary component, the trace term is recomputed with the symmetric, mathematically equivalent form
``Tr sqrt(sqrt(S1) S2 sqrt(S1))`` (eigenvalues clipped at 0) and a warning is emitted, instead of failing
the evaluation.

The value depends on the feature extractor, so metric names carry its name,
e.g. ``FID_dom`` (in-project domain network) or ``FID_inception``.
"""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np

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
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (squared, as in FID), computed by
    clean-fid (`cleanfid.fid.frechet_distance`: scipy's sqrtm of S1 S2, an eps * I offset when the product
    is singular).  Here: shape checks, float64 inputs (torch or numpy), round-off negatives clipped, and
    the symmetric eigenvalue form of Tr sqrt(S1 S2) when clean-fid rejects a large imaginary part."""
    from cleanfid.fid import frechet_distance as cleanfid_frechet

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
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")      # sqrtm warns on singular input; clean-fid handles it
            fd = float(cleanfid_frechet(mu1, sigma1, mu2, sigma2, eps=eps))
    except ValueError:                           # "Imaginary component": numerically unstable sqrtm
        warnings.warn("sqrtm(sigma1 @ sigma2) had a large imaginary part; using the symmetric eigenvalue "
                      "form of Tr sqrt(S1 S2) instead", RuntimeWarning, stacklevel=2)
        diff = mu1 - mu2
        fd = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                   - 2.0 * _trace_sqrt_product_symmetric(sigma1, sigma2))
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
