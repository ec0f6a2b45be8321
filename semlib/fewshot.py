"""Few-shot conditional generation in a code space (PDAE Sec. 4.7, after D2C): a latent classifier from a handful of
labels and rejection sampling of a latent DPM's codes.

    prob = latent_classifier(z_pos, z_neg=z_neg)                  # binary: a few labels per class
    prob = latent_classifier(z_pos, z_unlabelled=z_all)           # PU: positives and unlabelled codes
    z = rejection_sample(ldpm.sample, prob, n=500, generator=g)   # codes accepted with probability prob(z)

Both settings fit scikit-learn's LogisticRegression on codes standardised by the codes given.  In the PU setting the
classifier separates labelled positives from unlabelled codes, s(z) = p(labelled | z), and Elkan & Noto's correction
p(y = 1 | z) = s(z) / c, with c the mean of s over the labelled positives, turns it into the class probability
(clipped to [0, 1]); this assumes the positives were labelled at random among all positives.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = ["latent_classifier", "rejection_sample"]


def latent_classifier(z_pos: torch.Tensor, *, z_neg: torch.Tensor | None = None,
                      z_unlabelled: torch.Tensor | None = None, C: float = 1.0,
                      seed: int = 0) -> Callable[[torch.Tensor], torch.Tensor]:
    """p(y = 1 | z) from positives and either negatives (binary) or unlabelled codes (PU); returns a function of
    codes (N, D) -> probabilities (N,) on the codes' device."""
    from sklearn.linear_model import LogisticRegression

    if (z_neg is None) == (z_unlabelled is None):
        raise ValueError("give either z_neg (binary setting) or z_unlabelled (PU setting)")
    other = z_neg if z_neg is not None else z_unlabelled
    if len(z_pos) < 2 or len(other) < 2:
        raise ValueError(f"need at least 2 codes per group, got {len(z_pos)} positives and {len(other)} others")
    X = torch.cat([z_pos, other]).double().cpu().numpy()
    y = np.r_[np.ones(len(z_pos)), np.zeros(len(other))]
    mu, sd = X.mean(0), X.std(0) + 1e-8
    # unweighted: the PU correction needs s(z) calibrated to the labelled / unlabelled ratio as sampled
    clf = LogisticRegression(C=C, max_iter=5000, random_state=seed).fit((X - mu) / sd, y)
    c = 1.0
    if z_unlabelled is not None:   # Elkan & Noto: s(z) = c p(y = 1 | z) with c = E[s | y = 1]
        c = float(clf.predict_proba((z_pos.double().cpu().numpy() - mu) / sd)[:, 1].mean())

    def prob(z: torch.Tensor) -> torch.Tensor:
        p = clf.predict_proba((z.double().cpu().numpy() - mu) / sd)[:, 1] / c
        return torch.as_tensor(np.clip(p, 0.0, 1.0), dtype=torch.float32, device=z.device)
    prob.label_constant = c
    return prob


def rejection_sample(sample_fn: Callable[..., torch.Tensor], prob: Callable[[torch.Tensor], torch.Tensor], n: int, *,
                     generator: torch.Generator | None = None, batch: int = 500, max_draws: int = 200000,
                     device=None) -> tuple[torch.Tensor, float]:
    """n codes, each drawn by sample_fn(batch, generator=..., device=...) and accepted with probability prob(z);
    returns (codes, acceptance rate).  Raises when max_draws codes give fewer than n."""
    out, drawn = [], 0
    while sum(len(o) for o in out) < n:
        if drawn >= max_draws:
            raise RuntimeError(f"rejection sampling accepted {sum(len(o) for o in out)} of {drawn} codes, fewer than {n}: "
                               f"the classifier gives this class almost no mass under the latent DPM")
        z = sample_fn(batch, generator=generator, device=device)
        u = torch.rand(len(z), generator=generator, device=z.device)
        out.append(z[u < prob(z)])
        drawn += len(z)
    kept = sum(len(o) for o in out)
    return torch.cat(out)[:n], kept / drawn
