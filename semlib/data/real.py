"""Real image datasets read from a user-given root. Nothing is ever downloaded."""
from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

from .base import (DatasetNotFoundError, ImageDataset, LazyImageDataset, resize_images,
                   uint8_to_float)

__all__ = ["load_cifar10", "load_celeba", "load_celebahq", "load_folder", "IMAGE_EXTENSIONS",
           "CELEBA_CROP"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
# CelebA aligned images are 178x218; a centered 140x140 crop keeps the face and drops most
# background (the crop used by e.g. the WAE / VQ-VAE-2 CelebA-64 setups).
CELEBA_CROP = 140
_NO_DOWNLOAD = "Pass root=... ; nothing is downloaded in this workplace."


def _need_root(name: str, root: str | None, layout: str) -> Path:
    if root is None:
        raise DatasetNotFoundError(f"{name} needs root=...: expected {layout}. {_NO_DOWNLOAD}")
    r = Path(root).expanduser()
    if not r.is_dir():
        raise DatasetNotFoundError(f"{name} not found at {root}: no such directory; expected "
                                   f"{layout}. {_NO_DOWNLOAD}")
    return r


def _take(n: int | None, length: int, name: str, split: str) -> int:
    if n is None:
        return length
    if n > length:
        raise ValueError(f"n={n} but {name} ({split}) has only {length} images")
    return n


# --- CIFAR-10 ------------------------------------------------------------------------------
def load_cifar10(root: str | None, split: str = "train", resolution: int = 32,
                 n: int | None = None) -> ImageDataset:
    """CIFAR-10 from torchvision's python format (pickle batches), in memory."""
    layout = ("root/cifar-10-batches-py/data_batch_1..5 and test_batch (torchvision format; root "
              "may also be the cifar-10-batches-py folder itself)")
    r = _need_root("CIFAR-10", root, layout)
    if split not in ("train", "test"):
        raise ValueError(f"cifar10 split must be 'train' or 'test', got {split!r}")
    folder = r / "cifar-10-batches-py" if (r / "cifar-10-batches-py").is_dir() else r
    files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"CIFAR-10 not found at {root}: expected {layout}; missing {', '.join(missing)} in "
            f"{folder}. {_NO_DOWNLOAD}")
    data, labels = [], []
    for f in files:
        try:
            with open(folder / f, "rb") as fh:
                d = pickle.load(fh, encoding="latin1")  # the official batches are py2 pickles
            d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}
            data.append(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(d["labels"], dtype=np.int64))
        except Exception as exc:
            raise ValueError(f"cannot read CIFAR-10 batch {folder / f}: {type(exc).__name__}: {exc} "
                             "(expected a pickled dict with 'data' (N,3072) uint8 and 'labels')") from None
    x, y = np.concatenate(data), np.concatenate(labels)
    k = _take(n, len(x), "cifar10", split)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta = folder / "batches.meta"
    if meta.is_file():
        try:
            with open(meta, "rb") as fh:
                m = pickle.load(fh, encoding="latin1")
            names = [s.decode() if isinstance(s, bytes) else str(s) for s in m["label_names"]]
        except Exception:
            pass  # class names are cosmetic; keep the standard ones
    imgs = resize_images(uint8_to_float(x[:k]), resolution).contiguous()
    return ImageDataset(name="cifar10", resolution=resolution, channels=3, images=imgs,
                        targets=torch.from_numpy(y[:k]), class_names=names, split=split,
                        root=str(folder))


# --- CelebA / CelebA-HQ ---------------------------------------------------------------------
def _read_attr_file(path: Path, layout: str) -> tuple[list[str], list[str], np.ndarray]:
    """list_attr_celeba.txt format: count line, header of names, then 'file v1 v2 ...' (-1/1)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read attribute file {path}: {exc}") from None
    bad = f"malformed attribute file {path}: expected line 1 = image count, line 2 = attribute names, " \
          f"then '<image> <±1 per attribute>' rows (layout: {layout})"
    if len(lines) < 2:
        raise ValueError(bad + "; file has fewer than 2 lines")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise ValueError(bad + f"; line 1 is {lines[0][:60]!r}") from None
    names = lines[1].split()
    if not names or any(_is_number(t) for t in names):
        raise ValueError(bad + f"; line 2 is {lines[1][:60]!r}")
    files, rows = [], []
    for ln, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise ValueError(bad + f"; line {ln} has {len(parts) - 1} values for {len(names)} names")
        try:
            rows.append([int(v) for v in parts[1:]])
        except ValueError:
            raise ValueError(bad + f"; line {ln} has non-integer values") from None
        files.append(parts[0])
    if len(files) != count:
        warnings.warn(f"{path}: header says {count} images but {len(files)} rows were read")
    attrs = (np.asarray(rows, dtype=np.int64).reshape(-1, len(names)) > 0).astype(np.float32)
    return names, files, attrs


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _check_images(name: str, folder: Path, files: list[str], attr_file: Path, layout: str) -> None:
    present = set(os.listdir(folder)) if folder.is_dir() else set()
    missing = [f for f in files if f not in present]
    if missing:
        raise DatasetNotFoundError(
            f"{name}: {len(missing)} of {len(files)} images listed in {attr_file.name} are missing "
            f"from {folder} (e.g. {missing[0]}); expected {layout}. {_NO_DOWNLOAD}")


def load_celeba(root: str | None, split: str = "train", resolution: int = 64,
                n: int | None = None, crop: int = CELEBA_CROP) -> LazyImageDataset:
    """CelebA (aligned), lazily loaded, 40 binary attributes; centered ``crop`` square then resize.

    Splits come from ``list_eval_partition.txt`` (0 train / 1 valid / 2 test); ``split="all"``
    uses every image. Without the partition file only "all" (and "train", with a warning) work.
    """
    layout = ("root/img_align_celeba/*.jpg + root/list_attr_celeba.txt "
              "(+ optional root/list_eval_partition.txt)")
    r = _need_root("CelebA", root, layout)
    attr_file = r / "list_attr_celeba.txt"
    img_dir = r / "img_align_celeba"
    if not attr_file.is_file() or not img_dir.is_dir():
        what = [p.name for p in (attr_file, img_dir) if not p.exists()]
        raise DatasetNotFoundError(f"CelebA not found at {root}: expected {layout}; missing "
                                   f"{', '.join(what)}. {_NO_DOWNLOAD}")
    names, files, attrs = _read_attr_file(attr_file, layout)
    if split not in ("train", "valid", "test", "all"):
        raise ValueError(f"celeba split must be train/valid/test/all, got {split!r}")
    if split != "all":
        part_file = r / "list_eval_partition.txt"
        if part_file.is_file():
            part = {}
            for line in part_file.read_text().splitlines():
                p = line.split()
                if len(p) == 2:
                    part[p[0]] = int(p[1])
            want = {"train": 0, "valid": 1, "test": 2}[split]
            keep = np.array([part.get(f, -1) == want for f in files], dtype=bool)
            files = [f for f, k in zip(files, keep) if k]
            attrs = attrs[keep]
        elif split == "train":
            warnings.warn(f"{part_file} not found: CelebA split='train' uses all images")
        else:
            raise DatasetNotFoundError(f"CelebA split={split!r} needs {part_file} "
                                       "(or use split='all').")
    _check_images("CelebA", img_dir, files, attr_file, layout)
    k = _take(n, len(files), "celeba", split)
    return LazyImageDataset(name="celeba", resolution=resolution, channels=3,
                            files=[str(img_dir / f) for f in files[:k]], crop=crop,
                            targets=torch.from_numpy(attrs[:k]), attr_names=names,
                            split=split, root=str(r))


def load_celebahq(root: str | None, split: str = "train", resolution: int = 256,
                  n: int | None = None, test_fraction: float = 0.1) -> LazyImageDataset:
    """CelebA-HQ (CelebAMask-HQ layout), lazily loaded with its 40 attributes.

    No official split exists: in attribute-file order, the last ``test_fraction`` (10%, i.e.
    images 27000..29999) is "test", the rest "train"; "all" uses all 30k (DDGAN trains on all).
    """
    layout = ("root/CelebA-HQ-img/*.jpg (or the images directly in root) + "
              "root/CelebAMask-HQ-attribute-anno.txt (list_attr_celeba format)")
    r = _need_root("CelebA-HQ", root, layout)
    attr_file = r / "CelebAMask-HQ-attribute-anno.txt"
    if not attr_file.is_file():
        raise DatasetNotFoundError(f"CelebA-HQ not found at {root}: expected {layout}; missing "
                                   f"{attr_file.name}. {_NO_DOWNLOAD}")
    img_dir = r / "CelebA-HQ-img" if (r / "CelebA-HQ-img").is_dir() else r
    names, files, attrs = _read_attr_file(attr_file, layout)
    if split not in ("train", "test", "all"):
        raise ValueError(f"celebahq split must be train/test/all, got {split!r}")
    if split != "all":
        cut = len(files) - int(round(len(files) * test_fraction))
        sl = slice(0, cut) if split == "train" else slice(cut, None)
        files, attrs = files[sl], attrs[sl]
    _check_images("CelebA-HQ", img_dir, files, attr_file, layout)
    k = _take(n, len(files), "celebahq", split)
    return LazyImageDataset(name="celebahq", resolution=resolution, channels=3,
                            files=[str(img_dir / f) for f in files[:k]], crop=None,
                            targets=torch.from_numpy(attrs[:k]), attr_names=names,
                            split=split, root=str(r))


# --- any image folder -------------------------------------------------------------------------
def load_folder(root: str | None, split: str = "train", resolution: int = 256,
                n: int | None = None) -> LazyImageDataset:
    """Every .png/.jpg/.jpeg/.webp under ``root`` (recursive, sorted), center-cropped square.

    For FFHQ, LSUN Church exported as images, etc. ``split`` is recorded but does not select
    files: point ``root`` at the split's own folder.
    """
    layout = "image files (.png/.jpg/.jpeg/.webp) anywhere under root"
    r = _need_root("folder", root, layout)
    files = sorted(str(p) for p in r.rglob("*")
                   if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise DatasetNotFoundError(f"folder dataset: no images found under {root}: expected "
                                   f"{layout}. {_NO_DOWNLOAD}")
    k = _take(n, len(files), "folder", split)
    return LazyImageDataset(name="folder", resolution=resolution, channels=3, files=files[:k],
                            crop=None, targets=None, split=split, root=str(r))
