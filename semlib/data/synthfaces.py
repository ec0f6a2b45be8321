"""SynthFaces: a procedural face dataset with ground-truth binary attributes.

Stands in for CelebA-HQ in attribute-editing experiments. Every image is a pure function of
``(attrs, nuisance)`` (see :func:`render_faces`), and those factors are a pure function of
``(seed, index)`` (see :func:`sample_factors`), so image ``i`` never depends on ``n`` or on the
cache, and counterfactual pairs (one attribute flipped, all else equal) can be rendered exactly.

Rendering is vectorised over a batch of faces: shapes are signed-distance primitives in a
per-face coordinate frame (offset / scale / rotation), composited with analytic soft edges on a
supersampled canvas and box-downsampled to the output resolution.
"""
from __future__ import annotations

import colorsys
import glob
import math
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import torch

from .base import ImageDataset, default_cache_dir, uint8_to_float

__all__ = [
    "ATTRIBUTES", "LOCAL", "GLOBAL", "NUISANCE_NAMES", "SynthFaces",
    "sample_factors", "render_faces", "save_preview_grids", "TEST_SEED_OFFSET",
]

LOCAL: list[str] = ["smiling", "glasses", "eyes_closed", "beard", "hat", "earrings", "mouth_open"]
GLOBAL: list[str] = ["face_shape_long", "skin_dark", "long_hair"]
ATTRIBUTES: list[str] = ["smiling", "glasses", "eyes_closed", "beard", "hat",
                         "face_shape_long", "skin_dark", "long_hair", "earrings", "mouth_open"]
_A = {name: k for k, name in enumerate(ATTRIBUTES)}

NUISANCE_NAMES: list[str] = [
    "offset_x", "offset_y", "scale", "rotation_deg", "skin_tone",
    "hair_r", "hair_g", "hair_b",
    "bg1_r", "bg1_g", "bg1_b", "bg2_r", "bg2_g", "bg2_b", "bg_angle_deg",
    "cloth_r", "cloth_g", "cloth_b", "hat_r", "hat_g", "hat_b",
    "eye_spacing", "mouth_width",
]
_N = {name: k for k, name in enumerate(NUISANCE_NAMES)}

# the test split is a different random stream of the same generator, so it never overlaps train
TEST_SEED_OFFSET = 10_000_019
# bump when the renderer or sampler changes: old cache files are then ignored
_RENDER_VERSION = 1

_HAIR_PALETTE = np.array([
    [0.07, 0.06, 0.05],  # black
    [0.22, 0.14, 0.08],  # dark brown
    [0.40, 0.25, 0.13],  # brown
    [0.52, 0.24, 0.11],  # auburn
    [0.78, 0.63, 0.36],  # blonde
    [0.55, 0.55, 0.56],  # grey
])
_HAIR_P = np.array([0.25, 0.25, 0.2, 0.1, 0.12, 0.08])
_SKIN_LIGHT = np.array([[0.99, 0.87, 0.76], [0.88, 0.68, 0.54]], dtype=np.float32)
_SKIN_DARK = np.array([[0.58, 0.40, 0.28], [0.36, 0.24, 0.16]], dtype=np.float32)


# --------------------------------------------------------------------------------------------
# factor sampling
# --------------------------------------------------------------------------------------------
def _hsv(rng: np.random.Generator, s: tuple[float, float], v: tuple[float, float]) -> list[float]:
    return list(colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v)))


def sample_factors(seed: int, indices: np.ndarray | range) -> tuple[np.ndarray, np.ndarray]:
    """Attributes (N,A) bool and nuisance (N,K) float32 for the given indices of stream ``seed``.

    Each face uses its own generator seeded from ``SeedSequence([seed, index])``.
    """
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    attrs = np.zeros((len(indices), len(ATTRIBUTES)), dtype=bool)
    nuis = np.zeros((len(indices), len(NUISANCE_NAMES)), dtype=np.float64)
    for row, i in enumerate(indices):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(i)])))
        attrs[row] = rng.random(len(ATTRIBUTES)) < 0.5  # independent, balanced
        hair = _HAIR_PALETTE[rng.choice(len(_HAIR_PALETTE), p=_HAIR_P)] + rng.uniform(-0.04, 0.04, 3)
        nuis[row] = [
            rng.uniform(-0.07, 0.07), rng.uniform(-0.05, 0.05),   # offset
            rng.uniform(0.92, 1.06), rng.uniform(-10.0, 10.0),    # scale, rotation
            rng.random(),                                         # skin tone within its class
            *np.clip(hair, 0.0, 1.0),
            *_hsv(rng, (0.1, 0.4), (0.72, 0.97)), *_hsv(rng, (0.1, 0.4), (0.72, 0.97)),
            rng.uniform(0.0, 360.0),
            *_hsv(rng, (0.3, 0.8), (0.3, 0.8)),                   # clothing
            *_hsv(rng, (0.65, 0.95), (0.5, 0.85)),                # hat: saturated, mid value
            rng.uniform(-0.015, 0.015), rng.uniform(0.92, 1.08),
        ]
    # renderer input is float32 so that render_faces(ds.attrs, ds.nuisance) reproduces ds exactly
    return attrs, nuis.astype(np.float32)


# the easy variant (issue 7): the same attributes and hair / skin colours, every other nuisance fixed
_EASY_FIXED = {"offset_x": 0.0, "offset_y": 0.0, "scale": 1.0, "rotation_deg": 0.0,
               "bg1_r": 0.80, "bg1_g": 0.84, "bg1_b": 0.88, "bg2_r": 0.80, "bg2_g": 0.84, "bg2_b": 0.88, "bg_angle_deg": 0.0,
               "cloth_r": 0.25, "cloth_g": 0.35, "cloth_b": 0.60, "hat_r": 0.75, "hat_g": 0.20, "hat_b": 0.20,
               "eye_spacing": 0.0, "mouth_width": 1.0}
# the zoom variant (issue 7): the full variant's faces and nuisance, framed 1.5x closer and 0.1 lower so that the
# head (hat included) fills the frame; its one- and two-pixel parts (eyes, earrings, mouth corners) become 1.5x larger
_ZOOM, _ZOOM_DY = 1.5, 0.1
VARIANTS = ("full", "easy", "zoom")


def easy_nuisance(nuis: np.ndarray) -> np.ndarray:
    """The easy variant's nuisance: position, scale, rotation, background, clothing and hat colours and the face's
    proportions fixed; skin tone within its class and hair colour still vary."""
    out = np.array(nuis, dtype=np.float32, copy=True)
    for name, v in _EASY_FIXED.items():
        out[:, _N[name]] = v
    return out


def zoom_nuisance(nuis: np.ndarray) -> np.ndarray:
    """The zoom variant's nuisance: every factor of the full variant, with scale and offset multiplied by 1.5 and the
    face moved down by 0.1 (canvas units of [-1, 1]) so the head stays in the frame."""
    out = np.array(nuis, dtype=np.float32, copy=True)
    out[:, _N["scale"]] *= np.float32(_ZOOM)
    out[:, _N["offset_x"]] *= np.float32(_ZOOM)
    out[:, _N["offset_y"]] = out[:, _N["offset_y"]] * np.float32(_ZOOM) + np.float32(_ZOOM_DY)
    return out


_VARIANT_NUISANCE = {"easy": easy_nuisance, "zoom": zoom_nuisance}


# --------------------------------------------------------------------------------------------
# rendering primitives: all take per-face coordinates U,V (B,S,S) and per-face params (B,1,1)
# and return a signed distance (negative inside) in face units.
# --------------------------------------------------------------------------------------------
def _ellipse(U, V, cx, cy, rx, ry):
    # scaled radial distance: exact on the axes, good enough elsewhere for ~1px soft edges
    r = np.sqrt(((U - cx) / rx) ** 2 + ((V - cy) / ry) ** 2)
    return (r - 1.0) * np.minimum(rx, ry)


def _circle(U, V, cx, cy, r):
    return np.sqrt((U - cx) ** 2 + (V - cy) ** 2) - r


def _box(U, V, cx, cy, hw, hh):
    return np.maximum(np.abs(U - cx) - hw, np.abs(V - cy) - hh)


def _parabola_stroke(U, V, cx, cy, a, hw, thick):
    """Stroke of the curve v = cy + a*(u-cx)^2 for |u-cx| <= hw, half-thickness ``thick``."""
    du = U - cx
    curve = cy + a * du * du
    dist = np.abs(V - curve) / np.sqrt(1.0 + (2.0 * a * du) ** 2)
    return np.maximum(dist - thick, np.abs(du) - hw)


class _Canvas:
    """A batch of supersampled RGB canvases plus the per-face coordinate frames."""

    def __init__(self, nuis: np.ndarray, size: int):
        B = nuis.shape[0]
        f32 = np.float32
        col = lambda k: nuis[:, _N[k]].astype(f32).reshape(B, 1, 1)  # noqa: E731
        xs = ((np.arange(size, dtype=f32) + f32(0.5)) * f32(2.0 / size) - f32(1.0))
        X, Y = xs[None, None, :], xs[None, :, None]
        # per-face trig in float64 python math: identical result whatever the batch composition
        th = np.array([math.radians(float(t)) for t in nuis[:, _N["rotation_deg"]]])
        c = np.cos(th).astype(f32).reshape(B, 1, 1)
        s = np.sin(th).astype(f32).reshape(B, 1, 1)
        sc = col("scale")
        dx, dy = X - col("offset_x"), Y - col("offset_y")
        self.U = (c * dx + s * dy) / sc
        self.V = (-s * dx + c * dy) / sc
        self.px = f32(2.0 / size) / sc  # one canvas pixel in face units
        # background: linear gradient between two colours along a random direction (canvas frame)
        a = np.array([math.radians(float(t)) for t in nuis[:, _N["bg_angle_deg"]]])
        ca = np.cos(a).astype(f32).reshape(B, 1, 1)
        sa = np.sin(a).astype(f32).reshape(B, 1, 1)
        t = np.clip((ca * X + sa * Y) * f32(0.5) + f32(0.5), 0.0, 1.0)[:, None]  # (B,1,S,S)
        c1 = nuis[:, [_N["bg1_r"], _N["bg1_g"], _N["bg1_b"]]].astype(f32)[:, :, None, None]
        c2 = nuis[:, [_N["bg2_r"], _N["bg2_g"], _N["bg2_b"]]].astype(f32)[:, :, None, None]
        self.img = c1 + (c2 - c1) * t  # (B,3,S,S)

    def alpha(self, d, on=None):
        """Coverage from a signed distance: 1 inside, 0 outside, linear over one canvas pixel."""
        a = np.clip(np.float32(0.5) - d / self.px, 0.0, 1.0)
        if on is not None:
            a = a * on.reshape(-1, 1, 1).astype(np.float32)
        return a

    def paint(self, alpha, color, opacity: float = 1.0):
        """Alpha-composite ``color`` (B,3) or (3,) over the canvas."""
        color = np.asarray(color, dtype=np.float32)
        color = color.reshape(-1, 3)[:, :, None, None]
        a = alpha[:, None] if opacity == 1.0 else alpha[:, None] * np.float32(opacity)
        tmp = color - self.img  # in place from here on: this is the renderer's hot loop
        tmp *= a
        self.img += tmp

    def downsample(self, factor: int) -> np.ndarray:
        """Box filter by ``factor`` with a fixed summation order -> uint8 (B,R,R,3)."""
        acc = None
        for i in range(factor):
            for j in range(factor):
                sl = self.img[:, :, i::factor, j::factor]
                acc = sl.copy() if acc is None else acc + sl
        acc = acc * np.float32(255.0 / (factor * factor))
        return np.rint(np.clip(acc, 0.0, 255.0)).astype(np.uint8).transpose(0, 2, 3, 1)


def _render_batch(attrs: np.ndarray, nuis: np.ndarray, resolution: int, ss: int) -> np.ndarray:
    f32 = np.float32
    B = attrs.shape[0]
    cv = _Canvas(nuis, resolution * ss)
    U, V = cv.U, cv.V
    on = {k: attrs[:, _A[k]] for k in ATTRIBUTES}
    p = lambda v: np.broadcast_to(np.asarray(v, dtype=f32).reshape(-1, 1, 1), (B, 1, 1))  # noqa: E731
    n = lambda k: nuis[:, _N[k]].astype(f32)  # noqa: E731

    long_face = on["face_shape_long"]
    rx = p(np.where(long_face, 0.33, 0.42))
    ry = p(np.where(long_face, 0.60, 0.47))
    hc = f32(-0.06)  # head centre (y grows downwards)

    t = n("skin_tone")[:, None]
    light = _SKIN_LIGHT[0] + (_SKIN_LIGHT[1] - _SKIN_LIGHT[0]) * t
    dark = _SKIN_DARK[0] + (_SKIN_DARK[1] - _SKIN_DARK[0]) * t
    skin = np.where(on["skin_dark"][:, None], dark, light).astype(f32)
    hair = np.stack([n("hair_r"), n("hair_g"), n("hair_b")], 1)
    cloth = np.stack([n("cloth_r"), n("cloth_g"), n("cloth_b")], 1)
    hat = np.stack([n("hat_r"), n("hat_g"), n("hat_b")], 1)

    # torso, then long hair falling behind the neck onto the shoulders, then neck and head
    cv.paint(cv.alpha(_ellipse(U, V, 0.0, 1.22, 0.78, 0.5)), cloth)
    hair_back = np.minimum(
        _ellipse(U, V, 0.0, hc - 0.03, rx + 0.1, ry + 0.09),
        _box(U, V, 0.0, 0.33, rx + 0.13, 0.42) + 0.0)
    cv.paint(cv.alpha(hair_back, on["long_hair"]), hair)
    cv.paint(cv.alpha(_box(U, V, 0.0, hc + ry * 0.6 + 0.2, 0.14, 0.22)), skin * f32(0.86))
    for side in (-1.0, 1.0):
        cv.paint(cv.alpha(_ellipse(U, V, side * rx, hc + 0.02, p(0.07), p(0.11))), skin * f32(0.9))
    cv.paint(cv.alpha(_ellipse(U, V, 0.0, hc, rx, ry)), skin)

    eye_y = hc - f32(0.05)
    mouth_y = hc + ry * f32(0.52)
    ex = rx * f32(0.45) + p(n("eye_spacing"))

    # beard: lower face incl. sideburns
    beard_top = mouth_y - f32(0.09) - f32(0.3) * ry * (U / rx) ** 2
    beard = np.maximum(_ellipse(U, V, 0.0, hc, rx + 0.012, ry + 0.015), beard_top - V)
    # mixing in the skin keeps the beard clearly darker than the face even for blonde on dark skin
    cv.paint(cv.alpha(beard, on["beard"]), (hair + skin) * f32(0.17) + f32(0.01))

    # short hair cap with a curved hairline (present for both hair lengths)
    hairline = hc - ry * f32(0.52) + f32(0.32) * ry * (U / rx) ** 2
    cap = np.maximum(_ellipse(U, V, 0.0, hc - 0.04, rx + 0.045, ry + 0.06), V - hairline)
    cv.paint(cv.alpha(cap), hair)

    # nose
    cv.paint(cv.alpha(_ellipse(U, V, 0.0, (eye_y + mouth_y) * f32(0.5) + f32(0.01), p(0.035), p(0.06))),
             skin * f32(0.8))

    # eyebrows, eyes (open: white + iris; closed: downward arc)
    closed = on["eyes_closed"]
    for side in (-1.0, 1.0):
        cx = side * ex
        cv.paint(cv.alpha(_parabola_stroke(U, V, cx, eye_y - 0.1, p(2.0), p(0.085), p(0.022))),
                 hair * f32(0.6))
        cv.paint(cv.alpha(_ellipse(U, V, cx, eye_y, p(0.09), p(0.06)), ~closed), [0.97, 0.97, 0.97])
        cv.paint(cv.alpha(_circle(U, V, cx, eye_y, p(0.045)), ~closed), [0.12, 0.08, 0.06])
        cv.paint(cv.alpha(_parabola_stroke(U, V, cx, eye_y - 0.005, p(-3.0), p(0.08), p(0.02)), closed),
                 [0.15, 0.08, 0.06])

    # mouth: smiling = wide curve with raised corners, neutral = narrow, corners slightly down;
    # open = dark cavity below the lip line with a strip of teeth
    mw = p(n("mouth_width"))
    smile = on["smiling"]
    hw = p(np.where(smile, 0.2, 0.14)) * mw
    lift = p(np.where(smile, -0.085, 0.02))  # corner height relative to the centre (y down)
    a = lift / (hw * hw)
    upper = mouth_y - lift * f32(0.4)  # keeps the mouth's mean height roughly fixed
    curve = upper + a * U * U
    depth = f32(0.21) * np.clip(1.0 - (U / hw) ** 2, 0.0, 1.0)
    side = np.abs(U) - hw
    cv.paint(cv.alpha(np.maximum(np.maximum(curve - V, V - (curve + depth)), side), on["mouth_open"]),
             [0.16, 0.02, 0.04])
    teeth = np.maximum(np.maximum(curve - V, V - (curve + np.minimum(depth, f32(0.06)))), side + f32(0.03))
    cv.paint(cv.alpha(teeth, on["mouth_open"]), [0.96, 0.94, 0.9])
    cv.paint(cv.alpha(_parabola_stroke(U, V, 0.0, upper, a, hw, p(0.03))), [0.68, 0.1, 0.14])

    # glasses: tinted lenses, thick dark rims, bridge and temple arms
    R = f32(0.115)
    for side in (-1.0, 1.0):
        cx = side * ex
        cv.paint(cv.alpha(_circle(U, V, cx, eye_y, p(R)), on["glasses"]), [0.05, 0.05, 0.1], 0.45)
        ring = np.abs(_circle(U, V, cx, eye_y, p(R))) - f32(0.026)
        cv.paint(cv.alpha(ring, on["glasses"]), [0.05, 0.05, 0.05])
        arm_c = side * (ex + R + (rx - ex - R) * f32(0.5))
        arm = _box(U, V, arm_c, eye_y - 0.02, (rx - ex - R) * f32(0.5) + f32(0.01), p(0.018))
        cv.paint(cv.alpha(arm, on["glasses"]), [0.05, 0.05, 0.05])
    cv.paint(cv.alpha(_box(U, V, 0.0, eye_y - 0.02, ex - R + f32(0.01), p(0.018)), on["glasses"]),
             [0.05, 0.05, 0.05])

    # earrings: bright gold studs below the ears
    for side in (-1.0, 1.0):
        cv.paint(cv.alpha(_circle(U, V, side * (rx + 0.005), hc + 0.13, p(0.045)), on["earrings"]),
                 [1.0, 0.82, 0.15])

    # hat: saturated dome over the hair plus a wider brim
    brim_y = hc - ry * f32(0.5)
    dome = np.maximum(_ellipse(U, V, 0.0, brim_y, rx * f32(1.06), p(0.36)), V - brim_y)
    cv.paint(cv.alpha(dome, on["hat"]), hat)
    cv.paint(cv.alpha(_box(U, V, 0.0, brim_y, rx * f32(1.32), p(0.04)) - f32(0.015), on["hat"]),
             hat * f32(0.75))

    return cv.downsample(ss)


def _supersample(resolution: int) -> int:
    # at least ~64 canvas pixels so thin strokes survive; 2x above that (edges are analytic AA)
    return max(2, math.ceil(64 / resolution))


def render_faces(attrs: np.ndarray | torch.Tensor, nuisance: np.ndarray | torch.Tensor,
                 resolution: int = 32, batch_size: int | None = None) -> np.ndarray:
    """Render faces from attributes (N,A) bool/0-1 and nuisance (N,K) -> uint8 (N,R,R,3).

    Columns follow :data:`ATTRIBUTES` and :data:`NUISANCE_NAMES`. Flip one attribute column to
    get an exact counterfactual of the same face.
    """
    attrs = np.asarray(attrs.cpu() if isinstance(attrs, torch.Tensor) else attrs) > 0.5
    nuis = np.asarray(nuisance.cpu() if isinstance(nuisance, torch.Tensor) else nuisance,
                      dtype=np.float32)
    if attrs.ndim != 2 or attrs.shape[1] != len(ATTRIBUTES):
        raise ValueError(f"attrs must be (N,{len(ATTRIBUTES)}) in ATTRIBUTES order, got {attrs.shape}")
    if nuis.shape != (attrs.shape[0], len(NUISANCE_NAMES)):
        raise ValueError(f"nuisance must be (N,{len(NUISANCE_NAMES)}), got {nuis.shape}")
    if not 16 <= resolution <= 128:
        raise ValueError(f"synthfaces resolution must be in [16, 128], got {resolution}")
    ss = _supersample(resolution)
    size = resolution * ss
    bs = batch_size or max(1, int(2.5e6 // (size * size)))
    out = np.empty((attrs.shape[0], resolution, resolution, 3), dtype=np.uint8)
    for i in range(0, attrs.shape[0], bs):
        out[i:i + bs] = _render_batch(attrs[i:i + bs], nuis[i:i + bs], resolution, ss)
    return out


# --------------------------------------------------------------------------------------------
# dataset with an on-disk cache
# --------------------------------------------------------------------------------------------
def _prefix(variant: str) -> str:
    return "synthfaces" if variant == "full" else f"synthfaces-{variant}"


def _cache_path(cache_dir: Path, seed: int, resolution: int, n: int, variant: str = "full") -> Path:
    return cache_dir / f"{_prefix(variant)}_v{_RENDER_VERSION}_{seed}_{resolution}_{n}.npz"


def _find_cache(cache_dir: Path, seed: int, resolution: int, n: int, variant: str = "full") -> Path | None:
    """Smallest cached file of this stream with at least ``n`` faces (a prefix is identical)."""
    best: tuple[int, Path] | None = None
    pre = _prefix(variant)
    pat = re.compile(rf"{re.escape(pre)}_v{_RENDER_VERSION}_{seed}_{resolution}_(\d+)\.npz$")
    for f in glob.glob(str(cache_dir / f"{pre}_v{_RENDER_VERSION}_{seed}_{resolution}_*.npz")):
        m = pat.search(os.path.basename(f))
        if m and int(m.group(1)) >= n and (best is None or int(m.group(1)) < best[0]):
            best = (int(m.group(1)), Path(f))
    return None if best is None else best[1]


def _save_npz_atomic(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)  # atomic: concurrent readers never see a half-written file
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class SynthFaces(ImageDataset):
    """Procedural faces with 10 binary attributes (``targets`` (N,A) float 0/1).

    Extra fields: ``attrs`` (N,A) bool tensor, ``nuisance`` (N,K) float32 tensor with
    ``nuisance_names``; ``stream_seed`` is the generator seed actually used (test split differs).
    """

    _per_item_fields = ("images", "targets", "attrs", "nuisance")

    def __init__(self, n: int | None = None, resolution: int = 32, seed: int = 0,
                 split: str = "train", cache_dir: str | os.PathLike | None = None,
                 cache: bool = True, progress: bool = False, variant: str = "full"):
        if variant not in VARIANTS:
            raise ValueError(f"synthfaces variant must be one of {VARIANTS}, got {variant!r}")
        self.variant = variant
        if split not in ("train", "test"):
            raise ValueError(f"synthfaces split must be 'train' or 'test', got {split!r}")
        if not 16 <= resolution <= 128:
            raise ValueError(f"synthfaces resolution must be in [16, 128], got {resolution}")
        n = (10000 if split == "train" else 2000) if n is None else int(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        stream = int(seed) + (TEST_SEED_OFFSET if split == "test" else 0)
        images_u8, attrs, nuis = self._load_or_generate(n, resolution, stream, cache_dir, cache, progress, variant)
        super().__init__(name="synthfaces" if variant == "full" else f"synthfaces_{variant}", resolution=resolution, channels=3,
                         images=uint8_to_float(images_u8).permute(0, 3, 1, 2).contiguous(),
                         targets=torch.from_numpy(attrs.astype(np.float32)),
                         attr_names=list(ATTRIBUTES), split=split)
        self.seed = int(seed)
        self.stream_seed = stream
        self.attrs = torch.from_numpy(attrs.copy())
        self.nuisance = torch.from_numpy(nuis.copy())
        self.nuisance_names = list(NUISANCE_NAMES)
        self.local_attrs = list(LOCAL)
        self.global_attrs = list(GLOBAL)

    @staticmethod
    def _load_or_generate(n, resolution, stream, cache_dir, cache, progress, variant="full"):
        cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        if cache:
            found = _find_cache(cdir, stream, resolution, n, variant)
            if found is not None:
                try:
                    with np.load(found) as z:
                        return z["images"][:n], z["attrs"][:n].astype(bool), z["nuisance"][:n]
                except Exception:  # unreadable cache: regenerate and overwrite below
                    pass
        attrs, nuis = sample_factors(stream, range(n))
        if variant in _VARIANT_NUISANCE:
            nuis = _VARIANT_NUISANCE[variant](nuis)
        images = np.empty((n, resolution, resolution, 3), dtype=np.uint8)
        step = 1000
        for i in range(0, n, step):
            images[i:i + step] = render_faces(attrs[i:i + step], nuis[i:i + step], resolution)
            if progress:
                print(f"\rsynthfaces: rendered {min(i + step, n)}/{n}", end="", flush=True)
        if progress:
            print()
        if cache:
            _save_npz_atomic(_cache_path(cdir, stream, resolution, n, variant), images=images,
                             attrs=attrs.astype(np.uint8), nuisance=nuis)
        return images, attrs, nuis

    def counterfactual(self, i: int, attr: str, value: bool | None = None) -> torch.Tensor:
        """Face ``i`` re-rendered with ``attr`` set to ``value`` (default: flipped); (3,R,R)."""
        a = self.attrs[i].numpy().copy()[None]
        k = ATTRIBUTES.index(attr)
        a[0, k] = (not a[0, k]) if value is None else bool(value)
        img = render_faces(a, self.nuisance[i].numpy()[None], self.resolution)
        return uint8_to_float(img[0]).permute(2, 0, 1)


# --------------------------------------------------------------------------------------------
# previews
# --------------------------------------------------------------------------------------------
def _grid(images: np.ndarray, ncol: int, pad: int = 1, upscale: int = 1) -> np.ndarray:
    n, h, w, _ = images.shape
    nrow = math.ceil(n / ncol)
    g = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, np.uint8)
    for k in range(n):
        r, c = divmod(k, ncol)
        g[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = images[k]
    return g.repeat(upscale, 0).repeat(upscale, 1) if upscale > 1 else g


def save_preview_grids(path: str = "/tmp/synthfaces_preview.png",
                       toggle_path: str = "/tmp/synthfaces_toggles.png",
                       resolution: int = 32, seed: int = 0, face: int = 0, upscale: int = 4) -> None:
    """Save 64 faces (8x8 grid) and, for face ``face``, one row per attribute: original | toggled."""
    from PIL import Image

    attrs, nuis = sample_factors(seed, range(64))
    Image.fromarray(_grid(render_faces(attrs, nuis, resolution), 8, upscale=upscale)).save(path)
    a0, n0 = attrs[face:face + 1], nuis[face:face + 1]
    rows = [a0.copy()]
    for k in range(len(ATTRIBUTES)):
        a = a0.copy()
        a[0, k] = ~a[0, k]
        rows.append(a)
    imgs = render_faces(np.concatenate(rows), np.repeat(n0, len(rows), 0), resolution)
    Image.fromarray(_grid(imgs, len(rows), upscale=upscale)).save(toggle_path)
