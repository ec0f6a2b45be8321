"""Where a DDGAN diffuses: pixels (DDGAN), Haar wavelet coefficients (WDDGAN) or an autoencoder's latents (LDDGAN).

A space maps images x in [-1, 1] (B, C, H, W) to the tensor the GAN sees and back:

    space = WaveletSpace()
    y = space.encode(x)                 # (B, 4C, H/2, W/2): LL, LH, HL, HH stacked on channels, divided by 2
    x = space.decode(y)                 # the inverse transform (G's output times 2 first)
    space.shape(3, 32)                  # (12, 16): channels and side of y

One DDGAN process, loop and sampler work in any space (semlib.methods.ddgan); a space adds encode / decode,
nothing else.  The wavelet transform comes from `ptwt` (a maintained PyTorch wavelet package), not from code of ours.
"""
from __future__ import annotations

from typing import Protocol

import torch

from .checkpoint import sha256_weights


class Space(Protocol):
    name: str

    def shape(self, in_ch: int, resolution: int) -> tuple[int, int]:
        """(channels, side) of the encoded tensor for images of in_ch channels and this side."""
        ...

    def encode(self, x: torch.Tensor) -> torch.Tensor: ...

    def decode(self, y: torch.Tensor) -> torch.Tensor: ...

    def meta(self) -> dict: ...


class PixelSpace:
    """The identity: DDGAN itself."""
    name = "pixel"

    def shape(self, in_ch: int, resolution: int) -> tuple[int, int]:
        return in_ch, resolution

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        return y

    def meta(self) -> dict:
        return {"space": "pixel"}


def _is_pow2(n: int) -> bool:
    return n >= 2 and (n & (n - 1)) == 0


class WaveletSpace:
    """One-level 2-D Haar DWT (WDDGAN, Phung et al. 2023): the four sub-bands of every channel stacked on channels
    in the order LL, then the three detail bands as ptwt returns them, divided by `scale` = 2 so that images in
    [-1, 1] give coefficients in [-1, 1]; decode multiplies by 2 and inverts.  The reference's order of the three
    detail bands differs in naming only; the generator learns whatever fixed order it is given."""
    name = "wavelet"

    def __init__(self, wavelet: str = "haar", scale: float = 2.0):
        import pywt                                  # installed with ptwt
        self.wavelet = pywt.Wavelet(wavelet)
        self.scale = float(scale)

    def shape(self, in_ch: int, resolution: int) -> tuple[int, int]:
        if not _is_pow2(resolution):
            raise ValueError(f"the wavelet space needs an image side that is a power of two (the DWT halves it and "
                             f"the U-Net halves it again), got {resolution}")
        return 4 * in_ch, resolution // 2

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        import ptwt
        self.shape(x.shape[1], x.shape[-1])
        if x.shape[-1] != x.shape[-2]:
            raise ValueError(f"the wavelet space expects square images, got {tuple(x.shape[-2:])}")
        ll, (d1, d2, d3) = ptwt.wavedec2(x, self.wavelet, level=1, mode="zero")
        return torch.cat([ll, d1, d2, d3], dim=1) / self.scale

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        import ptwt
        if y.shape[1] % 4:
            raise ValueError(f"wavelet coefficients have 4 x C channels, got {y.shape[1]}")
        ll, d1, d2, d3 = (y * self.scale).chunk(4, dim=1)
        return ptwt.waverec2((ll, ptwt.constants.WaveletDetailTuple2d(d1, d2, d3)), self.wavelet)

    def meta(self) -> dict:
        return {"space": "wavelet", "wavelet": self.wavelet.name, "levels": 1, "scale": self.scale, "package": "ptwt"}


class LatentSpace:
    """The latents of a frozen, trained autoencoder (LDDGAN, Trinh & Hoang 2024), divided by its scale factor
    (measured from the encoded training set and stored with the autoencoder, semlib.methods.autoencoder) and clamped
    to [-1, 1], the range of the generator's output."""
    name = "latent"

    def __init__(self, autoencoder, expect_shape: tuple[int, int] | None = None):
        self.ae = autoencoder.eval().requires_grad_(False)
        if getattr(self.ae, "scale_factor", None) is None:
            raise ValueError("the autoencoder has no scale factor yet: measure it on its training set first "
                             "(Autoencoder.measure_scale_factor)")
        self.expect_shape = expect_shape

    def shape(self, in_ch: int, resolution: int) -> tuple[int, int]:
        if in_ch != self.ae.config.in_ch or resolution != self.ae.config.resolution:
            raise ValueError(f"the autoencoder was trained on {self.ae.config.in_ch}-channel {self.ae.config.resolution} px "
                             f"images; these are {in_ch}-channel {resolution} px")
        shape = (self.ae.config.z_ch, self.ae.latent_side)
        if self.expect_shape is not None and tuple(self.expect_shape) != shape:
            raise ValueError(f"this autoencoder makes {shape[0]} x {shape[1]} x {shape[1]} latents; the run expects "
                             f"{self.expect_shape[0]} x {self.expect_shape[1]} x {self.expect_shape[1]}")
        return shape

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents over the scale factor, clamped to [-1, 1] (the range of the generator's tanh; the factor gives the
        training latents a std of 0.5, semlib.methods.autoencoder.measure_scale_factor)."""
        self._follow(x.device)
        return (self.ae.encode(x) / self.ae.scale_factor).clamp(-1.0, 1.0)

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """Images from scaled latents; differentiable in y (Asyrp's directional loss on a latent DPM reads decoded
        predictions; the autoencoder's weights never take gradients)."""
        self._follow(y.device)
        return self.ae.decode(y * self.ae.scale_factor)

    def _follow(self, device) -> None:
        """Keep the autoencoder on the device of the data it is given (a run on a GPU moves its batches there)."""
        if next(self.ae.parameters()).device != torch.device(device):
            self.ae.to(device)

    def fingerprint(self) -> str:
        """A hash of the autoencoder's weights and scale factor: a latent run refuses to resume with another one."""
        return sha256_weights(self.ae.state_dict(), repr(float(self.ae.scale_factor)).encode())[:16]

    def meta(self) -> dict:
        return {"space": "latent", "autoencoder": self.ae.config.to_dict() if hasattr(self.ae.config, "to_dict") else
                str(self.ae.config), "scale_factor": float(self.ae.scale_factor), "fingerprint": self.fingerprint()}


SPACES = ("pixel", "wavelet", "latent")
