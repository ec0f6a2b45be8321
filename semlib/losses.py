"""Losses: small callables whose hyper-parameters sit in __init__ (EDM style)."""
from __future__ import annotations

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
