"""Frozen dataclass configs with one preset per scale (smoke / cpu / gpu / paper).

Overrides go through `dataclasses.replace` (or `with_overrides`, which also parses strings from
notebook parameters); the resolved config is written as JSON beside every run and stored in
every checkpoint.
"""
from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass
from typing import Any

SCALES = ("smoke", "cpu", "gpu", "paper")


class _ConfigIO:
    """JSON round trip shared by every config (written beside each run and stored in its checkpoints)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        return with_overrides(cls(), **{k: v for k, v in d.items() if k in _field_names(cls)})

    def summary(self, width: int = 110) -> str:
        """Every field as name=value in declaration order, wrapped at `width` (a few lines in a notebook instead
        of a page of JSON; the whole config is in the run's config.json and the result's meta.json)."""
        lines, cur = [], type(self).__name__ + ":"
        for f in dataclasses.fields(self):
            item = f"{f.name}={getattr(self, f.name)!r}"
            if len(cur) + 1 + len(item) > width and cur.strip():
                lines.append(cur)
                cur = "  " + item
            else:
                cur += " " + item
        return "\n".join(lines + [cur])


@dataclass(frozen=True)
class DDGANConfig(_ConfigIO):
    # data
    dataset: str = "synthfaces"          # a name known to semlib.data.load_dataset
    resolution: int = 32                 # image side in pixels
    n_train: int | None = None           # limit the training set (None = dataset default)
    # diffusion
    num_timesteps: int = 4               # T: number of denoising steps (= NFE of the sampler)
    beta_min: float = 0.1                # VP-SDE beta_min
    beta_max: float = 20.0               # VP-SDE beta_max
    # generator (NCSN++-style U-Net)
    ch: int = 64                         # base channels
    ch_mult: tuple[int, ...] = (1, 2, 2)  # channel multiplier per resolution level
    num_res_blocks: int = 2              # residual blocks per level
    attn_resolutions: tuple[int, ...] = (16,)  # resolutions with self-attention
    dropout: float = 0.0                 # dropout in residual blocks
    nz: int = 100                        # latent z dimension
    z_emb_dim: int = 256                 # width of the z mapping network
    n_mlp: int = 4                       # hidden layers of the z mapping network
    backbone: str = "unet"               # G's backbone: 'unet' (NCSN++-style) or 'vit' (U-ViT-style, LDDGAN-T12)
    vit_dim: int = 256                   # vit: token width
    vit_depth: int = 8                   # vit: transformer blocks (even: long skips pair the halves)
    vit_heads: int = 4                   # vit: attention heads
    vit_patch: int = 2                   # vit: patch side
    # discriminator (NVlabs Discriminator_small at the defaults)
    d_ch: int = 64                       # ngf: base channels of D
    d_ch_mult: tuple[int, ...] = (2, 4, 8, 8)  # width multiplier per D block (the last log2(res/4) downsample)
    t_emb_dim: int = 256                 # time-embedding width in D
    d_ch_by_t: tuple[int, ...] = ()      # one D per denoising step with these base widths, t = 0 first (then each
                                         # batch's t are stratified, n / T per step); () = one shared D of width d_ch
    # both networks
    resample_filter: str = "fir"         # 'fir' ([1,3,3,1], the reference) or 'box' (avg pool / nearest)
    init: str = "ddpm"                   # 'ddpm' (reference variance scaling + zero-init layers) or 'torch'
    # the space the GAN diffuses in and G's reconstruction term (WDDGAN, Phung et al. 2023; LDDGAN, 004)
    space: str = "pixel"                 # 'pixel' (DDGAN), 'wavelet' (WDDGAN: one-level Haar DWT), 'latent' (LDDGAN)
    autoencoder: str | None = None       # latent space: checkpoint of the trained autoencoder (semlib.methods.autoencoder)
    autoencoder_sha: str | None = None   # its fingerprint, filled in when the method is made: a run resumes only with it
    rec_loss: str = "none"               # L1(x0', x0) in the space, added to G's loss: 'none', 'fixed' (times rec_weight;
                                         # WDDGAN's, weight 1) or 'weighted' (004's Weighted Learning, lambda 1 -> 0)
    rec_weight: float = 1.0              # the weight of rec_loss='fixed'
    wl_form: str = "code"                # Weighted Learning: 'code' (phi from -delta to +delta) or 'paper' (004 Eq. 9)
    wl_delta: float = 6.0                # Weighted Learning's delta (the reference code's 6)
    # optimisation
    batch_size: int = 64                 # global batch size (split over processes with DDP)
    steps: int = 2000                    # total training iterations (one D step + one G step each)
    lr_g: float = 1.6e-4                 # generator learning rate (Adam)
    lr_d: float = 1.25e-4                # discriminator learning rate (Adam)
    beta1: float = 0.5                   # Adam beta1
    beta2: float = 0.9                   # Adam beta2
    lr_min: float = 1e-5                 # cosine decay floor
    lr_decay: bool = True                # cosine decay of both learning rates over `steps`
    r1_gamma: float = 0.02               # R1 weight gamma (penalty = gamma/2 E|grad D|^2)
    lazy_reg: int = 15                   # apply R1 every lazy_reg D steps (not multiplied by lazy_reg)
    ema_decay: float = 0.9999            # EMA of G
    ema_warmup: bool = False             # EMA decay min(ema_decay, (1 + step) / (10 + step)) (semlib.train)
    grad_clip: float | None = None       # optional global gradient-norm clip (None = off, as reference)
    # bookkeeping
    seed: int = 0                        # training seed (data order, noise, init)
    log_every: int = 50                  # status line and loss log every N steps
    ckpt_every: int = 500                # checkpoint every N steps
    keep_ckpts: int = 2                  # how many checkpoints to keep
    n_eval: int = 1000                   # samples for FID_dom / precision / recall
    eval_every: int | None = None        # learning curve: FID / recall of min(n_eval, 500) samples every N steps
    threads: int | None = None           # torch CPU threads (None = torch default)

    def __post_init__(self):
        _check_types(self)
        self._validate()

    def _validate(self) -> None:
        """Each impossible value gets one error that names the field and the allowed range."""
        _check_ranges(self, _DDGAN_RANGES)
        from .data.registry import ALIASES, DATASETS     # lazy: config must import without the data module
        if self.dataset.lower() not in DATASETS and self.dataset.lower() not in ALIASES:
            raise ConfigError(f"dataset={self.dataset!r}: allowed values are {sorted(DATASETS)} (or the aliases {sorted(ALIASES)})")
        for name, allowed in (("space", ("pixel", "wavelet", "latent")), ("rec_loss", ("none", "fixed", "weighted")),
                              ("backbone", ("unet", "vit")),
                              ("wl_form", ("code", "paper"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r}: allowed values are {list(allowed)}")
        if self.d_ch_by_t and len(self.d_ch_by_t) != self.num_timesteps:
            raise ConfigError(f"d_ch_by_t={self.d_ch_by_t}: one width per denoising step, so {self.num_timesteps} "
                              f"(num_timesteps), or () for one shared discriminator")
        res = self.resolution                  # the side the networks see (the latent side is the autoencoder's)
        if self.space == "wavelet":
            if res & (res - 1):
                raise ConfigError(f"resolution={res}: the wavelet space needs a power of two (the Haar DWT halves it)")
            res //= 2
        if self.space == "latent":
            return
        levels = 2 ** (len(self.ch_mult) - 1)
        if res % levels:
            seen = "" if res == self.resolution else f" (the U-Net sees {res} px)"
            raise ConfigError(f"resolution={self.resolution}: must be divisible by {levels * self.resolution // res}{seen}, "
                              f"since the U-Net halves it {len(self.ch_mult) - 1} times (ch_mult={self.ch_mult})")
        n_down = max(0, int(math.log2(res // 4))) if res >= 4 else 0
        if n_down > len(self.d_ch_mult):
            raise ConfigError(f"d_ch_mult={self.d_ch_mult}: a {res} px discriminator needs at least {n_down} "
                              f"blocks to reach 4x4")



class ConfigError(ValueError):
    """An impossible config value (raised when the config is made)."""


def _instance_of(v: Any, t: Any) -> bool:
    """isinstance for the annotations used by the configs: int (not bool), float (int accepted), str, bool,
    X | None and tuple[X, ...]."""
    origin = typing.get_origin(t)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        return any(_instance_of(v, a) for a in typing.get_args(t))
    if t is type(None):
        return v is None
    if origin is tuple:
        args = typing.get_args(t)
        return isinstance(v, tuple) and all(_instance_of(x, args[0]) for x in v)
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if t is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if t in (str, bool):
        return isinstance(v, t)
    return True


def _check_types(cfg) -> None:
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if not _instance_of(v, hints[f.name]):
            want = hints[f.name]
            want = "a finite number" if want is float else \
                str(want).replace("typing.", "") if typing.get_origin(want) else want.__name__
            raise ConfigError(f"{f.name}={v!r}: must be {want}")


def _check_ranges(cfg, ranges: dict[str, tuple[Any, str]]) -> None:
    for name, (ok, allowed) in ranges.items():
        v = getattr(cfg, name)
        if v is None:
            continue
        if isinstance(v, tuple) and not v and "non-empty" in allowed:
            raise ConfigError(f"{name}={v!r}: allowed {allowed}")
        if not (all(ok(x) for x in v) if isinstance(v, tuple) else ok(v)):
            raise ConfigError(f"{name}={v!r}: allowed {allowed}")


_pos = (lambda v: v >= 1, ">= 1")
_DDGAN_RANGES: dict[str, tuple[Any, str]] = {
    "rec_weight": (lambda v: v >= 0, ">= 0"), "wl_delta": (lambda v: v > 0, "> 0"),
    "vit_dim": _pos, "vit_depth": (lambda v: v >= 2 and v % 2 == 0, "an even integer >= 2"), "vit_heads": _pos, "vit_patch": _pos,
    "resolution": (lambda v: v >= 4, ">= 4"), "n_train": _pos, "num_timesteps": _pos,
    "beta_min": (lambda v: v > 0, "> 0"), "beta_max": (lambda v: v > 0, "> 0"),
    "ch": _pos, "ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1"),
    "num_res_blocks": _pos, "attn_resolutions": (lambda v: v >= 1, "integers >= 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"), "nz": (lambda v: v >= 0, ">= 0 (0: no latent)"),
    "z_emb_dim": _pos, "n_mlp": (lambda v: v >= 0, ">= 0"), "d_ch": _pos,
    "d_ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1"), "d_ch_by_t": (lambda v: v >= 1, "integers >= 1"),
    "t_emb_dim": (lambda v: v >= 2, ">= 2"),
    "resample_filter": (lambda v: v in ("fir", "box"), "'fir' or 'box'"),
    "init": (lambda v: v in ("ddpm", "torch"), "'ddpm' or 'torch'"),
    "batch_size": _pos, "steps": _pos, "lr_g": (lambda v: v > 0, "> 0"), "lr_d": (lambda v: v > 0, "> 0"),
    "beta1": (lambda v: 0 <= v < 1, "in [0, 1)"), "beta2": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "lr_min": (lambda v: v >= 0, ">= 0"), "r1_gamma": (lambda v: v >= 0, ">= 0"), "lazy_reg": _pos,
    "ema_decay": (lambda v: 0 <= v < 1, "in [0, 1)"), "grad_clip": (lambda v: v > 0, "> 0 or None"),
    "log_every": _pos, "ckpt_every": _pos, "keep_ckpts": _pos, "eval_every": _pos,
    "n_eval": (lambda v: v >= 4, ">= 4 (precision / recall use 3 nearest neighbours)"), "threads": _pos,
}


def _field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def with_overrides(cfg, **overrides):
    """dataclasses.replace that checks names and coerces lists to tuples (JSON, papermill)."""
    names = _field_names(type(cfg))
    bad = sorted(set(overrides) - names)
    if bad:
        raise ValueError(f"unknown config field(s) {bad} for {type(cfg).__name__}; known: {sorted(names)}")
    fixed = {}
    for k, v in overrides.items():
        default = getattr(cfg, k)
        if isinstance(default, tuple) and isinstance(v, list):
            v = tuple(v)
        fixed[k] = v
    return dataclasses.replace(cfg, **fixed)


# ---------------------------------------------------------------------------- presets
# smoke: proves the code path in seconds; never a claim.
# cpu:   this 2-core machine, ~60-90 minutes of training per model (one thread each, two runs side by side).
#        The reference D design and init (Discriminator_small at ngf 16) with equal learning rates near
#        the reference's, and T = 2: at T = 4 the pairs of the two noisiest steps carry almost no signal
#        for D at this budget (notebooks/ddgan_diagnosis.ipynb, study/findings.md). Batch 16 for 4000 steps
#        rather than 32 for 2000: the same images, twice the updates, and further along at equal time in pilots.
# gpu:   one GPU, ~1 hour per model (not run yet): the reference D at ngf 32 with what the cpu runs found it needs,
#        R1 gamma 2 every 10 steps (the reference's weight for faces; at gamma 0.05 the ngf-32 D overpowered G,
#        DDGAN-BASE-synthfaces-dwide against -dwide-r1) and equal rates for G and D (at cpu scale a D at half G's
#        rate ended behind equal rates, -dwide-r1-lrd1e-4, and a slower G did not help, the TTUR pilot of the findings).
# paper: the CIFAR-10 config of DDGAN (NVlabs train_ddgan.py), for torchrun on 8 GPUs.
_DDGAN_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(ch=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), nz=16, z_emb_dim=32,
                  n_mlp=2, d_ch=8, d_ch_mult=(2, 4, 4), t_emb_dim=32, batch_size=8, steps=6,
                  n_train=256, ema_decay=0.9, log_every=2, ckpt_every=3, n_eval=64, lazy_reg=2, eval_every=3),
    "cpu": dict(ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(), nz=50, z_emb_dim=128,
                n_mlp=3, d_ch=16, d_ch_mult=(2, 4, 8, 8), t_emb_dim=64, batch_size=16, steps=4000, num_timesteps=2,
                lr_g=2e-4, lr_d=2e-4, ema_decay=0.998, log_every=50, ckpt_every=200, n_eval=2000, eval_every=250,
                r1_gamma=0.05, lazy_reg=10),
    "gpu": dict(ch=64, ch_mult=(1, 2, 2), num_res_blocks=2, attn_resolutions=(16,), nz=100, z_emb_dim=256,
                n_mlp=4, d_ch=32, d_ch_mult=(2, 4, 8, 8), t_emb_dim=256, batch_size=128, steps=30000,
                lr_g=2e-4, lr_d=2e-4, r1_gamma=2.0, lazy_reg=10,
                ema_decay=0.9995, log_every=200, ckpt_every=2000, n_eval=10000),
    "paper": dict(ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,), nz=100,
                  z_emb_dim=256, n_mlp=4, d_ch=64, d_ch_mult=(2, 4, 8, 8), t_emb_dim=256, batch_size=256,
                  steps=1800 * (50000 // 256), num_timesteps=4, lr_g=1.6e-4, lr_d=1.25e-4,
                  r1_gamma=0.02, lazy_reg=15, ema_decay=0.9999, log_every=500, ckpt_every=5000,
                  n_eval=50000),
}


def ddgan_preset(scale: str, **overrides) -> DDGANConfig:
    """The DDGAN config of a scale, with optional overrides."""
    if scale not in _DDGAN_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    return with_overrides(DDGANConfig(), **{**_DDGAN_PRESETS[scale], **overrides})


# WDDGAN and LDDGAN are DDGAN in another space (semlib.spaces) with G's reconstruction term; at paper scale the
# CIFAR-10 configs of their reference code (ch_mult 1 2 2, no attention, T = 4; LDDGAN nz 50 and no LR decay)
_WDDGAN_PAPER = dict(ch_mult=(1, 2, 2), attn_resolutions=(), num_timesteps=4)
_LDDGAN_PAPER = dict(ch_mult=(1, 2, 2), attn_resolutions=(), num_timesteps=4, nz=50, lr_decay=False)


def wddgan_preset(scale: str, **overrides) -> DDGANConfig:
    """WDDGAN: the DDGAN preset of the scale on one-level Haar coefficients, with L1 reconstruction weight 1."""
    base = dict(space="wavelet", rec_loss="fixed", rec_weight=1.0, **(_WDDGAN_PAPER if scale == "paper" else {}))
    return ddgan_preset(scale, **{**base, **overrides})


def lddgan_preset(scale: str, autoencoder: str | None = None, **overrides) -> DDGANConfig:
    """LDDGAN: the DDGAN preset of the scale on an autoencoder's latents, with Weighted Learning (the code's form)."""
    base = dict(space="latent", autoencoder=autoencoder, rec_loss="weighted", wl_form="code", wl_delta=6.0,
                **(_LDDGAN_PAPER if scale == "paper" else {}))
    return ddgan_preset(scale, **{**base, **overrides})


# ---------------------------------------------------------------------------- PDDGAN (seed 000)
@dataclass(frozen=True)
class PDDGANConfig(DDGANConfig):
    """Progressive DDGAN (000, Sec. 2): DDGAN with T = 2, a semantic encoder for z_2 and L_Sem / L_Per.

    The paper gives no loss weights and no P_max / P_min; the defaults below are ours.
    """
    num_timesteps: int = 2               # T: PDDGAN is defined for two steps (x_2 -> x_1 -> x_0)
    row: str = "full"                    # Table 1 ablation row these flags come from (see PDDGAN_ROWS)
    semantic_encoder: bool = True        # z_2 = SE(x_0) at index t = 1 instead of random z
    enc_ch: int = 32                     # base channels of SE
    enc_ch_mult: tuple[int, ...] = (1, 2, 2)  # channel multiplier per stride-2 block of SE
    l1_pixel: bool = True                # L_Sem pixel term |G(x_2, SE(x_0), 1) - x_0|_1 (000 Eq. 1)
    l1_feature: bool = True              # L_Sem feature term |V(G(...)) - V(x_0)|_1 (000 Eq. 1)
    l_per: bool = True                   # L_Per |G(x_1, z_1, 0) - x~_0|_1 on index t = 0 (000 Eq. 2)
    progressive: bool = True             # P(t = 1) decays from p_max to p_min over training (000 Eq. 3)
    lambda_pix: float = 1.0              # weight of the L_Sem pixel term (paper: none given, we use 1)
    lambda_feat: float = 1.0             # weight of the L_Sem feature term (paper: none given, we use 1)
    lambda_per: float = 1.0              # weight of L_Per (paper: none given, we use 1)
    p_max: float = 0.9                   # P(t = 1) at the start of training (paper: unspecified)
    p_min: float = 0.1                   # P(t = 1) at the end of training (paper: unspecified, but training
                                         # should end on the refinement stage, so P_min < 0.5; ours: 1 - P_max)

    def _validate(self) -> None:
        super()._validate()
        if self.num_timesteps != 2:
            raise ConfigError(f"num_timesteps={self.num_timesteps}: PDDGAN is defined for two steps only (allowed: 2)")
        if self.space not in ("pixel", "latent") or self.rec_loss != "none":
            raise ConfigError(f"space={self.space!r}, rec_loss={self.rec_loss!r}: PDDGAN runs in pixel space (000) or on an "
                              f"autoencoder's latents (ours, LDDGAN's first stage) with its own L_Sem / L_Per terms "
                              f"(allowed: space 'pixel' or 'latent', rec_loss='none')")
        if self.row not in PDDGAN_ROWS:
            raise ConfigError(f"row={self.row!r}: allowed values are {list(PDDGAN_ROWS)}")
        _check_ranges(self, {"enc_ch": _pos, "enc_ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1"),
                             **{k: (lambda v: v >= 0, ">= 0") for k in ("lambda_pix", "lambda_feat", "lambda_per")},
                             "p_max": (lambda v: 0 <= v <= 1, "in [0, 1]"), "p_min": (lambda v: 0 <= v <= 1, "in [0, 1]")})
        if self.p_min > self.p_max:
            raise ConfigError(f"p_min={self.p_min} > p_max={self.p_max}: P(t = 1) decays, so p_min <= p_max")


# The five rows of 000 Table 1; each adds one component to the row before it.
PDDGAN_ROWS: dict[str, dict[str, bool]] = {
    "baseline": dict(semantic_encoder=False, l1_pixel=False, l1_feature=False, l_per=False, progressive=False),
    "encoder": dict(semantic_encoder=True, l1_pixel=False, l1_feature=False, l_per=False, progressive=False),
    "pixel": dict(semantic_encoder=True, l1_pixel=True, l1_feature=False, l_per=False, progressive=False),
    "feature": dict(semantic_encoder=True, l1_pixel=True, l1_feature=True, l_per=False, progressive=False),
    "full": dict(semantic_encoder=True, l1_pixel=True, l1_feature=True, l_per=True, progressive=True),
}

# Semantic-encoder widths per scale (the rest of each scale is its DDGAN preset).
_PDDGAN_ENCODER: dict[str, dict[str, Any]] = {
    "smoke": dict(enc_ch=16, enc_ch_mult=(1, 2)),
    "cpu": dict(enc_ch=32, enc_ch_mult=(1, 2, 2)),
    "gpu": dict(enc_ch=64, enc_ch_mult=(1, 2, 2, 2)),
    "paper": dict(enc_ch=64, enc_ch_mult=(1, 1, 2, 2, 4, 4)),   # ours: 000 gives no SE widths
}

# 000 extends DDGAN's CelebA-HQ 256 config (NVlabs train_ddgan.py, celeba_256), not its CIFAR-10 one:
# T = 2, 64 channels, ch_mult (1, 1, 2, 2, 4, 4), 3 mapping layers, the 256 px discriminator, r1 2 every
# 10 steps, lr_g 2e-4 / lr_d 1e-4, batch 32 per GPU on 8 GPUs, 800 epochs of the 30k images, EMA 0.999.
_PDDGAN_PAPER: dict[str, Any] = dict(
    dataset="celebahq", resolution=256, ch=64, ch_mult=(1, 1, 2, 2, 4, 4), num_res_blocks=2,
    attn_resolutions=(16,), nz=100, z_emb_dim=256, n_mlp=3, d_ch=64, d_ch_mult=(4, 8, 8, 8, 8, 8),
    t_emb_dim=256, batch_size=256, steps=800 * (30000 // 256), lr_g=2e-4, lr_d=1e-4, r1_gamma=2.0,
    lazy_reg=10, ema_decay=0.999, log_every=500, ckpt_every=5000, n_eval=50000)


def pddgan_preset(scale: str, row: str = "full", **overrides) -> PDDGANConfig:
    """The PDDGAN config of a Table 1 row at a scale: the DDGAN preset of that scale with T = 2
    (at `paper` scale DDGAN's CelebA-HQ 256 config, which 000 builds on).  With space="latent" and
    autoencoder=<checkpoint> the same row runs on the autoencoder's latents (a latent PDDGAN: ours, not 000's;
    semlib.methods.pddgan says what moves to the latent space)."""
    if row not in PDDGAN_ROWS:
        raise ValueError(f"unknown PDDGAN row {row!r}; choose one of {tuple(PDDGAN_ROWS)}")
    base = dataclasses.asdict(ddgan_preset(scale, **(_PDDGAN_PAPER if scale == "paper" else {})))
    base.update(num_timesteps=2, **_PDDGAN_ENCODER[scale], **PDDGAN_ROWS[row], row=row)
    return with_overrides(PDDGANConfig(**base), **overrides)


# ---------------------------------------------------------------------------- the DPM base (DDPM / DDIM)
@dataclass(frozen=True)
class DPMConfig(_ConfigIO):
    """A many-step Gaussian diffusion model with epsilon prediction (the base of PDAE and Asyrp)."""
    # data
    dataset: str = "synthfaces"
    resolution: int = 32
    n_train: int | None = None
    num_classes: int = 0                 # > 0: a class-conditional model (labels from the dataset)
    # where it diffuses (semlib.spaces): 'pixel' (DDPM), or 'latent' (an LDM on a trained autoencoder's latents,
    # the base of ASYRP-LDM); the network then sees the autoencoder's z_ch x latent side, not the images
    space: str = "pixel"
    autoencoder: str | None = None       # latent space: checkpoint of the trained autoencoder (semlib.methods.autoencoder)
    autoencoder_sha: str | None = None   # its fingerprint, filled in when the DPM is made: a run resumes only with it
    # diffusion
    num_timesteps: int = 1000            # T of training
    schedule: str = "linear"             # 'linear' (beta_start..beta_end, DDPM / PDAE) or 'cosine'
    beta_start: float = 1e-4
    beta_end: float = 0.02
    ddim_steps: int = 50                 # K of the default DDIM sampler (NFE)
    eta: float = 0.0                     # DDIM eta of the default sampler (0: deterministic)
    # network (the U-Net without latent)
    ch: int = 64
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.1
    # optimisation
    batch_size: int = 128
    steps: int = 100000
    lr: float = 2e-4
    lr_decay: bool = False               # DDPM trains at a constant rate
    lr_min: float = 1e-5
    grad_clip: float | None = 1.0
    ema_decay: float = 0.9999
    ema_warmup: bool = False             # EMA decay min(ema_decay, (1 + step) / (10 + step)) (semlib.train)
    # bookkeeping
    seed: int = 0
    log_every: int = 100
    ckpt_every: int = 2000
    keep_ckpts: int = 2
    n_eval: int = 1000
    eval_every: int | None = None
    threads: int | None = None

    def __post_init__(self):
        _check_types(self)
        _check_ranges(self, {
            "resolution": (lambda v: v >= 4, ">= 4"), "n_train": _pos, "num_classes": (lambda v: v >= 0, ">= 0"),
            "num_timesteps": (lambda v: v >= 2, ">= 2"), "schedule": (lambda v: v in ("linear", "cosine"), "'linear' or 'cosine'"),
            "beta_start": (lambda v: 0 < v < 1, "in (0, 1)"), "beta_end": (lambda v: 0 < v < 1, "in (0, 1)"),
            "ddim_steps": _pos, "eta": (lambda v: v >= 0, ">= 0"), "ch": _pos,
            "ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1"), "num_res_blocks": _pos,
            "attn_resolutions": (lambda v: v >= 1, "integers >= 1"), "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"),
            "batch_size": _pos, "steps": _pos, "lr": (lambda v: v > 0, "> 0"), "lr_min": (lambda v: v >= 0, ">= 0"),
            "grad_clip": (lambda v: v > 0, "> 0 or None"), "ema_decay": (lambda v: 0 <= v < 1, "in [0, 1)"),
            "log_every": _pos, "ckpt_every": _pos, "keep_ckpts": _pos, "n_eval": _DDGAN_RANGES["n_eval"],
            "eval_every": _pos, "threads": _pos})
        if self.ddim_steps > self.num_timesteps:
            raise ConfigError(f"ddim_steps={self.ddim_steps}: at most num_timesteps={self.num_timesteps}")
        if self.space not in ("pixel", "latent"):
            raise ConfigError(f"space={self.space!r}: allowed values are ['pixel', 'latent']")
        if self.space == "latent" and self.num_classes:
            raise ConfigError(f"num_classes={self.num_classes}: class-conditional latent DPMs are not supported (space='latent')")
        if self.beta_start > self.beta_end:
            raise ConfigError(f"beta_start={self.beta_start} > beta_end={self.beta_end}")
        levels = 2 ** (len(self.ch_mult) - 1)
        if self.resolution % levels:
            raise ConfigError(f"resolution={self.resolution}: must be divisible by {levels} (ch_mult={self.ch_mult})")



# smoke proves the path; cpu / gpu are first settings; paper: the DDPM / PDAE pre-trained DPMs (linear betas
# 1e-4..0.02, T = 1000, 128 channels, ch_mult 1 2 2 2, attention at 16, dropout 0.1, batch 128, 800k steps).
_DPM_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(ddim_steps=5, ch=16, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(),
                  dropout=0.0, batch_size=8, steps=6, n_train=256, ema_decay=0.9, ema_warmup=True, log_every=2, ckpt_every=3, n_eval=64),
    # cpu: ~2 it/s on two threads alone (~0.75 on one thread beside a second run), so 75 min to 3.3 h per model:
    # train it in --time-budget chunks.  9000 steps: at 6000 the learning curve still rose (gap closed 0.76 on 500)
    "cpu": dict(ch=32, ch_mult=(1, 2, 2), num_res_blocks=1, attn_resolutions=(8,), dropout=0.0, batch_size=32,
                steps=9000, lr=2e-4, ema_decay=0.999, log_every=100, ckpt_every=250, n_eval=1000, eval_every=1000),
    # (no EMA warm-up at cpu: the committed cpu run was trained without it; after 6000 steps at 0.999 its EMA keeps
    # 0.25% of the initial weights (0.01% at 9000), but the learning-curve points before ~3000 steps read the EMA short of the net)
    "gpu": dict(ch=64, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,), batch_size=128, steps=60000,
                n_eval=10000, eval_every=5000, ema_warmup=True),
    "paper": dict(ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,), batch_size=128,
                  steps=800000, n_eval=50000, ema_warmup=True),
}


def dpm_preset(scale: str, **overrides) -> DPMConfig:
    """The DPM config of a scale, with optional overrides."""
    if scale not in _DPM_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    return with_overrides(DPMConfig(), **{**_DPM_PRESETS[scale], **overrides})


# ---------------------------------------------------------------------------- PDAE (seed 002)
@dataclass(frozen=True)
class PDAEConfig(_ConfigIO):
    """PDAE on a frozen pre-trained DPM: an encoder E(x_0) -> z and a gradient estimator G(x_t, t, z) that fills the
    posterior mean gap (002, Sec. 3)."""
    dataset: str = "synthfaces"
    resolution: int = 32
    n_train: int | None = None
    dpm_entry: str = "DDPM-BASE-synthfaces"   # the run folder (runs/<scale>/<entry>) of the pre-trained DPM
    num_classes: int = 0                 # > 0: a class-conditional G whose code is a label embedding (002 Fig. 9)
    z_dim: int = 128                     # code size (the reference: 512 at 64 px)
    enc_ch: int = 32
    enc_ch_mult: tuple[int, ...] = (1, 2, 2)
    weight_gamma: float = 0.1            # lambda_t = SNR^gamma / (1 + SNR)
    stop_frac: float = 0.0               # sampling: no shift in this last fraction of the steps (0.3 with a latent DPM)
    ddim_steps: int = 100                # K of autoencoding (inversion and decoding)
    batch_size: int = 64
    steps: int = 20000
    lr: float = 1e-4
    lr_decay: bool = False
    lr_min: float = 1e-5
    grad_clip: float | None = 1.0
    ema_decay: float = 0.9999
    ema_warmup: bool = False             # EMA decay min(ema_decay, (1 + step) / (10 + step)) (semlib.train)
    seed: int = 0
    log_every: int = 100
    ckpt_every: int = 1000
    keep_ckpts: int = 2
    n_eval: int = 1000
    eval_every: int | None = None
    threads: int | None = None

    def __post_init__(self):
        _check_types(self)
        _check_ranges(self, {
            "resolution": (lambda v: v >= 4, ">= 4"), "n_train": _pos, "z_dim": _pos, "enc_ch": _pos,
            "num_classes": (lambda v: v >= 0, ">= 0"),
            "enc_ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1"),
            "weight_gamma": (lambda v: v >= 0, ">= 0"), "stop_frac": (lambda v: 0 <= v < 1, "in [0, 1)"),
            "ddim_steps": _pos, "batch_size": _pos, "steps": _pos, "lr": (lambda v: v > 0, "> 0"),
            "lr_min": (lambda v: v >= 0, ">= 0"), "grad_clip": (lambda v: v > 0, "> 0 or None"),
            "ema_decay": (lambda v: 0 <= v < 1, "in [0, 1)"), "log_every": _pos, "ckpt_every": _pos,
            "keep_ckpts": _pos, "n_eval": _DDGAN_RANGES["n_eval"], "eval_every": _pos, "threads": _pos})
        if self.resolution % 2 ** len(self.enc_ch_mult):
            raise ConfigError(f"enc_ch_mult={self.enc_ch_mult}: the encoder halves resolution={self.resolution} "
                              f"{len(self.enc_ch_mult)} times, so it must be divisible by {2 ** len(self.enc_ch_mult)}")



_PDAE_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(z_dim=16, enc_ch=8, enc_ch_mult=(1, 2), ddim_steps=5, batch_size=8, steps=6, n_train=256,
                  ema_decay=0.9, ema_warmup=True, log_every=2, ckpt_every=3, n_eval=64),
    # cpu: ~1.5 s per step on one thread beside a second job (the frozen U-Net's pass plus G's forward and backward):
    # 4000 steps ~1.6 h.  2000 steps removed 8.4% of the posterior mean gap (bar 10%) with the loss still falling
    # steadily (-28% from step 100 to 2000), so the preset was doubled and the run extended (constant learning rate)
    "cpu": dict(z_dim=64, enc_ch=32, enc_ch_mult=(1, 2, 2), ddim_steps=50, batch_size=32, steps=4000, lr=2e-4,
                ema_decay=0.999, ema_warmup=True, log_every=100, ckpt_every=250, n_eval=2000),
    "gpu": dict(z_dim=128, enc_ch=64, enc_ch_mult=(1, 2, 2, 2), batch_size=128, steps=30000, n_eval=10000, ema_warmup=True),
    "paper": dict(z_dim=512, enc_ch=64, enc_ch_mult=(1, 2, 4, 8), batch_size=128, steps=300000, n_eval=50000, ema_warmup=True),
}


def pdae_preset(scale: str, **overrides) -> PDAEConfig:
    """The PDAE config of a scale, with optional overrides."""
    if scale not in _PDAE_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    return with_overrides(PDAEConfig(), **{**_PDAE_PRESETS[scale], **overrides})


# ---------------------------------------------------------------------------- the latent DPM on codes (PDAE Sec. 4.3)
@dataclass(frozen=True)
class LatentDPMConfig(_ConfigIO):
    """A DPM on normalised codes z with a skip MLP (Diff-AE's latent DDIM), for PDAE's unconditional sampling."""
    hidden: int = 512
    n_layers: int = 8
    num_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    ddim_steps: int = 50                 # K of latent sampling
    batch_size: int = 256
    steps: int = 20000
    lr: float = 1e-4
    lr_decay: bool = False
    lr_min: float = 1e-5
    grad_clip: float | None = 1.0
    ema_decay: float = 0.999
    ema_warmup: bool = True
    seed: int = 0
    log_every: int = 200
    ckpt_every: int = 2000
    keep_ckpts: int = 2
    threads: int | None = None

    def __post_init__(self):
        _check_types(self)
        _check_ranges(self, {
            "hidden": _pos, "n_layers": _pos, "num_timesteps": (lambda v: v >= 2, ">= 2"),
            "beta_start": (lambda v: 0 < v < 1, "in (0, 1)"), "beta_end": (lambda v: 0 < v < 1, "in (0, 1)"),
            "ddim_steps": _pos, "batch_size": _pos, "steps": _pos, "lr": (lambda v: v > 0, "> 0"),
            "lr_min": (lambda v: v >= 0, ">= 0"), "grad_clip": (lambda v: v > 0, "> 0 or None"),
            "ema_decay": (lambda v: 0 <= v < 1, "in [0, 1)"), "log_every": _pos, "ckpt_every": _pos,
            "keep_ckpts": _pos, "threads": _pos})
        if self.ddim_steps > self.num_timesteps:
            raise ConfigError(f"ddim_steps={self.ddim_steps}: at most num_timesteps={self.num_timesteps}")


_LATENT_DPM_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(hidden=32, n_layers=2, ddim_steps=5, batch_size=16, steps=6, ema_decay=0.9, log_every=2, ckpt_every=3),
    # cpu: ~40 it/s on one thread; undertrained latent DPMs let samples that start in the Gaussian's tails run away
    "cpu": dict(hidden=256, n_layers=6, batch_size=256, steps=20000, lr=2e-4, log_every=1000, ckpt_every=5000),
    "gpu": dict(hidden=1024, n_layers=10, batch_size=512, steps=50000, ckpt_every=5000),
    "paper": dict(hidden=2048, n_layers=20, batch_size=512, steps=200000, ckpt_every=10000),
}


def latent_dpm_preset(scale: str, **overrides) -> LatentDPMConfig:
    """The latent DPM config of a scale, with optional overrides."""
    if scale not in _LATENT_DPM_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    return with_overrides(LatentDPMConfig(), **{**_LATENT_DPM_PRESETS[scale], **overrides})


# ---------------------------------------------------------------------------- a noisy classifier for guidance (PDAE Fig. 3)
@dataclass(frozen=True)
class NoisyClassifierConfig(_ConfigIO):
    """A time-conditioned classifier p(y | x_t, t) on a DPM's noisy images, for classifier guidance."""
    dataset: str = "mnist5k"
    resolution: int = 32
    ch: int = 32
    ch_mult: tuple[int, ...] = (1, 2, 2)
    batch_size: int = 64
    steps: int = 4000
    lr: float = 3e-4
    lr_decay: bool = True
    lr_min: float = 1e-5
    ema_decay: float = 0.999
    ema_warmup: bool = True
    seed: int = 0
    log_every: int = 200
    ckpt_every: int = 1000
    keep_ckpts: int = 2
    threads: int | None = None

    def __post_init__(self):
        _check_types(self)
        _check_ranges(self, {
            "resolution": (lambda v: v >= 4, ">= 4"), "ch": _pos,
            "ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1"), "batch_size": _pos, "steps": _pos,
            "lr": (lambda v: v > 0, "> 0"), "lr_min": (lambda v: v >= 0, ">= 0"),
            "ema_decay": (lambda v: 0 <= v < 1, "in [0, 1)"), "log_every": _pos, "ckpt_every": _pos,
            "keep_ckpts": _pos, "threads": _pos})


_NOISY_CLASSIFIER_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(ch=8, ch_mult=(1, 2), batch_size=8, steps=6, ema_decay=0.9, log_every=2, ckpt_every=3),
    "cpu": dict(ch=32, ch_mult=(1, 2, 2), batch_size=64, steps=3000, log_every=200, ckpt_every=500),
    "gpu": dict(ch=64, ch_mult=(1, 2, 2, 2), batch_size=128, steps=20000, ckpt_every=2000),
    "paper": dict(ch=128, ch_mult=(1, 2, 2, 2), batch_size=256, steps=100000, ckpt_every=10000),
}


def noisy_classifier_preset(scale: str, **overrides) -> NoisyClassifierConfig:
    """The noisy-classifier config of a scale, with optional overrides."""
    if scale not in _NOISY_CLASSIFIER_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    return with_overrides(NoisyClassifierConfig(), **{**_NOISY_CLASSIFIER_PRESETS[scale], **overrides})


# ---------------------------------------------------------------------------- a Diff-AE-style autoencoder (PDAE-EFF)
@dataclass(frozen=True)
class DiffAEConfig(DPMConfig):
    """A conditional DPM trained from scratch with an encoder, as Diff-AE (Preechakul et al. 2022): the DPM fields
    (architecture, schedule, optimisation) plus PDAE's encoder; z drives every residual block through adaptive group
    norm.  PDAE-EFF gives it the DPM base's architecture and PDAE's encoder."""
    z_dim: int = 128
    enc_ch: int = 32
    enc_ch_mult: tuple[int, ...] = (1, 2, 2)
    z_emb_dim: int = 128                 # width of the z mapping (semlib.nets.ZMapping)
    n_mlp: int = 2                       # layers of the z mapping

    def __post_init__(self):
        super().__post_init__()
        _check_ranges(self, {"z_dim": _pos, "enc_ch": _pos, "z_emb_dim": _pos, "n_mlp": (lambda v: v >= 0, ">= 0"),
                             "enc_ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1")})


def diffae_preset(scale: str, **overrides) -> DiffAEConfig:
    """The DPM base's preset of a scale with PDAE's encoder of that scale (what PDAE-EFF compares), plus overrides."""
    d = {k: v for k, v in dpm_preset(scale).to_dict().items() if k != "num_classes"}
    e = pdae_preset(scale)
    d.update(z_dim=e.z_dim, enc_ch=e.enc_ch, enc_ch_mult=e.enc_ch_mult, batch_size=e.batch_size, ema_warmup=True)
    return with_overrides(DiffAEConfig.from_dict(d), **overrides)



# ---------------------------------------------------------------------------- Asyrp (seed 001): h-space editing
@dataclass(frozen=True)
class AsyrpConfig(_ConfigIO):
    """Asyrp on a frozen DPM: an h-space editor f_t trained for one attribute edit with the directional text-image
    loss (001; Kwon et al. 2023).  Steps are those of the K-step DDIM process; t_edit / t_boost are on the DPM's
    original 0..T-1 scale (None: chosen from the data, semlib.methods.asyrp.choose_t_edit / choose_t_boost)."""
    dataset: str = "synthfaces"
    resolution: int = 32
    dpm_entry: str = "DDPM-BASE-synthfaces"
    attribute: str = "glasses"           # semlib.textimage.prompt(attribute, present, unseen)
    present: bool = True                 # edit towards the attribute (False: towards its absence)
    unseen: bool = False                 # use the text-image model's held-out phrasing of the attribute
    clip_seed: int = 0                   # the text-image model of the loss (S_dir is measured with another seed)
    k: int = 40                          # DDIM steps of inversion, training and editing (n_train_step = n_test_step)
    t_edit: int | None = None            # edit at t >= t_edit
    t_boost: int | None = None           # eta = 1 below t_boost (quality boosting); 0 switches it off
    edit_frac: float = 0.33              # t_edit: first t with LPIPS(x0, P_t) >= edit_frac * cos(text src, text trg)
    boost_level: float = 1.2             # t_boost: first t with LPIPS(x0, x_t) >= boost_level
    lambda_clip: float = 1.0             # weight of the directional loss
    l1_weight: float = 3.0               # weight of L1(P_t edited, P_t original), times cos(src, trg)
    lr: float = 0.5                      # one optimiser step per edited timestep (SGD at 0.5: the reference's scripts)
    f_arch: str = "conv"                 # f_t: "conv" (the reference's DeltaBlock) or "transformer" (the blog's alternative)
    optimizer: str = "sgd"               # "sgd" (the reference) or "adam" (the blog's transformer f_t)
    n_train: int = 100                   # training images (inverted once, then reused every epoch)
    batch_size: int = 4
    steps: int = 50                      # batches (each runs the whole edited trajectory)
    lr_decay: bool = False
    lr_min: float = 1e-5
    ema_decay: float = 0.0               # no EMA of f_t (the loop's EMA list is empty)
    seed: int = 0
    log_every: int = 5
    ckpt_every: int = 25
    keep_ckpts: int = 2
    threads: int | None = None

    def __post_init__(self):
        _check_types(self)
        _check_ranges(self, {
            "resolution": (lambda v: v >= 4, ">= 4"), "k": (lambda v: v >= 2, ">= 2"),
            "t_edit": (lambda v: v >= 0, ">= 0 (and below the DPM's T, checked against the DPM)"),
            "t_boost": (lambda v: v >= 0, ">= 0"), "edit_frac": (lambda v: v > 0, "> 0"),
            "boost_level": (lambda v: v > 0, "> 0"), "lambda_clip": (lambda v: v >= 0, ">= 0"),
            "l1_weight": (lambda v: v >= 0, ">= 0"), "lr": (lambda v: v > 0, "> 0"), "n_train": _pos,
            "batch_size": _pos, "steps": _pos, "lr_min": (lambda v: v >= 0, ">= 0"),
            "ema_decay": (lambda v: 0 <= v < 1, "in [0, 1)"), "log_every": _pos, "ckpt_every": _pos,
            "keep_ckpts": _pos, "threads": _pos})
        if not self.attribute.strip():
            raise ConfigError("attribute: an attribute name such as 'glasses' (semlib.textimage.prompt), not empty")
        if self.f_arch not in ("conv", "transformer"):
            raise ConfigError(f"f_arch={self.f_arch!r}: allowed 'conv' or 'transformer'")
        if self.optimizer not in ("sgd", "adam"):
            raise ConfigError(f"optimizer={self.optimizer!r}: allowed 'sgd' or 'adam'")


# smoke proves the path; cpu / gpu: t_edit 500 and t_boost 200 of 1000, near the paper's CelebA-HQ values (e.g. 513
# and 167 for in-domain attributes), since the reference's LPIPS thresholds are on AlexNet-LPIPS's scale, not LPIPS_dom's
_ASYRP_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(k=5, t_edit=400, t_boost=0, n_train=8, batch_size=4, steps=2, log_every=1, ckpt_every=2),
    "cpu": dict(k=40, t_edit=500, t_boost=200, n_train=100, batch_size=4, steps=50, log_every=5, ckpt_every=25),
    "gpu": dict(k=40, t_edit=500, t_boost=200, n_train=1000, batch_size=4, steps=500, log_every=25, ckpt_every=100),
    "paper": dict(k=40, t_edit=500, t_boost=200, n_train=1000, batch_size=1, steps=1000, log_every=50, ckpt_every=200),
}


def asyrp_preset(scale: str, **overrides) -> AsyrpConfig:
    """The Asyrp config of a scale, with optional overrides."""
    if scale not in _ASYRP_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    return with_overrides(AsyrpConfig(), **{**_ASYRP_PRESETS[scale], **overrides})


# ---------------------------------------------------------------------------- autoencoders of LDDGAN (004)
@dataclass(frozen=True)
class AutoencoderConfig(_ConfigIO):
    """The first stage of LDDGAN (004, Sec. 4.2): an image autoencoder whose latents the GAN diffuses in.

    kind 'vq': VQGAN-style with the quantiser in the decoder (the latent is the encoder's continuous output; the
    decoder quantises it first) and no KL term, the autoencoder 004 claims; kind 'kl': a Gaussian posterior with a
    small KL weight (the released CIFAR-10 one; 004 Table 7).  Loss: L1 + perceptual feature L1 + patch-GAN hinge
    (after disc_start) + codebook / commitment (vq) or KL (kl)."""
    dataset: str = "synthfaces"
    resolution: int = 32
    in_ch: int = 3
    n_train: int | None = None
    kind: str = "vq"                     # 'vq' (quantiser in the decoder, no KL) or 'kl' (KL-regularised)
    ch: int = 64                         # base channels
    ch_mult: tuple[int, ...] = (1, 2)    # per level; the downsampling factor is f = 2^(len(ch_mult) - 1)
    num_res_blocks: int = 1
    z_ch: int = 4                        # latent channels
    n_embed: int = 256                   # codebook size (vq)
    beta_commit: float = 0.25            # commitment weight (vq)
    kl_weight: float = 1e-6              # KL weight (kl; the released CIFAR-10 autoencoder's)
    perceptual_weight: float = 1.0       # feature L1 of the perceptual network (real weights by path, else the domain net)
    disc_weight: float = 0.1             # patch-GAN hinge weight of the autoencoder's loss
    disc_start: int = 1000               # step at which the patch discriminator joins
    d_ch: int = 64                       # patch discriminator base channels
    d_layers: int = 2                    # its stride-2 layers (receptive field 4 * 2^d_layers px, roughly)
    lr: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.9
    batch_size: int = 32
    steps: int = 3000
    lr_decay: bool = False
    lr_min: float = 1e-5
    ema_decay: float = 0.0               # no EMA (the loop's EMA list is empty)
    seed: int = 0
    log_every: int = 50
    ckpt_every: int = 500
    keep_ckpts: int = 2
    n_eval: int = 2000
    eval_every: int | None = None
    threads: int | None = None

    def __post_init__(self):
        _check_types(self)
        _check_ranges(self, {"resolution": (lambda v: v >= 4, ">= 4"), "in_ch": _pos, "n_train": _pos, "ch": _pos,
                             "ch_mult": (lambda v: v >= 1, "a non-empty tuple of integers >= 1"),
                             "num_res_blocks": _pos, "z_ch": _pos, "n_embed": (lambda v: v >= 2, ">= 2"),
                             **{k: (lambda v: v >= 0, ">= 0") for k in ("beta_commit", "kl_weight", "perceptual_weight",
                                                                      "disc_weight", "disc_start")},
                             "d_ch": _pos, "d_layers": _pos, "lr": (lambda v: v > 0, "> 0"), "lr_d": (lambda v: v > 0, "> 0"),
                             "batch_size": _pos, "steps": _pos, "n_eval": _pos})
        if self.kind not in ("vq", "kl"):
            raise ConfigError(f"kind={self.kind!r}: allowed values are ['vq', 'kl']")
        f = 2 ** (len(self.ch_mult) - 1)
        if self.resolution % f:
            raise ConfigError(f"resolution={self.resolution}: must be divisible by the downsampling factor f = {f} "
                              f"(ch_mult={self.ch_mult})")
        if self.resolution // 2 ** self.d_layers < 2:
            raise ConfigError(f"d_layers={self.d_layers}: a {self.resolution} px patch discriminator can halve it at most "
                              f"{int(math.log2(self.resolution)) - 1} times")

    @property
    def f(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)


_AE_PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(ch=16, ch_mult=(1, 2), z_ch=4, n_embed=32, d_ch=16, batch_size=8, steps=6, disc_start=3,
                  n_train=256, log_every=2, ckpt_every=3, n_eval=64),
    "cpu": dict(ch=32, ch_mult=(1, 2), z_ch=4, n_embed=256, d_ch=32, batch_size=32, steps=3000, disc_start=1000,
                log_every=50, ckpt_every=500, n_eval=2000, eval_every=500),
    "gpu": dict(ch=64, ch_mult=(1, 2), z_ch=4, n_embed=1024, d_ch=64, d_layers=3, batch_size=64, steps=30000,
                disc_start=10000, log_every=200, ckpt_every=2000, n_eval=10000, eval_every=2000),
    "paper": dict(ch=128, ch_mult=(1, 2), z_ch=4, n_embed=8192, d_ch=64, d_layers=3, batch_size=64, steps=100000,
                  disc_start=20000, log_every=500, ckpt_every=5000, n_eval=50000, eval_every=5000),
}


def autoencoder_preset(scale: str, **overrides) -> AutoencoderConfig:
    """The autoencoder config of a scale (f = 2 at 32 px: 16 x 16 x 4 latents, as 004's CIFAR-10 one)."""
    if scale not in _AE_PRESETS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    return with_overrides(AutoencoderConfig(), **{**_AE_PRESETS[scale], **overrides})
