"""An in-project text-image model (a small CLIP) for the Asyrp reproduction.

Asyrp edits a frozen diffusion model's bottleneck with a *directional CLIP loss*.  No CLIP weights can be
downloaded here, so this module trains a small CLIP from scratch with the ``open-clip-torch`` package (its
``open_clip.model.CLIP`` towers, its BPE tokenizer with the vocabulary bundled in the wheel, and its ``ClipLoss``)
on the procedural faces of :mod:`semlib.data.synthfaces`, each paired with captions generated from the face's
ground-truth attributes.  Real CLIP weights supplied by the user load through :func:`load_text_image` and are
wrapped the same way, so the Asyrp code never needs to know which it got.

Pieces:

* **Captions** -- :func:`caption` / :func:`captions`: natural-language descriptions of a face from its attribute
  vector ("a photo of a face wearing glasses and with a beard", "a smiling, long-haired person without a hat"),
  several phrasings per attribute, several sentence templates, 1-3 present attributes per caption and 0-2 absent
  ones stated negatively.  Deterministic given the seed.  Training captions never contain a held-out phrasing
  (:data:`UNSEEN_PHRASES`) or name both attributes of a held-out pair (:data:`UNSEEN_PAIRS`); every word piece
  of a held-out phrasing does occur in training captions, so the held-out set tests composition, not new words.
* **Edit prompts** -- :func:`prompt` gives Asyrp's (source, target) text pair for an attribute,
  ``prompt("glasses") == ("a face", "a face with glasses")``; ``unseen=True`` uses the held-out phrasing.
* **Model** -- :class:`TextImageConfig` (an ``open_clip`` ViT + text transformer), :class:`TextImageModel`
  (``encode_image`` of images in [-1, 1], ``encode_text`` of strings, both L2-normalised; ``info``).
* **Training** -- :func:`train_text_image` (``ClipLoss``, AdamW, warm-up + cosine), evaluated by
  :func:`evaluate_text_image` (zero-shot attribute accuracy with seen and with held-out phrasings, 4-way accuracy
  on attribute pairs never co-mentioned in training).  :func:`get_text_image_model` trains once per
  (dataset, resolution, seed, steps) and caches, like the domain network (:func:`semlib.metrics.extractors.
  get_domain_extractor`).  The study trains the editing loss with seed 0 and measures with seed 1, so the loss and
  the metric never share a network.
* **Asyrp's losses** -- :func:`directional_cosine` (per image; S_dir is its mean) and :func:`directional_loss`
  (``-log((2 - L_dir) / 2)``, the Asyrp / DiffusionCLIP reference form).

Numbers computed with the in-project model are **not comparable** to numbers computed with OpenAI's CLIP.
The default model's quality was not measured when this module was written (no full training was run); a sanity run
of a much smaller config (ViT width 64 / 2 layers, text width 64 / 2 layers, batch 64, 600 steps on 2000 faces)
learned the global attributes first (skin 1.00, long hair 0.98, beard 0.93 zero-shot) while the small local ones
(glasses, hat, earrings) were still at chance: read ``info["per_attribute_accuracy"]`` before trusting an edit.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data.base import default_cache_dir

# open_clip's dependencies import tqdm.auto, which warns in a Jupyter kernel without ipywidgets (semlib's own progress
# bars are text bars and need none): keep that one warning out of every notebook
warnings.filterwarnings("ignore", message="IProgress not found")
from .data.synthfaces import ATTRIBUTES

__all__ = [
    "PHRASES", "UNSEEN_PHRASES", "UNSEEN_PAIRS", "TEMPLATES", "NEUTRAL",
    "caption", "captions", "prompt",
    "TextImageConfig", "TextImageModel", "TextImageLoadError",
    "train_text_image", "evaluate_text_image", "clip_loss",
    "get_text_image_model", "text_image_cache_path", "save_text_image", "load_text_image",
    "directional_cosine", "directional_loss", "TEXT_IMAGE_STEPS",
]

# --------------------------------------------------------------------------------------------
# captions
# --------------------------------------------------------------------------------------------
# Each phrasing is (text, kind): "post" follows the noun ("a face with glasses"), "adj" precedes it
# ("a bearded face"), "both" works either way ("a smiling face", "a person smiling").
# The first "pos" / "neg" entry of an attribute is its canonical phrasing (prompts, zero-shot tests).
PHRASES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "smiling": {
        "pos": (("with a smile", "post"), ("smiling", "both"), ("grinning", "both"), ("wearing a big smile", "post")),
        "neg": (("without a smile", "post"), ("not smiling", "post"), ("with a neutral expression", "post")),
    },
    "glasses": {
        "pos": (("with glasses", "post"), ("wearing glasses", "post"), ("in glasses", "post"),
                ("with spectacles", "post"), ("in spectacles", "post")),
        "neg": (("without glasses", "post"), ("with no glasses", "post")),
    },
    "eyes_closed": {
        "pos": (("with closed eyes", "post"), ("with eyes closed", "post"), ("with shut eyes", "post"),
                ("with both eyes shut", "post")),
        "neg": (("with open eyes", "post"), ("with eyes open", "post")),
    },
    "beard": {
        "pos": (("with a beard", "post"), ("bearded", "adj"), ("with facial hair", "post"), ("having a beard", "post")),
        "neg": (("without a beard", "post"), ("clean-shaven", "adj"), ("with no beard", "post")),
    },
    "hat": {
        "pos": (("with a hat", "post"), ("wearing a hat", "post"), ("in a hat", "post"), ("wearing a cap", "post"),
                ("in a cap", "post")),
        "neg": (("without a hat", "post"), ("bareheaded", "adj"), ("with no hat", "post")),
    },
    "face_shape_long": {
        "pos": (("with a long face shape", "post"), ("long-faced", "adj"), ("with an oval face shape", "post"),
                ("with a narrow face shape", "post")),
        "neg": (("with a round face shape", "post"), ("round-faced", "adj"), ("with a wide face shape", "post")),
    },
    "skin_dark": {
        "pos": (("with dark skin", "post"), ("dark-skinned", "adj"), ("with a dark complexion", "post")),
        "neg": (("with light skin", "post"), ("light-skinned", "adj"), ("with a fair complexion", "post"),
                ("with pale skin", "post")),
    },
    "long_hair": {
        "pos": (("with long hair", "post"), ("long-haired", "adj"), ("with shoulder-length hair", "post"),
                ("with hair down to the shoulders", "post")),
        "neg": (("with short hair", "post"), ("short-haired", "adj")),
    },
    "earrings": {
        "pos": (("with earrings", "post"), ("wearing earrings", "post"), ("with gold earrings", "post"),
                ("with earrings on", "post")),
        "neg": (("without earrings", "post"), ("with no earrings", "post")),
    },
    "mouth_open": {
        "pos": (("with an open mouth", "post"), ("with the mouth open", "post"), ("with parted lips", "post")),
        "neg": (("with a closed mouth", "post"), ("with the mouth closed", "post"), ("with lips closed", "post")),
    },
}

# Held out of every training caption: one positive phrasing for four attributes, built from word pieces that do
# occur in training ("with a big smile" from "with a smile" + "wearing a big smile"), ...
UNSEEN_PHRASES: dict[str, str] = {
    "smiling": "with a big smile",
    "glasses": "wearing spectacles",
    "beard": "having facial hair",
    "hat": "with a cap",
}
# ... and pairs of attributes that no training caption names together (neither positively nor negatively).
UNSEEN_PAIRS: tuple[tuple[str, str], ...] = (("hat", "beard"), ("glasses", "earrings"), ("smiling", "long_hair"))
# pairs of the same kind that training does co-mention: the control for the pair accuracy
_SEEN_PAIRS: tuple[tuple[str, str], ...] = (("hat", "glasses"), ("beard", "earrings"), ("smiling", "skin_dark"))

# sentence templates: (prefix, noun, whether adjectives may precede the noun)
TEMPLATES: tuple[tuple[str, str, bool], ...] = (
    ("a photo of", "face", True),
    ("", "face", True),
    ("", "person", True),
    ("a portrait of", "someone", False),
    ("a picture of", "person", True),
    ("a close-up of", "face", True),
    ("an image of", "person", True),
)
NEUTRAL = "a face"  # the source text of every edit prompt, and the template of the zero-shot prompts
_SPLITS = {"train": 1, "test": 2}

for _a in UNSEEN_PHRASES:
    assert _a in PHRASES and all(UNSEEN_PHRASES[_a] != p for p, _ in PHRASES[_a]["pos"])
assert set(PHRASES) == set(ATTRIBUTES)


def _known() -> str:
    return ", ".join(ATTRIBUTES)


def _attr_name(attribute) -> str:
    if not isinstance(attribute, str):
        raise ValueError(f"attribute must be a string, one of: {_known()}; got {attribute!r}")
    key = re.sub(r"[\s\-]+", "_", attribute.strip().lower())
    if not key:
        raise ValueError(f"empty attribute name; known attributes: {_known()}")
    if key not in PHRASES:
        raise ValueError(f"unknown attribute {attribute!r}; known attributes: {_known()}")
    return key


def _with_article(words: str) -> str:
    return ("an " if words[:1] in "aeiou" else "a ") + words


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _compose(prefix: str, noun: str, adjs: list[str], posts: list[str]) -> str:
    """'a photo of' + 'face' + ['smiling', 'bearded'] + ['with glasses'] -> 'a photo of a smiling, bearded face
    with glasses'.  'someone' takes no article."""
    head = noun if noun == "someone" else _with_article(" ".join(([", ".join(adjs)] if adjs else []) + [noun]))
    text = (prefix + " " + head) if prefix else head
    return text + (" " + _join(posts) if posts else "")


def _held_out_ok(names: list[str], cand: str) -> bool:
    return not any({cand, other} == set(pair) for other in names for pair in UNSEEN_PAIRS)


def caption(attrs_row, rng: np.random.Generator, *, split: str = "train",
            attr_names: Sequence[str] = ATTRIBUTES) -> str:
    """One caption of a face from its attribute vector (0/1 or bool, in ``attr_names`` order).

    1-3 present attributes are described (all of them if fewer are present), 0-2 absent ones are stated negatively
    (1-2 when none is present), each in a random phrasing, in a random template.  ``split="train"`` never uses a
    held-out phrasing nor names both attributes of a held-out pair; ``split="test"`` draws from everything (the
    held-out phrasings join the pool of their attribute).
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {tuple(_SPLITS)}, got {split!r}")
    row = np.asarray(attrs_row.cpu() if isinstance(attrs_row, torch.Tensor) else attrs_row).reshape(-1)
    if len(row) != len(attr_names):
        raise ValueError(f"attribute vector of length {len(row)} for {len(attr_names)} names")
    names = [_attr_name(a) for a in attr_names]
    on = row.astype(float) > 0.5
    train = split == "train"
    present = [names[i] for i in rng.permutation(len(names)) if on[i]]
    absent = [names[i] for i in rng.permutation(len(names)) if not on[i]]
    k_pos = min(len(present), int(rng.integers(1, 4)))
    k_neg = int(rng.choice(3, p=[0.4, 0.4, 0.2]))
    if k_pos == 0:
        k_neg = max(k_neg, 1)
    k_neg = min(k_neg, len(absent), 4 - k_pos)  # at most 4 mentions: captions stay within 32 tokens
    chosen: list[tuple[str, bool]] = []
    for pool, k, pol in ((present, k_pos, True), (absent, k_neg, False)):
        n = 0
        for a in pool:
            if n == k:
                break
            if train and not _held_out_ok([c for c, _ in chosen], a):
                continue
            chosen.append((a, pol))
            n += 1
    prefix, noun, adj_ok = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
    adjs, posts = [], []
    for a, pol in chosen:
        options = list(PHRASES[a]["pos" if pol else "neg"])
        if pol and not train and a in UNSEEN_PHRASES:
            options.append((UNSEEN_PHRASES[a], "post"))
        if not adj_ok:
            options = [o for o in options if o[1] != "adj"]
        if noun == "face":  # no "a long-faced face"
            options = [o for o in options if not o[0].endswith("-faced")]
        text, kind = options[int(rng.integers(len(options)))]
        if kind == "both":
            kind = "adj" if adj_ok and rng.random() < 0.5 else "post"
        (adjs if kind == "adj" else posts).append(text)
    return _compose(prefix, noun, adjs, posts)


def captions(attrs, seed: int = 0, split: str = "train", attr_names: Sequence[str] = ATTRIBUTES) -> list[str]:
    """One caption per row of ``attrs`` (N, A); a pure function of (attrs, seed, split)."""
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {tuple(_SPLITS)}, got {split!r}")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), _SPLITS[split]])))
    a = np.asarray(attrs.cpu() if isinstance(attrs, torch.Tensor) else attrs)
    return [caption(r, rng, split=split, attr_names=attr_names) for r in a]


def prompt(attribute: str, present: bool = True, unseen: bool = False) -> tuple[str, str]:
    """Asyrp's (source, target) texts for editing ``attribute``: the source is the neutral :data:`NEUTRAL`, the
    target states the attribute present (``present=True``: "a face with glasses") or absent ("a face without
    glasses"), in its canonical training phrasing or, with ``unseen=True``, in its held-out one
    (:data:`UNSEEN_PHRASES`; positive only).  An empty or unknown name raises ``ValueError`` naming the known ones.
    """
    a = _attr_name(attribute)
    if unseen:
        if not present:
            raise ValueError("held-out phrasings are positive only: use unseen=True with present=True")
        if a not in UNSEEN_PHRASES:
            raise ValueError(f"attribute {a!r} has no held-out phrasing; those that do: {', '.join(UNSEEN_PHRASES)}")
        phrase = UNSEEN_PHRASES[a]
    else:
        phrase = PHRASES[a]["pos" if present else "neg"][0][0]
    return NEUTRAL, f"{NEUTRAL} {phrase}"


def _pair_texts(a: str, b: str) -> list[str]:
    """The four canonical texts of a pair, in the order (a, b) = (1, 1), (1, 0), (0, 1), (0, 0)."""
    out = []
    for pa in (True, False):
        for pb in (True, False):
            out.append(_compose("", "face", [], [PHRASES[a]["pos" if pa else "neg"][0][0],
                                                   PHRASES[b]["pos" if pb else "neg"][0][0]]))
    return out


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextImageConfig:
    """Architecture of the in-project CLIP (``open_clip.model.CLIP``).

    Vision: ViT on 32 px images, 4 px patches (64 tokens + class token), width 96, 4 layers, 3 heads of 32, MLP
    ratio 2.  Text: open_clip's BPE tokenizer (vocabulary 49408), context 32 tokens, width 128, 3 layers, 4 heads,
    MLP ratio 2, causal mask, pooled at the end-of-text token.  Joint embedding: 64-d.  7.05 M parameters (6.3 M of
    them the token embedding).

    Time of one training step at batch 128 (captions, tokenizer, forward, ClipLoss, backward, AdamW), measured
    with ``OMP_NUM_THREADS=1`` on this project's 2-core machine while other jobs ran: **0.61-0.68 s of CPU time**
    (wall 0.62 s when the thread had a core to itself, 1.0-1.1 s when it shared the two cores with two other
    processes).  So 2000 steps take ~21-23 min on one free core; two threads on two free cores should take about
    half that (not measured: the cores were never free).  Captions and tokens cost ~12 ms of that per step.  The
    width-128 / MLP-ratio-4 ViT first considered took 1.1-1.2 s per step on the same thread (~40 min for 2000
    steps), hence the narrower vision tower.
    """

    embed_dim: int = 64
    image_size: int = 32
    patch_size: int = 4
    vision_width: int = 96
    vision_layers: int = 4
    vision_head_width: int = 32
    vision_mlp_ratio: float = 2.0
    context_length: int = 32
    vocab_size: int = 49408
    text_width: int = 128
    text_layers: int = 3
    text_heads: int = 4
    text_mlp_ratio: float = 2.0
    init_logit_scale: float = math.log(1 / 0.07)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("int", int) and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"TextImageConfig.{f.name} must be a positive integer, got {v!r}")
            if f.type in ("float", float) and not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ValueError(f"TextImageConfig.{f.name} must be a finite number, got {v!r}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.vision_width % self.vision_head_width:
            raise ValueError(f"vision_width {self.vision_width} is not a multiple of vision_head_width "
                             f"{self.vision_head_width}")
        if self.text_width % self.text_heads:
            raise ValueError(f"text_width {self.text_width} is not a multiple of text_heads {self.text_heads}")
        if self.vocab_size < 49408:
            raise ValueError(f"vocab_size must be >= 49408 (open_clip's BPE tokenizer), got {self.vocab_size}")
        if self.context_length < 8:
            raise ValueError(f"context_length must be >= 8, got {self.context_length}")
        if self.vision_mlp_ratio <= 0 or self.text_mlp_ratio <= 0:
            raise ValueError("MLP ratios must be positive")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TextImageConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def build(self) -> nn.Module:
        """A freshly initialised ``open_clip.model.CLIP`` of this shape."""
        from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

        vision = CLIPVisionCfg(layers=self.vision_layers, width=self.vision_width, head_width=self.vision_head_width,
                               mlp_ratio=self.vision_mlp_ratio, patch_size=self.patch_size, image_size=self.image_size)
        text = CLIPTextCfg(context_length=self.context_length, vocab_size=self.vocab_size, width=self.text_width,
                           heads=self.text_heads, layers=self.text_layers, mlp_ratio=self.text_mlp_ratio)
        return CLIP(self.embed_dim, vision, text, init_logit_scale=self.init_logit_scale)


class TextImageLoadError(ValueError):
    """CLIP weights that cannot be loaded into the chosen architecture (or a file that is not a checkpoint)."""


def _versions() -> dict:
    import open_clip

    return {"torch_version": str(torch.__version__), "open_clip_version": str(open_clip.__version__)}


class TextImageModel(nn.Module):
    """A CLIP model behind one calling convention.

    ``encode_image(x)``: images (N, C, H, W) in [-1, 1], 1 or 3 channels, any size (non-square ones are centre
    cropped), differentiable w.r.t. ``x``; they are mapped to [0, 1], resized to the model's input size and
    normalised with its mean / std.  ``encode_text(texts)``: a string or a list of strings.  Both return
    L2-normalised features (N, ``embed_dim``).  ``info`` holds provenance (config, seed, steps, zero-shot accuracy,
    train time, versions ...).  Parameters are frozen after training / loading; gradients still flow to inputs.
    """

    def __init__(self, clip: nn.Module, tokenizer, *, image_size: int, mean: Sequence[float] = (0.5, 0.5, 0.5),
                 std: Sequence[float] = (0.5, 0.5, 0.5), interpolation: str = "bilinear",
                 context_length: int | None = None, config: TextImageConfig | None = None, info: dict | None = None):
        super().__init__()
        self.clip = clip
        self.tokenizer = tokenizer
        self.image_size = int(image_size)
        self.interpolation = "bicubic" if interpolation == "bicubic" else "bilinear"
        self.context_length = context_length
        self.config = config
        self.register_buffer("mean", torch.tensor([float(m) for m in mean]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([float(s) for s in std]).view(1, 3, 1, 1), persistent=False)
        self.info: dict = dict(info or {})

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def embed_dim(self) -> int:
        proj = getattr(self.clip.visual, "proj", None)
        if proj is not None:
            return int(proj.shape[-1])
        return int(self.encode_text(["a"]).shape[-1])

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale.exp()

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected images (N, 1 or 3, H, W) in [-1, 1], got shape {tuple(x.shape)}")
        x = x.to(self.device, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        h, w = x.shape[-2:]
        if h != w:
            s = min(h, w)
            x = x[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode=self.interpolation,
                              align_corners=False, antialias=x.shape[-1] > self.image_size)
        return ((x + 1.0) * 0.5 - self.mean) / self.std

    def tokenize(self, texts: str | Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a string or a non-empty list of strings")
        if self.context_length is not None:
            return self.tokenizer(texts, context_length=self.context_length)
        return self.tokenizer(texts)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        return self.clip.encode_image(self.preprocess(x), normalize=True)

    def encode_text(self, texts: str | Sequence[str]) -> torch.Tensor:
        return self.clip.encode_text(self.tokenize(texts).to(self.device), normalize=True)

    def forward(self, x: torch.Tensor, texts: str | Sequence[str]) -> torch.Tensor:
        """Image-text logits (N_images, N_texts), scaled like CLIP's."""
        return self.logit_scale * self.encode_image(x) @ self.encode_text(texts).T

    def meta(self) -> dict:
        m = dict(self.info)
        if self.config is not None:
            m["config"] = self.config.to_dict()
        return m


def _own_tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def _wrap_own(clip: nn.Module, config: TextImageConfig, info: dict | None = None) -> TextImageModel:
    return TextImageModel(clip, _own_tokenizer(), image_size=config.image_size, context_length=config.context_length,
                          config=config, info=info)


# --------------------------------------------------------------------------------------------
# training and evaluation
# --------------------------------------------------------------------------------------------
TEXT_IMAGE_STEPS = 2000  # default training length


def clip_loss(model: TextImageModel, x: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
    """open_clip's symmetric contrastive ``ClipLoss`` of matching image / caption pairs (i-th image, i-th text)."""
    from open_clip.loss import ClipLoss

    return ClipLoss()(model.encode_image(x), model.encode_text(texts), model.logit_scale)


def _attrs_of(ds) -> tuple[torch.Tensor, list[str]]:
    names = getattr(ds, "attr_names", None)
    targets = getattr(ds, "targets", None)
    if not names or targets is None or torch.as_tensor(targets).ndim != 2:
        raise ValueError(f"{getattr(ds, 'name', type(ds).__name__)}: captions need binary attributes "
                         f"(targets (N, A) with attr_names); known attributes: {_known()}")
    for a in names:
        _attr_name(a)
    return torch.as_tensor(targets).float() > 0.5, list(names)


def _images_of(ds, size: int, idx: torch.Tensor | None = None) -> torch.Tensor:
    images = getattr(ds, "images", None)
    if images is not None and idx is None:
        x = images
    else:
        idx = torch.arange(len(ds)) if idx is None else idx
        x = images[idx] if images is not None else ds.get_batch(idx)[0]
    x = x.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-1] != size:
        x = torch.cat([F.interpolate(x[i:i + 2048], size=(size, size), mode="bilinear", align_corners=False,
                                     antialias=x.shape[-1] > size) for i in range(0, len(x), 2048)])
    return x


@torch.no_grad()
def evaluate_text_image(model: TextImageModel, ds, *, batch_size: int = 256, max_n: int | None = None,
                        caption_seed: int = 0) -> dict:
    """Zero-shot attribute accuracy on ``ds`` (a dataset with binary attributes).

    Per attribute, each image is classified present when its cosine with the canonical positive prompt
    ("a face with glasses") exceeds that with the canonical negative one ("a face without glasses").
    ``zero_shot_accuracy`` is the mean over attributes; ``zero_shot_accuracy_unseen`` the same with the held-out
    positive phrasing ("a face wearing spectacles" vs "a face without glasses") over the attributes that have one.
    ``pair_accuracy_unseen`` / ``pair_accuracy_seen``: 4-way accuracy (both / first only / second only / neither,
    chance 0.25) on the held-out pairs and on control pairs that training co-mentions.  ``test_clip_loss``:
    ``ClipLoss`` over batches of the test images with ``split="test"`` captions (seed ``caption_seed``).
    """
    attrs, names = _attrs_of(ds)
    n = len(ds) if max_n is None else min(len(ds), int(max_n))
    was_training = model.training
    model.eval()
    try:
        feats, losses = [], []
        caps = captions(attrs[:n].numpy(), caption_seed, "test", attr_names=names)
        for i in range(0, n, batch_size):
            idx = torch.arange(i, min(i + batch_size, n))
            x = _images_of(ds, model.image_size, idx)
            f = model.encode_image(x)
            feats.append(f.cpu())
            if len(idx) > 1:
                t = model.encode_text(caps[i:i + len(idx)])
                logits = model.logit_scale * f @ t.T
                lab = torch.arange(len(idx), device=logits.device)
                losses.append((F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab)).item() / 2)
        img = torch.cat(feats) if feats else torch.zeros(0, 1)
        y = attrs[:n]
        res: dict = {"n_test": int(n)}
        if losses:
            res["test_clip_loss"] = float(np.mean(losses))

        def binary(pos_text: str, neg_text: str, col: int) -> float:
            t = model.encode_text([pos_text, neg_text]).cpu()
            s = img @ t.T
            return float(((s[:, 0] > s[:, 1]) == y[:, col]).float().mean())

        per, per_unseen = {}, {}
        for j, a in enumerate(names):
            key = _attr_name(a)
            neg = prompt(key, present=False)[1]
            per[a] = binary(prompt(key)[1], neg, j)
            if key in UNSEEN_PHRASES:
                per_unseen[a] = binary(prompt(key, unseen=True)[1], neg, j)
        res["zero_shot_accuracy"] = float(np.mean(list(per.values()))) if per else float("nan")
        res["per_attribute_accuracy"] = per
        res["zero_shot_accuracy_unseen"] = float(np.mean(list(per_unseen.values()))) if per_unseen else float("nan")
        res["per_attribute_accuracy_unseen"] = per_unseen
        keys = [_attr_name(a) for a in names]
        for label, pairs in (("unseen", UNSEEN_PAIRS), ("seen", _SEEN_PAIRS)):
            acc = {}
            for a, b in pairs:
                if a not in keys or b not in keys:
                    continue
                t = model.encode_text(_pair_texts(a, b)).cpu()
                pred = (img @ t.T).argmax(1)
                ya, yb = y[:, keys.index(a)].long(), y[:, keys.index(b)].long()
                truth = (1 - ya) * 2 + (1 - yb)  # (1,1)->0, (1,0)->1, (0,1)->2, (0,0)->3
                acc[f"{a}+{b}"] = float((pred == truth).float().mean())
            res[f"pair_accuracy_{label}"] = acc
        return res
    finally:
        model.train(was_training)


def train_text_image(train_ds, test_ds=None, *, steps: int | None = None, seed: int = 0, batch_size: int = 128,
                     lr: float = 1e-3, weight_decay: float = 0.1, warmup: int | None = None,
                     device: str | torch.device = "cpu", unseen: bool = True, config: TextImageConfig | None = None,
                     num_threads: int | None = None, max_test: int | None = None,
                     verbose: bool = False) -> TextImageModel:
    """Train the in-project CLIP on ``train_ds`` (images with binary attributes) and evaluate on ``test_ds``.

    Each step draws ``batch_size`` images (epochs of a seeded permutation) and a fresh caption for each
    (:func:`caption`, ``split="train"``: with ``unseen=True``, the default, no held-out phrasing or pair ever
    appears; ``unseen=False`` trains on everything, an ablation in which "unseen" numbers are not unseen).  Loss:
    open_clip's ``ClipLoss``; AdamW (``lr``, ``weight_decay`` on matrices only: not on biases, norms, embeddings or
    the logit scale), linear warm-up over ``warmup`` steps (default 5 %) then cosine decay to 0; the logit scale is
    clamped to at most 100 as in open_clip.  ``steps=0`` returns the seeded initialisation.  ``seed`` fixes the
    initialisation, the batch order and the captions, so two seeds give two independent models.
    ``num_threads`` temporarily sets ``torch.set_num_threads``.  The result is in eval mode with frozen parameters;
    its ``info`` holds the settings, timings, losses and (with ``test_ds``) :func:`evaluate_text_image`'s numbers.
    """
    old_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    try:
        return _train(train_ds, test_ds, steps=TEXT_IMAGE_STEPS if steps is None else int(steps), seed=int(seed),
                      batch_size=int(batch_size), lr=float(lr), weight_decay=float(weight_decay), warmup=warmup,
                      device=torch.device(device), unseen=bool(unseen), config=config or TextImageConfig(),
                      max_test=max_test, verbose=verbose)
    finally:
        torch.set_num_threads(old_threads)


def _train(train_ds, test_ds, *, steps, seed, batch_size, lr, weight_decay, warmup, device, unseen, config,
           max_test, verbose) -> TextImageModel:
    if steps < 0 or batch_size < 2:
        raise ValueError(f"steps must be >= 0 and batch_size >= 2, got steps={steps}, batch_size={batch_size}")
    from open_clip.loss import ClipLoss

    attrs, names = _attrs_of(train_ds)
    n_train = len(train_ds)
    if n_train < batch_size:
        raise ValueError(f"batch_size {batch_size} exceeds the {n_train} training images")
    torch.manual_seed(seed)
    clip = config.build().to(device)
    model = _wrap_own(clip, config).to(device)
    images = _images_of(train_ds, config.image_size)  # pre-resized once
    attrs_np = attrs.numpy()
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 7])))
    split = "train" if unseen else "test"

    decay, no_decay = [], []
    for name, p in clip.named_parameters():
        (no_decay if p.ndim < 2 or "embedding" in name or "logit_scale" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warm = max(1, int(0.05 * steps)) if warmup is None else max(1, int(warmup))

    def lr_at(s):
        if s < warm:
            return (s + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    loss_fn = ClipLoss()
    bar = None
    if verbose and steps:
        from .progress import bar as _bar

        bar = _bar(steps, desc="[TextImage] step")
    model.train()
    t0 = time.perf_counter()
    perm, pos = torch.randperm(n_train, generator=gen), 0
    loss_ema = first_loss = None
    for step in range(steps):
        if pos + batch_size > n_train:
            perm, pos = torch.randperm(n_train, generator=gen), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        texts = [caption(attrs_np[int(i)], rng, split=split, attr_names=names) for i in idx]
        x = images[idx].to(device)
        tok = model.tokenize(texts).to(device)
        loss = loss_fn(clip.encode_image(model.preprocess(x), normalize=True),
                       clip.encode_text(tok, normalize=True), clip.logit_scale.exp())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            clip.logit_scale.clamp_(0, math.log(100))
        li = float(loss.item())
        first_loss = li if first_loss is None else first_loss
        loss_ema = li if loss_ema is None else 0.98 * loss_ema + 0.02 * li
        if bar is not None:
            bar.update(1)
            if step % 100 == 0 or step == steps - 1:
                bar.set_postfix_str(f"clip loss {loss_ema:.3f}")
                bar.refresh()
    if bar is not None:
        bar.close()
    train_time = time.perf_counter() - t0
    model.eval().requires_grad_(False)
    info = dict(kind="semlib_text_image", trained_in_project=True, config=config.to_dict(), seed=seed, steps=steps,
                batch_size=batch_size, lr=lr, weight_decay=weight_decay, warmup=warm, held_out=unseen,
                unseen_phrases=dict(UNSEEN_PHRASES), unseen_pairs=[list(p) for p in UNSEEN_PAIRS],
                dataset=getattr(train_ds, "name", None), resolution=getattr(train_ds, "resolution", None),
                split=getattr(train_ds, "split", "train"), n_train=n_train, first_train_loss=first_loss,
                final_train_loss=loss_ema, train_time_s=train_time,
                s_per_step=(train_time / steps) if steps else None, **_versions())
    if test_ds is not None:
        ev = evaluate_text_image(model, test_ds, max_n=max_test)
        info.update(ev)
        info["test_split"] = getattr(test_ds, "split", None)
    model.info = info
    return model


# --------------------------------------------------------------------------------------------
# saving, caching, loading
# --------------------------------------------------------------------------------------------
_FORMAT = "semlib.TextImageModel/1"


def _plain(v):
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "item"):
        return _plain(v.item())
    return str(v)


def save_text_image(model: TextImageModel, path) -> None:
    """Atomic save of an in-project model (config, info, weights): a temp file in the same folder, then
    ``os.replace``, so a concurrent reader never sees half a file."""
    if model.config is None:
        raise ValueError("only in-project models (with a TextImageConfig) are saved; real CLIP weights stay where "
                         "they are")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": _FORMAT, "config": model.config.to_dict(), "meta": _plain(model.info),
            "state_dict": {k: v.detach().cpu() for k, v in model.clip.state_dict().items()}}
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _load_own(path: Path, device) -> TextImageModel:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises several types for a bad file
        raise TextImageLoadError(f"cannot read {path} as a semlib text-image checkpoint "
                                 f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); for real CLIP "
                                 f"weights pass model_name=... (an open_clip architecture such as 'ViT-B-32')") from e
    if not isinstance(blob, dict) or blob.get("format") != _FORMAT:
        raise TextImageLoadError(f"{path} is not a semlib text-image checkpoint (format {_FORMAT}); for real CLIP "
                                 f"weights pass model_name=... (an open_clip architecture such as 'ViT-B-32')")
    config = TextImageConfig.from_dict(blob["config"])
    clip = config.build()
    try:
        clip.load_state_dict(blob["state_dict"])
    except RuntimeError as e:
        raise TextImageLoadError(f"weights in {path} do not match their own config {config}: {e}") from e
    info = dict(blob.get("meta", {}))
    info["cache_path"] = str(path)
    return _wrap_own(clip, config, info).to(device).eval().requires_grad_(False)


def load_text_image(path, model_name: str | None = None, *, device: str | torch.device = "cpu",
                    **open_clip_kwargs) -> TextImageModel:
    """Load a text-image model from a file.

    ``model_name=None``: a checkpoint written by :func:`save_text_image` / :func:`get_text_image_model`.
    ``model_name="ViT-B-32"`` (any ``open_clip.list_models()`` name): real CLIP weights given by the user, through
    ``open_clip.create_model_and_transforms(model_name, pretrained=path)`` (extra keywords go there too), wrapped
    the same way: inputs in [-1, 1] are resized to the model's input size with its interpolation and normalised
    with its mean / std; texts use ``open_clip.get_tokenizer(model_name)``.  Nothing is ever downloaded: ``path``
    must be a local file.

    Errors: a file that does not exist raises ``FileNotFoundError``; weights that do not match the architecture
    (or a file that is not a checkpoint) raise :class:`TextImageLoadError` (a ``ValueError``); an unknown
    ``model_name`` raises ``ValueError``.  Each names the path and the model.
    """
    p = Path(path).expanduser()
    what = f"model_name={model_name!r}" if model_name else "a semlib text-image checkpoint"
    if not p.is_file():
        raise FileNotFoundError(f"text-image weights not found at '{p}' ({what}); semlib never downloads weights: "
                                f"put the file there, or train the in-project model with get_text_image_model()")
    if model_name is None:
        return _load_own(p, device)

    import open_clip

    if model_name.replace("/", "-") not in open_clip.list_models():
        raise ValueError(f"unknown open_clip model_name {model_name!r} for weights '{p}'; choose one of "
                         f"open_clip.list_models() (e.g. 'ViT-B-32', 'ViT-B-16', 'RN50')")
    kw = dict(pretrained_text=False, pretrained_image=False)  # never fetch tower weights from a hub
    kw.update(open_clip_kwargs)
    try:
        clip, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=str(p), device="cpu", **kw)
    except Exception as e:  # noqa: BLE001 - open_clip / torch raise RuntimeError, KeyError, UnpicklingError ...
        msg = str(e).strip().splitlines()
        short = "\n  ".join(msg[:6]) + ("\n  ..." if len(msg) > 6 else "")
        raise TextImageLoadError(f"cannot load CLIP weights '{p}' into open_clip model {model_name!r}: they do not "
                                 f"match that architecture or are not a CLIP checkpoint ({type(e).__name__}: "
                                 f"{short})") from e
    try:
        tokenizer = open_clip.get_tokenizer(model_name)
    except Exception as e:  # noqa: BLE001 - e.g. a Hugging Face tokenizer that would need a download
        raise TextImageLoadError(f"no local tokenizer for open_clip model {model_name!r} (weights '{p}'): "
                                 f"{type(e).__name__}: {e}") from e
    pp = dict(getattr(clip.visual, "preprocess_cfg", {}) or {})
    size = pp.get("size", getattr(clip.visual, "image_size", 224))
    size = size[0] if isinstance(size, (tuple, list)) else size
    info = dict(kind="open_clip", trained_in_project=False, model_name=model_name, path=str(p),
                file_size=p.stat().st_size, preprocess=_plain(pp), **_versions())
    model = TextImageModel(clip, tokenizer, image_size=int(size), mean=pp.get("mean", (0.48145466, 0.4578275,
                                                                                         0.40821073)),
                           std=pp.get("std", (0.26862954, 0.26130258, 0.27577711)),
                           interpolation=pp.get("interpolation", "bicubic"), info=info)
    return model.to(device).eval().requires_grad_(False)


def _key_suffix(config: TextImageConfig | None, train_kwargs: dict | None, dataset_kwargs: dict | None) -> str:
    extra = {}
    if config is not None and config != TextImageConfig():
        extra["config"] = config.to_dict()
    if train_kwargs:
        extra["train"] = _plain(train_kwargs)
    if dataset_kwargs:
        extra["data"] = _plain(dataset_kwargs)
    if not extra:
        return ""
    return "_" + hashlib.sha256(json.dumps(extra, sort_keys=True).encode()).hexdigest()[:10]


def text_image_cache_path(dataset: str, resolution: int = 32, seed: int = 0, steps: int | None = None,
                          cache_dir=None, *, config: TextImageConfig | None = None, train_kwargs: dict | None = None,
                          dataset_kwargs: dict | None = None) -> Path:
    """``<cache_dir>/textimage_<dataset>_<resolution>_<seed>_s<steps>[_<hash>].pt``: one file per dataset,
    resolution, seed and steps (a short smoke-test model never replaces the full one); a non-default config or
    extra training / dataset arguments add a hash of them."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    steps = TEXT_IMAGE_STEPS if steps is None else int(steps)
    return cache_dir / (f"textimage_{dataset}_{resolution}_{seed}_s{steps}"
                        f"{_key_suffix(config, train_kwargs, dataset_kwargs)}.pt")


def get_text_image_model(dataset: str = "synthfaces", *, resolution: int = 32, seed: int = 0,
                         steps: int | None = None, device: str | torch.device = "cpu", cache_dir=None,
                         config: TextImageConfig | None = None, train_kwargs: dict | None = None,
                         dataset_kwargs: dict | None = None, verbose: bool = True) -> TextImageModel:
    """The in-project text-image model for a dataset, trained once and cached.

    If :func:`text_image_cache_path` exists it is loaded.  Otherwise the model is trained with
    :func:`train_text_image` on ``load_dataset(dataset, split="train")``, evaluated on ``split="test"``, saved
    atomically with its info (zero-shot accuracies, train time, versions ...) and loaded back.  ``train_kwargs`` go
    to :func:`train_text_image`, ``dataset_kwargs`` (e.g. ``n``, ``root``) to ``load_dataset``.  Different seeds
    give independent models (initialisation, batch order and captions all follow the seed).
    """
    path = text_image_cache_path(dataset, resolution, seed, steps, cache_dir, config=config,
                                 train_kwargs=train_kwargs, dataset_kwargs=dataset_kwargs)
    if path.exists():
        return _load_own(path, device)
    from .data import load_dataset

    dkw = dict(dataset_kwargs or {})
    train_ds = load_dataset(dataset, split="train", resolution=resolution, **dkw)
    test_ds = load_dataset(dataset, split="test", resolution=resolution, **dkw)
    model = train_text_image(train_ds, test_ds, steps=steps, seed=seed, device=device, config=config,
                             verbose=verbose, **(train_kwargs or {}))
    model.info.update(dataset=dataset, resolution=resolution)
    save_text_image(model, path)
    model = _load_own(path, device)
    if verbose:
        i = model.info
        print(f"[TextImage] {dataset}@{resolution} seed {seed}: zero-shot accuracy {i.get('zero_shot_accuracy'):.3f} "
              f"(held-out phrasings {i.get('zero_shot_accuracy_unseen'):.3f}) after {i['steps']} steps "
              f"({i['train_time_s']:.0f}s); cached at {path}")
    return model


# --------------------------------------------------------------------------------------------
# Asyrp's directional CLIP loss
# --------------------------------------------------------------------------------------------
def _text_features(model, texts: str | Sequence[str], n: int) -> torch.Tensor:
    t = model.encode_text([texts] if isinstance(texts, str) else list(texts))
    if t.shape[0] not in (1, n):
        raise ValueError(f"{t.shape[0]} texts for {n} images: give one text or one per image")
    return t


def directional_cosine(model, x_src: torch.Tensor, x_edit: torch.Tensor, text_src: str | Sequence[str],
                       text_trg: str | Sequence[str]) -> torch.Tensor:
    """Per-image cos(E_I(x_edit) - E_I(x_src), E_T(text_trg) - E_T(text_src)), shape (N,).

    ``model`` is anything with ``encode_image`` / ``encode_text`` (a :class:`TextImageModel`, whose features are
    L2-normalised as in the reference implementation).  Texts: one string (shared) or one per image.  The mean is
    Asyrp's directional CLIP similarity S_dir.  Differentiable w.r.t. ``x_edit`` (and ``x_src``; detach it if the
    source images should receive no gradient).  A zero image or text direction gives cosine 0.
    """
    if x_src.shape != x_edit.shape:
        raise ValueError(f"x_src {tuple(x_src.shape)} and x_edit {tuple(x_edit.shape)} differ in shape")
    n = x_edit.shape[0] if x_edit.ndim == 4 else 1
    d_img = model.encode_image(x_edit) - model.encode_image(x_src)
    d_txt = _text_features(model, text_trg, n) - _text_features(model, text_src, n)
    return F.cosine_similarity(d_img, d_txt.to(d_img.dtype).expand_as(d_img), dim=-1, eps=1e-8)


def directional_loss(model, x_src: torch.Tensor, x_edit: torch.Tensor, text_src: str | Sequence[str],
                     text_trg: str | Sequence[str], reduction: str = "mean") -> torch.Tensor:
    """Asyrp's CLIP loss ``-log((2 - L_dir) / 2)`` with ``L_dir = 1 - directional_cosine`` (0 when aligned,
    log 2 when orthogonal, unbounded when opposite).  ``reduction="mean"`` takes L_dir's mean over the batch
    first, as the reference implementation does; ``"none"`` returns the per-image loss."""
    l_dir = 1.0 - directional_cosine(model, x_src, x_edit, text_src, text_trg)
    if reduction == "mean":
        l_dir = l_dir.mean()
    elif reduction != "none":
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    return -torch.log((2.0 - l_dir) / 2.0)
