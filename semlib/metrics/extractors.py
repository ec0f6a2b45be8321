"""Feature extractors for FID / precision-recall / perceptual metrics.

Two families:

* :class:`DomainNet` (name ``"dom"``): a small CNN classifier trained *in this
  project*, per dataset (cross-entropy on class labels, or BCE on binary
  attributes).  Its pooled last-block activations are the features for
  ``FID_dom`` / ``precision_dom`` / ``recall_dom``; its per-block activations
  (:meth:`DomainNet.feature_maps`) serve as perceptual network "V"; its head
  (:meth:`DomainNet.predict`) is a ground-truth attribute classifier.
  Numbers computed with it are **not comparable** to published Inception FIDs.

* :class:`InceptionExtractor` (name ``"inception"``): the real TorchScript
  Inception-v3 used by StyleGAN2-ADA / clean-fid (``inception-2015-12-05.pt``),
  loaded from a LOCAL file only.  Nothing is ever downloaded here.
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoint import sha256_weights   # re-exported: the feature networks record it

__all__ = [
    "FeatureExtractor",
    "DomainNet",
    "train_domain_net",
    "evaluate_domain_net",
    "get_domain_extractor",
    "domain_cache_path",
    "default_cache_dir",
    "InceptionExtractor",
    "INCEPTION_TORCHSCRIPT_SHA256",
    "get_extractor",
    "sha256_file",
]

# SHA-256 of NVIDIA's TorchScript Inception (stylegan2-ada-pytorch metrics
# release, also used by clean-fid and k-diffusion), 95,607,719 bytes.
INCEPTION_TORCHSCRIPT_SHA256 = "f58cb9b6ec323ed63459aa4fb441fe750cfe39fafad6da5cb504a16f19e958f4"
INCEPTION_TORCHSCRIPT_FILENAME = "inception-2015-12-05.pt"


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


from ..data.base import cached_or_kept, default_cache_dir  # noqa: E402  (one definition of the cache location)


# --------------------------------------------------------------------------- #
# base class
# --------------------------------------------------------------------------- #
class FeatureExtractor(nn.Module):
    """Base class: ``features(images in [-1, 1], NCHW) -> (N, D) float32 CPU tensor``.

    Subclasses implement ``_features(x)`` for one batch already on ``self.device``
    and handle any resolution / channel count themselves.
    """

    name: str = "base"
    feature_dim: int | None = None

    def _features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device(getattr(self, "_device", "cpu"))

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4:
            raise ValueError(f"expected NCHW images, got shape {tuple(images.shape)}")
        was_training = self.training
        self.eval()
        try:
            out = []
            dev = self.device
            for i in range(0, images.shape[0], batch_size):
                x = images[i : i + batch_size].to(dev, torch.float32)
                out.append(self._features(x).float().cpu())
            if not out:
                return torch.zeros(0, self.feature_dim or 0)
            return torch.cat(out)
        finally:
            self.train(was_training)

    def meta(self) -> dict:
        return {"name": self.name, "kind": type(self).__name__, "feature_dim": self.feature_dim}


def _match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    c = x.shape[1]
    if c == channels:
        return x
    if channels == 1:
        return x.mean(dim=1, keepdim=True)
    if c == 1:
        return x.expand(-1, channels, -1, -1)
    raise ValueError(f"cannot map {c} input channels to {channels}")


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-2:] == (size, size):
        return x
    down = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=down)


class TrainedFeatureNet(FeatureExtractor):
    """What the in-project feature networks share (DomainNet, SSLNet): inputs of any size and 1 or 3 channels in
    [-1, 1] are mapped to ``in_channels`` and ``input_size``; ``feature_maps`` (defined by each) gives the
    activations per stage, the pooled last one is the feature; a linear ``head`` reads classes or attributes.
    Subclasses set ``kind`` (named in meta.json) and fill ``config`` and ``info``."""

    kind: str = "trained_feature_net"
    in_channels: int
    input_size: int
    num_outputs: int
    head: nn.Linear

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.head.weight.device, torch.float32)
        return _resize(_match_channels(x, self.in_channels), self.input_size)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable pooled feature (N, feature_dim): what FID and the head read."""
        return self.feature_maps(x)[-1].mean(dim=(2, 3))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, K) or attribute logits (N, A) (apply sigmoid for probabilities)."""
        if self.num_outputs == 0:
            raise RuntimeError(f"this {type(self).__name__} has no head (no linear probe: trained without labels)")
        return self.head(self.embed(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(x)

    def _features(self, x):
        return self.embed(x)

    @property
    def test_accuracy(self) -> float | None:
        return self.info.get("test_accuracy")

    def meta(self) -> dict:
        m = super().meta()
        m.update(kind=self.kind, config=dict(self.config))
        m.update(self.info)
        return m


# --------------------------------------------------------------------------- #
# in-project domain network
# --------------------------------------------------------------------------- #
class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, groups: int, n_convs: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_convs):
            layers += [
                nn.Conv2d(cin if i == 0 else cout, cout, 3, stride if i == 0 else 1, 1),
                nn.GroupNorm(min(groups, cout), cout),
                nn.SiLU(),
            ]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class DomainNet(TrainedFeatureNet):
    """Small CNN classifier used as the in-project feature network ("dom").

    Architecture: 4 blocks ``[conv3x3 -> GroupNorm -> SiLU] x n_convs`` with
    widths ``(16, 32, 64, 128)``; blocks 2-4 downsample by stride 2
    (32 -> 16 -> 8 -> 4); global average pooling gives the 128-d feature;
    a linear head gives class / attribute logits.  Inputs (any size, 1 or 3
    channels, range [-1, 1]) are resized to ``input_size`` (32) internally.
    """

    name = "dom"
    kind = "domain_cnn"

    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        multi_label: bool = False,
        widths: Sequence[int] = (16, 32, 64, 128),
        n_convs: int = 1,
        input_size: int = 32,
        groups: int = 8,
        class_names: Sequence[str] | None = None,
        attr_names: Sequence[str] | None = None,
    ):
        super().__init__()
        self.config = dict(
            in_channels=int(in_channels),
            num_outputs=int(num_outputs),
            multi_label=bool(multi_label),
            widths=[int(w) for w in widths],
            n_convs=int(n_convs),
            input_size=int(input_size),
            groups=int(groups),
            class_names=list(class_names) if class_names is not None else None,
            attr_names=list(attr_names) if attr_names is not None else None,
        )
        self.in_channels = int(in_channels)
        self.num_outputs = int(num_outputs)
        self.multi_label = bool(multi_label)
        self.input_size = int(input_size)
        self.class_names = self.config["class_names"]
        self.attr_names = self.config["attr_names"]
        blocks = []
        cin = in_channels
        for i, w in enumerate(widths):
            blocks.append(_Block(cin, w, 1 if i == 0 else 2, groups, n_convs))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(cin, num_outputs)
        self.feature_dim = cin
        self.info: dict = {}  # training / provenance info, filled by train/load

    # -- outputs -------------------------------------------------------------- #
    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each block (differentiable; 4 maps at 32,16,8,4 px)."""
        h = self.preprocess(x)
        maps = []
        for b in self.blocks:
            h = b(h)
            maps.append(h)
        return maps



def _dataset_arrays(ds):
    images = getattr(ds, "images", None)
    targets = getattr(ds, "targets", None)
    return images, targets


def _get_batch(ds, idx: torch.Tensor):
    images = getattr(ds, "images", None)
    if images is not None:
        t = ds.targets
        return images[idx], (t[idx] if t is not None else None)
    if hasattr(ds, "get_batch"):
        return ds.get_batch(idx)
    items = [ds[int(i)] for i in idx]
    return torch.stack([torch.as_tensor(a) for a, _ in items]), torch.stack(
        [torch.as_tensor(b) for _, b in items]
    )


def _task_of(ds):
    """(multi_label, num_outputs, class_names, attr_names)."""
    targets = getattr(ds, "targets", None)
    class_names = getattr(ds, "class_names", None)
    attr_names = getattr(ds, "attr_names", None)
    if targets is None:
        # lazily loaded dataset: look at one item
        if len(ds) == 0:
            raise ValueError("empty dataset")
        _, t0 = ds[0]
        t0 = torch.as_tensor(t0)
        if t0.ndim >= 1 and t0.numel() > 1 or attr_names:
            return True, int(t0.numel()), None, attr_names
        if class_names is None:
            raise ValueError("dataset without .targets needs class_names or attr_names to set up the head")
        return False, len(class_names), class_names, None
    targets = torch.as_tensor(targets)
    if targets.ndim == 2:
        return True, int(targets.shape[1]), None, attr_names
    if targets.ndim == 1:
        k = len(class_names) if class_names else int(targets.max().item()) + 1
        return False, k, class_names, None
    raise ValueError(f"targets must be (N,) labels or (N, A) attributes, got {tuple(targets.shape)}")


def _random_shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Per-sample random translation by up to ``pad`` pixels (replicate padding)."""
    if pad <= 0:
        return x
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device="cpu").to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device="cpu").to(x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])  # (B, H)
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])  # (B, W)
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


@torch.no_grad()
def evaluate_domain_net(net: DomainNet, ds, batch_size: int = 512, max_n: int | None = None) -> dict:
    """Test accuracy of a DomainNet on a dataset.

    Multi-class: ``accuracy`` = top-1 accuracy, plus ``per_class_accuracy``.
    Multi-label: ``accuracy`` = mean over attributes of per-attribute accuracy
    (threshold 0 on the logits), plus ``per_attribute_accuracy``.
    """
    was_training = net.training
    net.eval()
    n = len(ds) if max_n is None else min(len(ds), max_n)
    correct = None
    counts = None
    total = 0
    dev = net.device
    for i in range(0, n, batch_size):
        idx = torch.arange(i, min(i + batch_size, n))
        x, y = _get_batch(ds, idx)
        logits = net.predict(x.to(dev)).cpu()
        y = torch.as_tensor(y)
        if net.multi_label:
            c = ((logits > 0).float() == (y.float() > 0.5).float()).double().sum(0)
            correct = c if correct is None else correct + c
            total += y.shape[0]
        else:
            y = y.long()
            k = net.num_outputs
            pred = logits.argmax(1)
            c = torch.zeros(k, dtype=torch.float64).index_add_(0, y, (pred == y).double())
            cnt = torch.zeros(k, dtype=torch.float64).index_add_(0, y, torch.ones_like(y, dtype=torch.float64))
            correct = c if correct is None else correct + c
            counts = cnt if counts is None else counts + cnt
            total += y.shape[0]
    net.train(was_training)
    res: dict = {"n_test": total}
    if total == 0:
        res["accuracy"] = float("nan")
        return res
    if net.multi_label:
        per = (correct / total).tolist()
        names = net.attr_names or [str(i) for i in range(len(per))]
        res["accuracy"] = float(sum(per) / len(per))
        res["per_attribute_accuracy"] = dict(zip(names, per))
    else:
        res["accuracy"] = float(correct.sum() / total)
        names = net.class_names or [str(i) for i in range(len(correct))]
        res["per_class_accuracy"] = {
            nm: (float(c / m) if m > 0 else float("nan")) for nm, c, m in zip(names, correct, counts)
        }
    return res


def train_domain_net(
    train_ds,
    test_ds=None,
    *,
    steps: int | None = None,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    weight_decay: float = 1e-4,
    shift_aug: int = 0,
    widths: Sequence[int] = (16, 32, 64, 128),
    n_convs: int = 1,
    max_test: int | None = None,
    num_threads: int | None = None,
    verbose: bool = False,
) -> DomainNet:
    """Train a :class:`DomainNet` on ``train_ds`` and report accuracy on ``test_ds``.

    Cross-entropy for (N,) integer labels, BCE-with-logits for (N, A) 0/1
    attributes.  AdamW (lr 3e-3, wd 1e-4), 3 % linear warm-up then cosine decay;
    optional random +-``shift_aug`` px translations (off by default: in this
    few-epoch budget they cost accuracy -- Fashion-MNIST 1500 steps x 128:
    89.5 % without, 87.4 % with +-2 px).  Default 1500 steps took ~90 s on one
    CPU thread (Fashion-MNIST, 60k train images, 32x32).  The returned net is in eval mode with ``requires_grad=False``
    (frozen metric network); ``net.info`` holds steps, seed, timings and the
    test accuracy (``net.test_accuracy``).

    ``num_threads`` temporarily sets ``torch.set_num_threads`` (restored after).
    Default: 1 thread when training on a CPU with <= 4 cores -- on the shared
    2-core machines of this project, OpenMP oversubscription made 2 threads
    5-8x *slower* than 1 for this small network.
    """
    old_threads = torch.get_num_threads()
    if num_threads is None and torch.device(device).type == "cpu" and (os.cpu_count() or 1) <= 4:
        num_threads = 1
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    try:
        return _train_domain_net(
            train_ds, test_ds, steps=steps, batch_size=batch_size, lr=lr, seed=seed, device=device,
            weight_decay=weight_decay, shift_aug=shift_aug, widths=widths, n_convs=n_convs,
            max_test=max_test, verbose=verbose,
        )
    finally:
        torch.set_num_threads(old_threads)


def _train_domain_net(
    train_ds, test_ds, *, steps, batch_size, lr, seed, device, weight_decay, shift_aug, widths, n_convs,
    max_test, verbose,
) -> DomainNet:
    multi_label, num_outputs, class_names, attr_names = _task_of(train_ds)
    in_channels = int(getattr(train_ds, "channels", None) or _get_batch(train_ds, torch.arange(1))[0].shape[1])
    n_train = len(train_ds)
    if steps is None:
        steps = DOMAIN_NET_STEPS
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DomainNet(
        in_channels, num_outputs, multi_label, widths=widths, n_convs=n_convs,
        class_names=class_names, attr_names=attr_names,
    ).to(device)

    # Pre-resize in-memory datasets once to the net's input size (cheap later steps).
    images, targets = _dataset_arrays(train_ds)
    pre = None
    if images is not None:
        chunks = []
        for i in range(0, images.shape[0], 4096):
            chunks.append(_resize(_match_channels(images[i : i + 4096].float(), in_channels), net.input_size))
        pre = (torch.cat(chunks), torch.as_tensor(targets))

    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    warm = max(1, int(0.03 * steps))

    def lr_at(s):
        if s < warm:
            return (s + 1) / warm
        p = (s - warm) / max(1, steps - warm)
        return 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    net.train()
    t0 = time.perf_counter()
    perm = torch.randperm(n_train, generator=gen)
    pos = 0
    loss_ema = None
    for step in range(steps):
        if pos + batch_size > n_train:
            perm = torch.randperm(n_train, generator=gen)
            pos = 0
        idx = perm[pos : pos + batch_size]
        pos += batch_size
        if pre is not None:
            x, y = pre[0][idx], pre[1][idx]
        else:
            x, y = _get_batch(train_ds, idx)
            x = _resize(_match_channels(torch.as_tensor(x).float(), in_channels), net.input_size)
        x = _random_shift(x, shift_aug, gen).to(device)
        y = torch.as_tensor(y).to(device)
        logits = net.predict(x)
        if multi_label:
            loss = F.binary_cross_entropy_with_logits(logits, y.float())
        else:
            loss = F.cross_entropy(logits, y.long())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_ema = loss.item() if loss_ema is None else 0.98 * loss_ema + 0.02 * loss.item()
        if verbose and (step % 100 == 0 or step == steps - 1):
            print(f"[DomainNet] step {step}/{steps} loss {loss_ema:.4f} ({time.perf_counter() - t0:.1f}s)")
    train_time = time.perf_counter() - t0
    net.eval().requires_grad_(False)
    info = dict(
        trained_in_project=True,
        steps=int(steps),
        batch_size=int(batch_size),
        lr=float(lr),
        seed=int(seed),
        n_train=int(n_train),
        final_train_loss=float(loss_ema) if loss_ema is not None else None,
        train_time_s=float(train_time),
        task="multi_label" if multi_label else "multi_class",
        dataset=getattr(train_ds, "name", None),
        resolution=getattr(train_ds, "resolution", None),
    )
    if test_ds is not None:
        ev = evaluate_domain_net(net, test_ds, max_n=max_test)
        info["test_accuracy"] = ev.pop("accuracy")
        info.update(ev)
    net.info = info
    return net


def _plain(v):
    """Make meta values loadable with ``torch.load(weights_only=True)``."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if hasattr(v, "item"):  # numpy / torch scalars
        return _plain(v.item())
    return str(v)


def _domain_state(net: DomainNet) -> dict:
    return {"format": "semlib.DomainNet/1", "config": _plain(net.config), "meta": _plain(net.info),
            "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}


def save_domain_net(net: DomainNet, path) -> None:
    """Atomic save (temp file in the same directory, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(_domain_state(net), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_domain_net(path, device: str | torch.device = "cpu") -> DomainNet:
    path = Path(path)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != "semlib.DomainNet/1":
        raise ValueError(f"{path} is not a semlib DomainNet checkpoint")
    net = DomainNet(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    net.info = dict(blob.get("meta", {}))
    net.info["cache_path"] = str(path)
    net.info["file_sha256"] = sha256_file(path)
    net.info["weights_sha256"] = sha256_weights(blob["state_dict"])
    return net.to(device).eval().requires_grad_(False)


__all__ += ["save_domain_net", "load_domain_net"]


DOMAIN_NET_STEPS = 1500   # default training length of the domain network


def domain_cache_path(dataset_name: str, resolution, seed: int = 0, cache_dir=None,
                      steps: int | None = None) -> Path:
    """One cache file per (dataset, resolution, seed, steps): a short smoke-test net never
    replaces the full one that cpu-scale metrics use."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return cache_dir / f"domainnet_{dataset_name}_{resolution}_{seed}_s{steps or DOMAIN_NET_STEPS}.pt"


def get_domain_extractor(
    dataset_name: str,
    *,
    resolution: int,
    cache_dir=None,
    seed: int = 0,
    steps: int | None = None,
    device: str | torch.device = "cpu",
    train_kwargs: dict | None = None,
    dataset_kwargs: dict | None = None,
    verbose: bool = True,
) -> DomainNet:
    """Domain network for a dataset, trained once and cached.

    Cache file: ``<cache_dir>/domainnet_<dataset>_<resolution>_<seed>_s<steps>.pt``
    (``cache_dir`` defaults to ``$SEMLIB_CACHE`` or ``~/.cache/semlib``; with the default, a copy of that file kept in
    the repository's ``results/networks/`` is loaded first, see ``kept_networks_dir``).  If
    the file exists it is loaded.  Otherwise the net is trained on
    ``load_dataset(name, split="train")``, evaluated on ``split="test"``, and
    saved atomically together with its meta (test accuracy, steps, seed, ...).
    ``train_kwargs`` go to :func:`train_domain_net`, ``dataset_kwargs`` (e.g.
    ``root``) to ``load_dataset``.
    """
    path = cached_or_kept(domain_cache_path(dataset_name, resolution, seed, cache_dir, steps), cache_dir is None)
    if path.exists():
        return load_domain_net(path, device)
    from semlib.data import load_dataset  # lazy: data module is optional at import time

    dkw = dict(dataset_kwargs or {})  # e.g. root=... for datasets read from disk
    train_ds = load_dataset(dataset_name, split="train", resolution=resolution, **dkw)
    test_ds = load_dataset(dataset_name, split="test", resolution=resolution, **dkw)
    net = train_domain_net(train_ds, test_ds, steps=steps, seed=seed, device=device, **(train_kwargs or {}))
    net.info.update(dataset=dataset_name, resolution=resolution, torch_version=str(torch.__version__))
    save_domain_net(net, path)
    net = load_domain_net(path, device)
    if verbose:
        print(
            f"[DomainNet] {dataset_name}@{resolution}: test accuracy {net.info.get('test_accuracy'):.4f} "
            f"after {net.info['steps']} steps ({net.info['train_time_s']:.0f}s); cached at {path}"
        )
    return net


# --------------------------------------------------------------------------- #
# real Inception (local file only)
# --------------------------------------------------------------------------- #
class InceptionExtractor(FeatureExtractor):
    """Inception-v3 pool3 features (2048-d) from the StyleGAN2-ADA / clean-fid
    TorchScript file ``inception-2015-12-05.pt``, loaded from a local path.

    Calling convention (StyleGAN2-ADA ``metric_utils``): images are converted
    from [-1, 1] to uint8 with ``(x * 127.5 + 128).clamp(0, 255)``, grey images
    are repeated to 3 channels, and the uint8 NCHW batch is passed as
    ``model(x, return_features=True)``; the TorchScript module resizes to
    299x299 itself.  (clean-fid instead resizes with PIL bicubic before the
    call, so FIDs differ slightly between the two protocols.)

    Only the TorchScript file is supported: pytorch-fid's
    ``pt_inception-2015-12-05-*.pth`` state dict needs pytorch-fid's modified
    Inception blocks, which torchvision's ``inception_v3`` cannot host as is.

    The file's SHA-256 is checked against the published value for the NVIDIA
    file, or against ``sha256`` if given.  A mismatch raises ``ValueError``.
    The extractor is named ``"inception"`` only when the hash equals the
    official one; otherwise (a user-approved different file) ``"inception_custom"``.
    """

    feature_dim = 2048

    def __init__(self, path, sha256: str | None = None, device: str | torch.device = "cpu"):
        super().__init__()
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"Inception weights not found at '{path}'. semlib never downloads weights: place the "
                f"TorchScript file '{INCEPTION_TORCHSCRIPT_FILENAME}' (StyleGAN2-ADA / clean-fid, "
                f"sha256 {INCEPTION_TORCHSCRIPT_SHA256}) at that path yourself, or use the in-project "
                f"domain network (get_extractor without inception_path)."
            )
        digest = sha256_file(path)
        expected = (sha256 or INCEPTION_TORCHSCRIPT_SHA256).lower()
        if digest != expected:
            raise ValueError(
                f"SHA-256 mismatch for Inception weights '{path}': got {digest}, expected {expected} "
                f"({'user-given' if sha256 else 'official ' + INCEPTION_TORCHSCRIPT_FILENAME}). "
                "Refusing to compute metrics named 'inception' with unknown weights."
            )
        self.path = str(path)
        self.sha256 = digest
        self.official = digest == INCEPTION_TORCHSCRIPT_SHA256
        self.name = "inception" if self.official else "inception_custom"
        self._device = torch.device(device)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit deprecation notice
                self.model = torch.jit.load(str(path), map_location=self._device).eval()
        except Exception as e:  # noqa: BLE001
            raise ValueError(
                f"could not load '{path}' as TorchScript; only the StyleGAN2-ADA/clean-fid "
                f"'{INCEPTION_TORCHSCRIPT_FILENAME}' is supported ({e})"
            ) from e

    def _features(self, x):
        x = _match_channels(x, 3)
        x = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)
        f = self.model(x, return_features=True)
        return f.reshape(x.shape[0], -1)

    def meta(self) -> dict:
        return dict(
            name=self.name,
            kind="inception_v3_torchscript",
            path=self.path,
            sha256=self.sha256,
            official_weights=self.official,
            protocol="StyleGAN2-ADA: uint8 input, resized to 299 inside the TorchScript model",
            feature_dim=2048,
        )


def get_extractor(dataset_name: str, *, inception_path=None, **kw) -> FeatureExtractor:
    """Real Inception if ``inception_path`` is given, else the in-project domain net.

    Extra keywords: ``sha256``/``device`` for Inception; everything of
    :func:`get_domain_extractor` (``resolution`` is required) otherwise.
    """
    if inception_path is not None:
        return InceptionExtractor(inception_path, sha256=kw.get("sha256"), device=kw.get("device", "cpu"))
    kw.pop("sha256", None)
    return get_domain_extractor(dataset_name, **kw)
