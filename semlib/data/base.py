"""Common dataset class, errors and small image helpers shared by all loaders."""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "ImageDataset",
    "LazyImageDataset",
    "DatasetNotFoundError",
    "ImageReadError",
    "default_cache_dir",
    "uint8_to_float",
    "resize_images",
    "load_image_file",
]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are missing or laid out differently than expected.

    ``str(err)`` is a single message naming the expected layout and the fix.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # FileNotFoundError would otherwise print "[Errno None] ..."
        return self.message


class ImageReadError(OSError):
    """An image file exists but cannot be decoded (corrupt, truncated, not an image)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image file {self.path}: {reason}")

    def __str__(self) -> str:
        return f"cannot read image file {self.path}: {self.reason}"


def default_cache_dir() -> Path:
    """``$SEMLIB_CACHE`` if set, else ``~/.cache/semlib``."""
    env = os.environ.get("SEMLIB_CACHE")
    return Path(env).expanduser() if env else Path("~/.cache/semlib").expanduser()


def kept_networks_dir() -> Path:
    """``$SEMLIB_NETWORKS`` if set, else the repository's ``results/networks/``: the evaluation networks (domain and
    ssl nets) that the committed results were measured with, committed so that every clone measures in the same
    units.  A network retrained after its cache was lost is another network: its FIDs do not compare."""
    env = os.environ.get("SEMLIB_NETWORKS")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "results" / "networks"


def cached_or_kept(path: Path, default_dir: bool) -> Path:
    """Where to load a cached network from: its kept copy (`kept_networks_dir`, the same file name) when the cache
    location is the default one and a copy is kept, else `path` itself.  An explicit cache_dir is always honoured."""
    kept = kept_networks_dir() / path.name
    return kept if default_dir and kept.is_file() else path


def uint8_to_float(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] -> float32 [-1,1] (same shape)."""
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        x = np.array(x)  # torch warns on read-only buffers (e.g. np.frombuffer)
    t = torch.as_tensor(x)
    return t.to(torch.float32).div_(127.5).sub_(1.0)


def resize_images(x: torch.Tensor, resolution: int, chunk: int = 4096) -> torch.Tensor:
    """Resize an (N,C,H,W) float batch to (N,C,R,R) with antialiased bilinear interpolation."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    out = [
        F.interpolate(x[i:i + chunk], size=(resolution, resolution), mode="bilinear",
                      align_corners=False, antialias=True)
        for i in range(0, x.shape[0], chunk)
    ]
    # bilinear never overshoots much, but antialias kernels can by ~1e-6; keep the [-1,1] contract
    return torch.cat(out).clamp_(-1.0, 1.0)


def load_image_file(path: str | os.PathLike, resolution: int,
                    crop: int | None = None) -> torch.Tensor:
    """Read an image as RGB, center-crop, resize; returns (3,R,R) float32 in [-1,1].

    ``crop``: side of the centered square crop in source pixels; ``None`` crops the largest
    centered square. Any decoding failure raises :class:`ImageReadError` naming the file.
    """
    from PIL import Image

    path = str(path)
    try:
        with Image.open(path) as im:
            im.load()  # decode now so truncated files fail here, inside the try
            im = im.convert("RGB")
    except FileNotFoundError:
        raise DatasetNotFoundError(f"image file {path} does not exist") from None
    except Exception as exc:  # PIL raises OSError, UnidentifiedImageError, SyntaxError, ValueError...
        raise ImageReadError(path, f"{type(exc).__name__}: {exc}") from None
    w, h = im.size
    side = min(w, h) if crop is None else min(crop, w, h)
    left, top = (w - side) // 2, (h - side) // 2
    im = im.crop((left, top, left + side, top + side))
    if side != resolution:
        # Pillow's resize is antialiased (filter support scales with the reduction factor)
        im = im.resize((resolution, resolution), Image.Resampling.BICUBIC)
    arr = np.asarray(im, dtype=np.uint8).copy()
    return uint8_to_float(arr).permute(2, 0, 1).clamp_(-1.0, 1.0)


class ImageDataset(torch.utils.data.Dataset):
    """Images (C,H,W) float32 in [-1,1] with an optional label / attribute target.

    In-memory datasets hold ``images`` (N,C,H,W); lazy ones (see :class:`LazyImageDataset`)
    have ``images = None`` and load items from disk.
    ``targets``: (N,) int64 class labels, (N,A) float32 0/1 attributes, or ``None``
    (then items return ``tensor(-1)``).
    """

    # per-item tensors/lists that subset() must slice; subclasses extend this
    _per_item_fields: tuple[str, ...] = ("images", "targets")

    def __init__(self, *, name: str, resolution: int, channels: int,
                 images: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                 class_names: list[str] | None = None, attr_names: list[str] | None = None,
                 split: str = "train", root: str | None = None):
        self.name = name
        self.resolution = int(resolution)
        self.channels = int(channels)
        self.images = images
        self.targets = targets
        self.class_names = class_names
        self.attr_names = attr_names
        self.split = split
        self.root = root
        if images is not None:
            if images.dtype != torch.float32 or images.ndim != 4:
                raise ValueError("images must be a float32 (N,C,H,W) tensor")
            if tuple(images.shape[1:]) != (self.channels, self.resolution, self.resolution):
                raise ValueError(f"images have shape {tuple(images.shape)}, expected "
                                 f"(N,{self.channels},{self.resolution},{self.resolution})")
        if targets is not None and images is not None and len(targets) != len(images):
            raise ValueError("images and targets differ in length")

    # --- size / items -------------------------------------------------------------------
    def __len__(self) -> int:
        if self.images is None:
            raise NotImplementedError("lazy datasets must override __len__")
        return int(self.images.shape[0])

    def _target(self, i: int) -> torch.Tensor:
        if self.targets is None:
            return torch.tensor(-1, dtype=torch.int64)
        return self.targets[i]

    def _load_image(self, i: int) -> torch.Tensor:
        if self.images is None:
            raise NotImplementedError("lazy datasets must override _load_image")
        return self.images[i]

    def _check_index(self, i: int) -> int:
        n = len(self)
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for {self.name} dataset of length {n}")
        return i

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = self._check_index(i)
        return self._load_image(i), self._target(i)

    def get_batch(self, idx: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (B,C,H,W) and targets for integer indices; tensor indexing when in memory."""
        idx = torch.as_tensor(idx, dtype=torch.int64).reshape(-1)
        n = len(self)
        if len(idx) and (int(idx.min()) < -n or int(idx.max()) >= n):
            raise IndexError(f"batch index out of range for {self.name} dataset of length {n}")
        idx = torch.where(idx < 0, idx + n, idx)
        if self.images is not None:
            x = self.images[idx]
        else:
            x = (torch.stack([self._load_image(int(i)) for i in idx]) if len(idx)
                 else torch.empty(0, self.channels, self.resolution, self.resolution))
        y = (self.targets[idx] if self.targets is not None
             else torch.full((len(idx),), -1, dtype=torch.int64))
        return x, y

    def subset(self, n: int) -> "ImageDataset":
        """A dataset of the first ``n`` items (shares memory with this one)."""
        if n < 0 or n > len(self):
            raise ValueError(f"subset({n}): {self.name} ({self.split}) has {len(self)} items")
        out = copy.copy(self)
        for field in self._per_item_fields:
            v = getattr(self, field, None)
            if v is not None:
                setattr(out, field, v[:n])
        return out

    @property
    def num_classes(self) -> int | None:
        return None if self.class_names is None else len(self.class_names)

    def __repr__(self) -> str:
        kind = "in-memory" if self.images is not None else "lazy"
        extra = (f", classes={len(self.class_names)}" if self.class_names else "") + \
                (f", attrs={len(self.attr_names)}" if self.attr_names else "")
        return (f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, n={len(self)}, "
                f"{self.channels}x{self.resolution}x{self.resolution}, {kind}{extra})")


class LazyImageDataset(ImageDataset):
    """Image files read on access (center crop + resize with PIL)."""

    _per_item_fields = ("files", "targets")

    def __init__(self, *, files: Sequence[str], crop: int | None = None, **kw):
        kw.setdefault("channels", 3)
        super().__init__(images=None, **kw)
        self.files = list(files)
        self.crop = crop
        if self.targets is not None and len(self.targets) != len(self.files):
            raise ValueError("files and targets differ in length")

    def __len__(self) -> int:
        return len(self.files)

    def _load_image(self, i: int) -> torch.Tensor:
        return load_image_file(self.files[i], self.resolution, self.crop)
