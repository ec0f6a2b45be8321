"""Classifier guidance of a DPM (Dhariwal & Nichol 2021), switched on only inside a window of steps (PDAE Fig. 3).

    clf = NoisyClassifierMethod(noisy_classifier_preset("cpu"), dpm.process, in_ch=1, num_classes=10)
    fit(clf, digits, run_dir)                                     # cross-entropy on x_t at uniform t
    eps_fn = guided_eps_fn(dpm.eps_model(), clf.net_ema, process, y, scale=3.0, window=(300, 600))
    x = ddim_sample(None, process, x_T, eps_fn=eps_fn)            # guided only while 300 <= t < 600

Guidance shifts the noise prediction by the classifier's gradient in the score form:
eps' = eps_theta - scale * sqrt(1 - alpha_bar_t) grad_x log p(y | x_t, t), the same form as PDAE's shift.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import NoisyClassifierConfig
from ..diffusion import GaussianDiffusion, _extract
from ..ema import SingleNetMethod, make_ema
from ..nets.classifier import NoisyClassifier


class NoisyClassifierMethod(SingleNetMethod):
    """A time-conditioned classifier on the noisy images of a fixed diffusion process, trained through semlib.train."""

    def __init__(self, config: NoisyClassifierConfig, process: GaussianDiffusion, in_ch: int, num_classes: int,
                 seed: int | None = None):
        self.config, self.process = config, process
        torch.manual_seed(config.seed if seed is None else seed)
        self.net = NoisyClassifier(resolution=config.resolution, in_ch=in_ch, ch=config.ch, ch_mult=config.ch_mult,
                                   num_classes=num_classes)
        self.net_ema = make_ema(self.net)
        self._opts: dict[str, torch.optim.Optimizer] | None = None


    def training_step(self, x0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        opt = self.optimizers()["net"]
        opt.zero_grad(set_to_none=True)
        i = self.process.sample_t(x0.shape[0], x0.device, generator)
        x_t = self.process.q_sample(x0, i, generator=generator)
        logits = nets["net"](x_t, self.process.model_t(i))
        loss = F.cross_entropy(logits, y.long())
        loss.backward()
        opt.step()
        return {"loss": loss.detach(), "acc": (logits.argmax(1) == y.long()).float().mean().detach()}

    @torch.no_grad()
    def accuracy_per_step(self, x0: torch.Tensor, y: torch.Tensor, steps: list[int],
                          generator: torch.Generator | None = None) -> list[float]:
        """Accuracy of the EMA classifier on x_t of held-out images at each step index."""
        net = self.net_ema.eval()
        out = []
        for s in steps:
            i = torch.full((len(x0),), int(s), dtype=torch.long, device=x0.device)
            x_t = self.process.q_sample(x0, i, generator=generator)
            out.append(float((net(x_t, self.process.model_t(i)).argmax(1) == y.long()).float().mean()))
        return out


def guided_eps_fn(eps_model: Callable, classifier: nn.Module, process: GaussianDiffusion, y: torch.Tensor, *,
                  scale: float = 1.0, window: tuple[int, int] | None = None) -> Callable:
    """eps_fn for the samplers: eps_theta - scale * sqrt(1 - alpha_bar) grad log p(y | x_t, t) while the step's
    original timestep t lies in [window[0], window[1]) (None: every step), eps_theta elsewhere."""
    classifier.eval()

    def eps_fn(x, i, t):
        eps = eps_model(x, t)
        t0 = int(t[0])
        if window is not None and not window[0] <= t0 < window[1]:
            return eps
        with torch.enable_grad():
            xg = x.detach().requires_grad_(True)
            logp = F.log_softmax(classifier(xg, t), dim=1)[torch.arange(len(xg)), y[: len(xg)].long()].sum()
            grad = torch.autograd.grad(logp, xg)[0]
        return eps - scale * _extract(process.sqrt_one_minus_alpha_bar, i, x) * grad
    return eps_fn
