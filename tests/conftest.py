import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SEMLIB_CACHE", str(ROOT / ".cache" / "test"))
os.environ.setdefault("SEMLIB_NETWORKS", str(ROOT / ".cache" / "test" / "kept-networks"))   # not the committed ones
os.environ.setdefault("SEMLIB_STUDY", "1")      # the suite checks the committed results/ tree, as the runner sees it


class TensorImages:
    """A minimal in-memory dataset with the ImageDataset batch interface."""

    def __init__(self, n=64, c=3, r=16, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(n, c, r, r, generator=g) * 2 - 1
        self.targets = torch.randint(0, 2, (n,), generator=g)
        self.resolution, self.channels = r, c

    def __len__(self):
        return len(self.images)

    def get_batch(self, idx):
        return self.images[idx], self.targets[idx]


@pytest.fixture
def tiny_images():
    return TensorImages()


def live(net, std=0.05, seed=1):
    """Give the layers that the reference initialises at zero (second convs, attention outputs, output
    convs) small random weights, as after any training, so that every input reaches the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in net.modules():
            if getattr(mod, "zero_init", False):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * std)
    return net


class Discs(TensorImages):
    """A toy image set a GAN learns quickly: one coloured disc on a dark background per image."""

    def __init__(self, n=256, r=16, seed=0):
        g = torch.Generator().manual_seed(seed)
        yy, xx = torch.meshgrid(torch.arange(r), torch.arange(r), indexing="ij")
        cx, cy = torch.randint(4, r - 4, (n,), generator=g), torch.randint(4, r - 4, (n,), generator=g)
        colour = torch.rand(n, 3, generator=g) * 2 - 1
        disc = (((xx[None] - cx[:, None, None]) ** 2 + (yy[None] - cy[:, None, None]) ** 2) <= 9).float()[:, None]
        self.images = disc * colour[:, :, None, None] + (1 - disc) * -0.8
        self.targets = torch.zeros(n, dtype=torch.long)
        self.resolution, self.channels = r, 3
