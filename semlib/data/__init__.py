"""Datasets for the study: float32 NCHW images in [-1, 1] with labels or attributes.

    from semlib.data import load_dataset, DATASETS
    ds = load_dataset("synthfaces", n=2000, cache_dir="/tmp/cache")
    x, y = ds.get_batch(torch.arange(64))
"""
from .base import (DatasetNotFoundError, ImageDataset, ImageReadError, LazyImageDataset,
                   default_cache_dir)
from .mnistlike import FASHION_CLASSES, read_idx
from .registry import ALIASES, DATASETS, DEFAULT_RESOLUTION, load_dataset
from .synthfaces import (ATTRIBUTES, GLOBAL, LOCAL, NUISANCE_NAMES, SynthFaces, render_faces,
                         sample_factors, save_preview_grids)

__all__ = [
    "ImageDataset", "LazyImageDataset", "DatasetNotFoundError", "ImageReadError",
    "default_cache_dir", "load_dataset", "DATASETS", "ALIASES", "DEFAULT_RESOLUTION",
    "SynthFaces", "render_faces", "sample_factors", "save_preview_grids",
    "ATTRIBUTES", "LOCAL", "GLOBAL", "NUISANCE_NAMES", "FASHION_CLASSES", "read_idx",
]
