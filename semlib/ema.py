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


class SingleNetMethod:
    """The Method protocol of a method that trains one network `net` with Adam at config.lr and keeps its EMA in
    `net_ema` (DPM, LatentDPM, NoisyClassifierMethod); subclasses may add untrained modules to `extra_networks`."""
    extra_networks: dict = {}

    def networks(self) -> dict[str, nn.Module]:
        return {"net": self.net, "net_ema": self.net_ema, **self.extra_networks}

    def trainable(self) -> dict[str, nn.Module]:
        return {"net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if getattr(self, "_opts", None) is None:
            self._opts = {"net": torch.optim.Adam(self.net.parameters(), lr=self.config.lr)}
        return self._opts

    def ema_pairs(self) -> dict[str, str]:
        return {"net_ema": "net"}
