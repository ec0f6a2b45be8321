"""Losses: small callables whose hyper-parameters sit in __init__ (EDM style)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def d_adversarial(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating discriminator loss, per sample: softplus(-D(real)) + softplus(D(fake))."""
    return F.softplus(-d_real) + F.softplus(d_fake)


def g_adversarial(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss, per sample: softplus(-D(fake))."""
    return F.softplus(-d_fake)


class R1Penalty:
    """R1 (Mescheder et al. 2018): gamma/2 * ||grad_x D(x)||^2 on real data, per sample.

    Lazy regularisation as in DDGAN: applied every `lazy_reg` D steps and NOT multiplied by
    lazy_reg (the reference does not rescale it).
    """

    def __init__(self, gamma: float, lazy_reg: int = 1):
        self.gamma, self.lazy_reg = gamma, max(1, int(lazy_reg))

    def active(self, step: int) -> bool:
        return self.gamma > 0 and step % self.lazy_reg == 0

    def __call__(self, d_real: torch.Tensor, x_real: torch.Tensor) -> torch.Tensor:
        (grad,) = torch.autograd.grad(d_real.sum(), x_real, create_graph=True)
        return 0.5 * self.gamma * grad.pow(2).flatten(1).sum(1)


WL_FORMS = ("code", "paper")


def weighted_learning_lambda(progress: float, delta: float = 6.0, form: str = "code") -> float:
    """LDDGAN's Weighted Learning weight of the reconstruction loss (004, Sec. 4.3.2): lambda = 1 - sigmoid(phi).

    progress in [0, 1] is the fraction of training done (epoch / num_epochs in 004; step / steps in our loop).
    form "code": phi = -delta + 2 delta progress (the reference code's linspace(-delta, delta, E + 1)), so lambda
    goes 1 - sigmoid(-delta) -> 0.5 -> sigmoid(-delta) (0.9975 -> 0.5 -> 0.0025 at delta = 6);
    form "paper": phi = -delta + delta progress (004 Eq. 9), which only reaches lambda = 0.5 at the end although
    the paper's text says the weight approaches zero.  The two disagree; the study trains with "code".
    """
    if form not in WL_FORMS:
        raise ValueError(f"form must be one of {WL_FORMS}, got {form!r}")
    p = min(max(float(progress), 0.0), 1.0)
    phi = -delta + (2.0 if form == "code" else 1.0) * delta * p
    return 1.0 - 1.0 / (1.0 + math.exp(-phi))
