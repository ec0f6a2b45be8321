"""Attribute editing in a semantic latent space, and its measurement (000 Figure 3, and beyond).

`svm_directions` fits one linear SVM (scikit-learn) per binary attribute on encoded codes and returns
the unit normal of each separating hyperplane in the code space, with the spread of the codes along it
(so edit steps are in units of that spread).  `measure_edits` moves every code along a direction by
several steps, renders it with everything else fixed, and asks an attribute classifier what changed:
how often the target attribute flips, and how many of the other attributes keep their value.  A random
direction through the same steps is the control.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

__all__ = ["AttributeDirections", "svm_directions", "random_directions", "edit_codes", "measure_edits"]


@dataclass
class AttributeDirections:
    names: list[str]
    normal: torch.Tensor      # (A, D) unit normals in code space, pointing towards the positive class
    sigma: torch.Tensor       # (A,) std of the codes' projection on each normal (the unit of an edit step)
    train_accuracy: list[float]
    offset: torch.Tensor | None = None  # (A, D) float64, a point on each hyperplane (None: through 0)

    def accuracy(self, z: torch.Tensor, labels: torch.Tensor) -> list[float]:
        """Held-out accuracy of each SVM (sign of the decision function) on codes z with labels (N, A)."""
        return [float(((self._decision(z, a) > 0) == labels[:, a].bool()).float().mean()) for a in range(len(self.names))]

    def _decision(self, z: torch.Tensor, a: int) -> torch.Tensor:
        off = self.offset[a] if self.offset is not None else 0.0
        return (z.double().cpu() - off) @ self.normal[a].double()


def svm_directions(z: torch.Tensor, labels: torch.Tensor, names: list[str], *, C: float = 1.0,
                   max_iter: int = 20000) -> AttributeDirections:
    """One LinearSVC per attribute on standardised codes z (N, D); labels (N, A) in {0, 1}.

    The decision function w . (z - mu) / s + b is linear in z with gradient w / s: its direction,
    normalised, is the edit direction (the normal of the hyperplane in the original code space).
    """
    from sklearn.svm import LinearSVC

    if z.ndim != 2 or labels.ndim != 2 or len(z) != len(labels) or labels.shape[1] != len(names):
        raise ValueError(f"need z (N, D), labels (N, A) and A names; got {tuple(z.shape)}, "
                         f"{tuple(labels.shape)}, {len(names)} names")
    Z = z.detach().double().cpu().numpy()
    Y = labels.detach().cpu().numpy().astype(int)
    mu, s = Z.mean(0), Z.std(0) + 1e-8
    Zs = (Z - mu) / s
    normals, sig, acc, offsets = [], [], [], []
    for a in range(Y.shape[1]):
        if len(np.unique(Y[:, a])) < 2:
            raise ValueError(f"attribute {names[a]!r} has one class only among the {len(Y)} codes")
        svm = LinearSVC(C=C, max_iter=max_iter, dual="auto").fit(Zs, Y[:, a])
        w = svm.coef_[0] / s                            # gradient of the decision function w.r.t. z
        norm = np.linalg.norm(w)
        n = w / norm
        # decision(z) = w . (z - mu) + b  ->  zero on the plane through mu - b w / |w|^2
        offsets.append(mu - svm.intercept_[0] * w / norm ** 2)
        normals.append(n)
        sig.append(float((Z @ n).std()))
        acc.append(float(svm.score(Zs, Y[:, a])))
    return AttributeDirections(list(names), torch.tensor(np.stack(normals), dtype=torch.float32),
                               torch.tensor(sig, dtype=torch.float32), acc,
                               torch.tensor(np.stack(offsets), dtype=torch.float64))


def random_directions(like: AttributeDirections, z: torch.Tensor, seed: int = 0) -> AttributeDirections:
    """The control: one random unit direction per attribute, with the codes' spread along it as sigma."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(like.normal.shape, generator=g, dtype=torch.float64)
    r = r / r.norm(dim=1, keepdim=True)
    sig = (z.double().cpu() @ r.T).std(0)
    return AttributeDirections(list(like.names), r.float(), sig.float(), [float("nan")] * len(like.names))


def edit_codes(z: torch.Tensor, directions: AttributeDirections, a: int, step: float,
               towards: torch.Tensor) -> torch.Tensor:
    """Codes z (n, D) moved by step * sigma_a along +normal_a where towards[i] is True (target value 1),
    along -normal_a where it is False."""
    sign = 2.0 * towards.float() - 1.0
    dz = sign[:, None] * float(step) * directions.sigma[a] * directions.normal[a]
    return z + dz.to(z.device, z.dtype)


@torch.no_grad()
def measure_edits(render: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                  classify: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor,
                  directions: AttributeDirections, steps: list[float], *, batch_size: int = 250,
                  attributes: list[int] | None = None) -> dict[str, np.ndarray]:
    """Move each code towards the other value of each attribute and see what a classifier reads.

    render(z_batch, idx) -> images, with every other input fixed per image index idx;
    classify(images) -> (n, A) bool attribute predictions (the same attribute order as directions).
    For image i and attribute a the target is the opposite of the classifier's reading of the unedited
    render, and the code moves by step * sigma_a along +normal_a (target 1) or -normal_a (target 0).

    Returns base (N, A) bool, and for attributes x steps: ``flip`` (the fraction of images whose
    attribute a now reads as the target) and ``keep`` (the fraction of (image, other attribute) pairs
    whose reading did not change).
    """
    n = len(z)
    idx_all = torch.arange(n)
    base = torch.cat([classify(render(z[i:i + batch_size], idx_all[i:i + batch_size])).bool().cpu()
                      for i in range(0, n, batch_size)])
    A = base.shape[1]
    attributes = list(range(A)) if attributes is None else list(attributes)
    flip = np.full((A, len(steps)), np.nan)
    keep = np.full((A, len(steps)), np.nan)
    for a in attributes:
        towards = ~base[:, a]                                  # the target: the other reading
        others = [b for b in range(A) if b != a]
        for k, step in enumerate(steps):
            preds = []
            for i in range(0, n, batch_size):
                sl = slice(i, i + batch_size)
                preds.append(classify(render(edit_codes(z[sl], directions, a, step, towards[sl]),
                                             idx_all[sl])).bool().cpu())
            p = torch.cat(preds)
            flip[a, k] = float((p[:, a] != base[:, a]).float().mean())
            keep[a, k] = float((p[:, others] == base[:, others]).float().mean()) if others else 1.0
    return {"base": base.numpy(), "flip": flip, "keep": keep, "steps": np.asarray(steps, dtype=float)}
