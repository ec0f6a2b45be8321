"""Exponential moving average of a network's weights."""
from __future__ import annotations

import copy

import torch
import torch.nn as nn


def make_ema(net: nn.Module) -> nn.Module:
    """A frozen copy of `net` to hold its EMA."""
    ema = copy.deepcopy(net).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net for parameters; buffers are copied."""
    for pe, p in zip(ema.parameters(), net.parameters()):
        pe.lerp_(p.detach(), 1.0 - decay)
    for be, b in zip(ema.buffers(), net.buffers()):
        be.copy_(b)
