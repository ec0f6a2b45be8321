"""A self-supervised evaluation network ("ssl"): no loss of the study shares it in kind.

The domain network (`dom`) is a label-trained classifier; PDDGAN's L_Sem trains against one (seed 0) as its
perceptual network V, so FID / PPL / attribute readings on another `dom` (seed 1) measure nearly what the
loss optimises.  `SSLNet` differs in task and in architecture:

* task: contrastive learning on two augmented views of each image (SimCLR's NT-Xent loss, Chen et al.
  2020), so the backbone never sees a label;
* architecture: a residual network (basic blocks of two 3x3 convs with BatchNorm and ReLU, widths
  16-32-64-128, strides 1-2-2-2), where `dom` is a plain conv / GroupNorm / SiLU stack;
* labels enter only through a *linear probe* fitted afterwards on the frozen pooled features, which gives
  the attribute (or class) reader `predict` that Figure 2 / 3 measures use.

Its pooled features give FID_ssl / precision_ssl / recall_ssl, its per-stage activations a perceptual
distance (PPL_ssl).  Numbers computed with it are named `ssl`, never Inception's.
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .extractors import (TrainedFeatureNet, _dataset_arrays, _get_batch, _match_channels, _plain, _resize,
                         _task_of, cached_or_kept, default_cache_dir, sha256_file, sha256_weights)

__all__ = ["SSLNet", "nt_xent", "augment_views", "train_ssl_net", "get_ssl_extractor", "ssl_cache_path",
           "save_ssl_net", "load_ssl_net", "SSL_NET_STEPS"]

SSL_NET_STEPS = 1000      # default contrastive training length (cpu scale and above)


class _Basic(nn.Module):
    """ResNet basic block: conv-BN-ReLU-conv-BN plus a (projected) shortcut, then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                      if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.short(x))


class SSLNet(TrainedFeatureNet):
    """Residual feature network trained by contrastive self-supervision, plus a linear probe head."""

    name = "ssl"
    kind = "ssl_resnet (SimCLR NT-Xent, linear probe)"

    def __init__(self, in_channels: int, widths: Sequence[int] = (16, 32, 64, 128), proj_dim: int = 64,
                 input_size: int = 32, num_outputs: int = 0, multi_label: bool = False,
                 class_names: Sequence[str] | None = None, attr_names: Sequence[str] | None = None):
        super().__init__()
        self.config = dict(in_channels=int(in_channels), widths=[int(w) for w in widths], proj_dim=int(proj_dim),
                           input_size=int(input_size), num_outputs=int(num_outputs), multi_label=bool(multi_label),
                           class_names=list(class_names) if class_names is not None else None,
                           attr_names=list(attr_names) if attr_names is not None else None)
        self.in_channels, self.input_size = int(in_channels), int(input_size)
        self.multi_label, self.num_outputs = bool(multi_label), int(num_outputs)
        self.class_names, self.attr_names = self.config["class_names"], self.config["attr_names"]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, cin = [], widths[0]
        for i, w in enumerate(widths):
            stages.append(_Basic(cin, w, 1 if i == 0 else 2))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.feature_dim = cin
        self.proj = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(), nn.Linear(cin, proj_dim))   # loss only
        self.head = nn.Linear(cin, max(1, num_outputs))      # linear probe on frozen features
        self.info: dict = {}

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each stage (differentiable), for a perceptual distance."""
        h = self.stem(self.preprocess(x))
        maps = []
        for s in self.stages:
            h = s(h)
            maps.append(h)
        return maps


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.2) -> torch.Tensor:
    """SimCLR's normalised-temperature cross-entropy over 2N views: each view's positive is the other view
    of its image, its negatives the other 2N - 2 views of the batch."""
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def augment_views(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One random view per image: crop of 60-100 % of the side at a random place (resized back), horizontal
    flip, mild brightness / contrast jitter, grey with probability 0.2 (colour images), small noise.
    Colour is only mildly perturbed, so the features keep it (FID should see a wrong palette)."""
    b, c = x.shape[:2]
    r = lambda *s: torch.rand(*s, generator=gen).to(x.device)   # noqa: E731
    s = 0.6 + 0.4 * r(b)
    flip = torch.where(r(b) < 0.5, -1.0, 1.0).to(x.device)
    tx, ty = (1 - s) * (2 * r(b) - 1), (1 - s) * (2 * r(b) - 1)
    zero = torch.zeros_like(s)
    theta = torch.stack([torch.stack([s * flip, zero, tx], 1), torch.stack([zero, s, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    x = x * (0.8 + 0.4 * r(b, 1, 1, 1)) + 0.3 * (r(b, 1, 1, 1) - 0.5)
    if c == 3:
        grey = x.mean(dim=1, keepdim=True).expand_as(x)
        x = torch.where((r(b, 1, 1, 1) < 0.2), grey, x)
    noise = torch.randn(x.shape, generator=gen).to(x.device)
    return (x + 0.03 * noise).clamp(-1, 1)


def train_ssl_net(train_ds, test_ds=None, *, steps: int | None = None, batch_size: int = 64, lr: float = 2e-3,
                  temperature: float = 0.2, seed: int = 0, device: str | torch.device = "cpu",
                  widths: Sequence[int] = (16, 32, 64, 128), probe_steps: int = 300,
                  num_threads: int | None = None, verbose: bool = False) -> SSLNet:
    """Contrastive training (AdamW, warm-up then cosine decay) of the backbone and projection, then a linear
    probe on the frozen pooled features of the training set (cross-entropy or BCE on the dataset's labels,
    when it has any).  Returns the net in eval mode, frozen; ``net.info`` holds the probe's test accuracy."""
    old_threads = torch.get_num_threads()
    if num_threads is None and torch.device(device).type == "cpu" and (os.cpu_count() or 1) <= 4:
        num_threads = 1      # as for the domain net: small nets run slower with 2 threads on 2 shared cores
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    try:
        return _train(train_ds, test_ds, steps or SSL_NET_STEPS, batch_size, lr, temperature, seed, device,
                      widths, probe_steps, verbose)
    finally:
        torch.set_num_threads(old_threads)


def _images(ds, size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    images, targets = _dataset_arrays(ds)
    if images is None:
        images, targets = _get_batch(ds, torch.arange(len(ds)))
    x = torch.cat([_resize(_match_channels(images[i:i + 4096].float(), channels), size)
                   for i in range(0, len(images), 4096)])
    return x, (torch.as_tensor(targets) if targets is not None else None)


def _train(train_ds, test_ds, steps, batch_size, lr, temperature, seed, device, widths, probe_steps, verbose):
    task = None if getattr(train_ds, "targets", 0) is None else _task_of(train_ds)   # None: no labels, no probe
    multi_label, num_outputs, class_names, attr_names = task or (False, 0, None, None)
    in_ch = int(getattr(train_ds, "channels", None) or _get_batch(train_ds, torch.arange(1))[0].shape[1])
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = SSLNet(in_ch, widths=widths, num_outputs=num_outputs, multi_label=multi_label,
                 class_names=class_names, attr_names=attr_names).to(device)
    x_all, y_all = _images(train_ds, net.input_size, in_ch)
    backbone = [p for n, p in net.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW(backbone, lr=lr, weight_decay=1e-4)
    warm = max(1, int(0.03 * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    net.train()
    t0, loss_ema = time.perf_counter(), None
    for step in range(steps):
        idx = torch.randint(0, len(x_all), (batch_size,), generator=gen)
        x = x_all[idx].to(device)
        v1, v2 = augment_views(x, gen), augment_views(x, gen)
        h = net.embed(torch.cat([v1, v2]))
        z = net.proj(h)
        loss = nt_xent(z[:batch_size], z[batch_size:], temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        if verbose and (step % 200 == 0 or step == steps - 1):
            print(f"[SSLNet] step {step}/{steps} nt-xent {loss_ema:.3f} ({time.perf_counter() - t0:.0f}s)")
    net.eval().requires_grad_(False)
    info = dict(trained_in_project=True, task="contrastive (NT-Xent, two augmented views)", steps=int(steps),
                batch_size=int(batch_size), lr=float(lr), temperature=float(temperature), seed=int(seed),
                n_train=int(len(x_all)), final_train_loss=float(loss_ema) if loss_ema is not None else None,
                train_time_s=float(time.perf_counter() - t0))
    if num_outputs and y_all is not None:
        info.update(_fit_probe(net, x_all, y_all, test_ds, probe_steps, device))
    net.info = info
    return net


def _fit_probe(net: SSLNet, x, y, test_ds, probe_steps, device) -> dict:
    """Linear probe on frozen, standardised pooled features (full-batch Adam); the backbone is untouched."""
    with torch.no_grad():
        f = torch.cat([net.embed(x[i:i + 1024].to(device)) for i in range(0, len(x), 1024)])
    mu, sd = f.mean(0), f.std(0) + 1e-6
    lin = nn.Linear(f.shape[1], net.num_outputs).to(device)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2, weight_decay=1e-4)
    yy = y.to(device)
    for _ in range(probe_steps):
        logits = lin((f - mu) / sd)
        loss = F.binary_cross_entropy_with_logits(logits, yy.float()) if net.multi_label else \
            F.cross_entropy(logits, yy.long())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():        # fold the standardisation into the head: predict() reads raw features
        net.head.weight.copy_(lin.weight / sd)
        net.head.bias.copy_(lin.bias - (lin.weight * (mu / sd)).sum(1))
    out = {"probe_steps": int(probe_steps), "probe_train_loss": float(loss.item())}
    if test_ds is not None:
        xt, yt = _images(test_ds, net.input_size, net.in_channels)
        with torch.no_grad():
            logits = torch.cat([net.predict(xt[i:i + 1024].to(device)) for i in range(0, len(xt), 1024)]).cpu()
        if net.multi_label:
            per = ((logits > 0) == yt.bool()).float().mean(0)
            out.update(test_accuracy=float(per.mean()), per_attribute_accuracy=[float(a) for a in per])
        else:
            out.update(test_accuracy=float((logits.argmax(1) == yt.long()).float().mean()))
    return out


def ssl_cache_path(dataset_name: str, resolution, seed: int = 0, cache_dir=None, steps: int | None = None) -> Path:
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return cache_dir / f"sslnet_{dataset_name}_{resolution}_{seed}_s{steps or SSL_NET_STEPS}.pt"


def save_ssl_net(net: SSLNet, path) -> None:
    """Atomic save of config, meta and weights."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"format": "semlib.SSLNet/1", "config": _plain(net.config), "meta": _plain(net.info),
                    "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_ssl_net(path, device: str | torch.device = "cpu") -> SSLNet:
    path = Path(path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != "semlib.SSLNet/1":
        raise ValueError(f"{path} is not a semlib SSLNet checkpoint")
    net = SSLNet(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    net.info = dict(blob.get("meta", {}), cache_path=str(path), file_sha256=sha256_file(path),
                    weights_sha256=sha256_weights(blob["state_dict"]))
    return net.to(device).eval().requires_grad_(False)


def get_ssl_extractor(dataset_name: str, *, resolution: int, cache_dir=None, seed: int = 0,
                      steps: int | None = None, device: str | torch.device = "cpu",
                      dataset_kwargs: dict | None = None, verbose: bool = True) -> SSLNet:
    """The ssl network of a dataset, trained once (on its train split, probe scored on its test split) and
    cached as ``<cache_dir>/sslnet_<dataset>_<resolution>_<seed>_s<steps>.pt`` (with the default cache_dir, a copy kept
    in the repository's ``results/networks/`` is loaded first)."""
    path = cached_or_kept(ssl_cache_path(dataset_name, resolution, seed, cache_dir, steps), cache_dir is None)
    if path.exists():
        return load_ssl_net(path, device)
    from semlib.data import load_dataset

    dkw = dict(dataset_kwargs or {})
    train_ds = load_dataset(dataset_name, split="train", resolution=resolution, **dkw)
    test_ds = load_dataset(dataset_name, split="test", resolution=resolution, **dkw)
    net = train_ssl_net(train_ds, test_ds, steps=steps, seed=seed, device=device, verbose=verbose)
    net.info.update(dataset=dataset_name, resolution=resolution, torch_version=str(torch.__version__))
    save_ssl_net(net, path)
    net = load_ssl_net(path, device)
    if verbose:
        acc = net.info.get("test_accuracy")
        print(f"[SSLNet] {dataset_name}@{resolution}: linear-probe test accuracy "
              f"{'n/a' if acc is None else f'{acc:.4f}'} after {net.info['steps']} contrastive steps "
              f"({net.info['train_time_s']:.0f}s); cached at {path}")
    return net
