"""semlib.textimage: captions, held-out phrasings / pairs, the in-project CLIP, its training, caching and loading,
and Asyrp's directional CLIP loss.  Every test runs in seconds on one CPU thread."""
import json
import math
import re

import numpy as np
import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from semlib.data import ATTRIBUTES, load_dataset  # noqa: E402
from semlib import textimage as ti  # noqa: E402
from semlib.textimage import (PHRASES, UNSEEN_PAIRS, UNSEEN_PHRASES, TextImageConfig, TextImageLoadError,  # noqa: E402
                              caption, captions, clip_loss, directional_cosine, directional_loss,
                              get_text_image_model, load_text_image, prompt, save_text_image, train_text_image)

TINY = TextImageConfig(embed_dim=16, image_size=16, patch_size=4, vision_width=32, vision_layers=1,
                       vision_head_width=16, context_length=32, text_width=32, text_layers=1, text_heads=2)


def _random_attrs(n, seed=0):
    return np.random.default_rng(seed).random((n, len(ATTRIBUTES))) < 0.5


# every phrasing -> (attribute, polarity); longest first so that "not smiling" is not read as "smiling"
_ALL = sorted([(p, a, True) for a in PHRASES for p, _ in PHRASES[a]["pos"]]
              + [(p, a, False) for a in PHRASES for p, _ in PHRASES[a]["neg"]]
              + [(p, a, True) for a, p in UNSEEN_PHRASES.items()], key=lambda t: -len(t[0]))


def _mentions(text):
    """(attribute, polarity) pairs a caption states, read from its text alone."""
    found = []
    for phrase, a, pol in _ALL:
        pat = re.compile(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])")
        if pat.search(text):
            found.append((a, pol))
            text = pat.sub("#", text)
    return found


def test_captions_are_deterministic_per_seed_and_split():
    attrs = _random_attrs(300)
    a = captions(attrs, seed=0, split="train")
    assert a == captions(attrs, seed=0, split="train")
    assert a == captions(torch.as_tensor(attrs, dtype=torch.float32), seed=0, split="train")
    assert a != captions(attrs, seed=1, split="train")
    assert a != captions(attrs, seed=0, split="test")
    assert len(set(a)) > 200  # several templates and phrasings, not a lookup table
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    assert [caption(r, rng1) for r in attrs[:20]] == [caption(r, rng2) for r in attrs[:20]]
    with pytest.raises(ValueError, match="split"):
        captions(attrs, 0, split="val")


def test_training_captions_never_contain_held_out_phrasings_or_pairs_and_are_truthful():
    attrs = _random_attrs(6000, seed=3)
    train = captions(attrs, seed=0, split="train")
    test = captions(attrs, seed=0, split="test")
    held = [re.compile(r"(?<![\w-])" + re.escape(p) + r"(?![\w-])") for p in UNSEEN_PHRASES.values()]
    n_pos, n_neg = [], []
    for row, text in zip(attrs, train):
        assert not any(h.search(text) for h in held), text
        m = _mentions(text)
        names = {a for a, _ in m}
        for a, b in UNSEEN_PAIRS:
            assert not (a in names and b in names), text
        for a, pol in m:  # what a caption says is true of the face
            assert bool(row[ATTRIBUTES.index(a)]) == pol, (text, a, pol)
        n_pos.append(sum(p for _, p in m))
        n_neg.append(sum(not p for _, p in m))
    assert min(n_pos) >= 0 and max(n_pos) == 3 and max(n_pos) + max(n_neg) <= 5
    assert np.mean(n_neg) > 0.3  # absent attributes are sometimes stated negatively
    # the check is not vacuous: the unrestricted ("test") captions do use the held-out phrasings and pairs
    assert all(any(h.search(t) for t in test) for h in held)
    for a, b in UNSEEN_PAIRS:
        assert any({a, b} <= {x for x, _ in _mentions(t)} for t in test)


def test_held_out_phrasings_are_made_of_seen_word_pieces_and_captions_fit_the_context():
    tok = open_clip.tokenizer.SimpleTokenizer()
    train = captions(_random_attrs(3000, seed=4), seed=2, split="train")
    seen = set()
    for t in train:
        ids = tok.encode(t)
        assert len(ids) + 2 <= TextImageConfig().context_length, t  # never truncated
        seen.update(ids)
    for p in UNSEEN_PHRASES.values():
        assert set(tok.encode(p)) <= seen, p


def test_prompts_and_attribute_errors():
    assert prompt("glasses") == ("a face", "a face with glasses")
    assert prompt("Eyes closed", present=False) == ("a face", "a face with open eyes")
    assert prompt("glasses", unseen=True) == ("a face", "a face " + UNSEEN_PHRASES["glasses"])
    for a in ATTRIBUTES:
        src, trg = prompt(a)
        assert trg.startswith(src) and trg != src and trg != prompt(a, present=False)[1]
    for bad in ["", "   ", "wings"]:
        with pytest.raises(ValueError, match="known attributes: smiling, glasses"):
            prompt(bad)
    with pytest.raises(ValueError, match="held-out"):
        prompt("earrings", unseen=True)
    with pytest.raises(ValueError, match="positive only"):
        prompt("glasses", present=False, unseen=True)


def test_config_validation():
    with pytest.raises(ValueError, match="patch_size"):
        TextImageConfig(image_size=32, patch_size=5)
    with pytest.raises(ValueError, match="vocab_size"):
        TextImageConfig(vocab_size=1000)
    with pytest.raises(ValueError, match="positive integer"):
        TextImageConfig(vision_layers=0)


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return ti._wrap_own(TINY.build(), TINY).eval()


def test_features_are_unit_norm_with_the_configured_dimension():
    m = _tiny_model()
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    for imgs in (x, x[:, :, :16, :16], x[:, :1], x[:, :, :, :24]):  # resized, grey, non-square
        f = m.encode_image(imgs)
        assert f.shape == (5, TINY.embed_dim)
        assert torch.allclose(f.norm(dim=-1), torch.ones(5), atol=1e-5)
    t = m.encode_text(["a face with glasses", "a person", "a face"])
    assert t.shape == (3, TINY.embed_dim) and m.embed_dim == TINY.embed_dim
    assert torch.allclose(t.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert m.encode_text("a face").shape == (1, TINY.embed_dim)
    with pytest.raises(ValueError):
        m.encode_text([])


@pytest.fixture(scope="module")
def faces():
    return (load_dataset("synthfaces", resolution=32, split="train", n=256),
            load_dataset("synthfaces", resolution=32, split="test", n=64))


def test_training_lowers_the_clip_loss(faces):
    train, test = faces
    kw = dict(seed=0, batch_size=32, lr=3e-3, config=TINY, num_threads=1)
    m0 = train_text_image(train, None, steps=0, **kw)
    m1 = train_text_image(train, test, steps=50, **kw)
    x, y = train.get_batch(torch.arange(64))
    texts = captions(y.numpy(), seed=123, split="train")
    with torch.no_grad():
        l0, l1 = clip_loss(m0, x, texts).item(), clip_loss(m1, x, texts).item()
    assert l1 < l0 - 0.1, (l0, l1)
    i = m1.info
    assert i["steps"] == 50 and i["seed"] == 0 and i["held_out"] is True and i["train_time_s"] > 0
    assert i["open_clip_version"] == open_clip.__version__
    assert 0 <= i["zero_shot_accuracy"] <= 1 and 0 <= i["zero_shot_accuracy_unseen"] <= 1
    assert set(i["per_attribute_accuracy"]) == set(ATTRIBUTES)
    assert set(i["per_attribute_accuracy_unseen"]) == set(UNSEEN_PHRASES)
    assert set(i["pair_accuracy_unseen"]) == {f"{a}+{b}" for a, b in UNSEEN_PAIRS}
    assert not any(p.requires_grad for p in m1.parameters())


class _LinearStub:
    """encode_image = flattened image @ W, encode_text = a fixed vector per text: linear maps we control."""

    def __init__(self, d_in=48, d=8, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.W = torch.randn(d_in, d, generator=g)
        self.text = {t: torch.randn(d, generator=g) for t in ("a face", "a face with glasses", "a face with a hat")}

    def encode_image(self, x):
        return x.flatten(1) @ self.W

    def encode_text(self, texts):
        return torch.stack([self.text[t] for t in texts])


def test_directional_cosine_is_one_along_the_text_direction_and_gradients_reach_x_edit():
    stub = _LinearStub()
    g = torch.Generator().manual_seed(1)
    x_src = torch.randn(3, 3, 4, 4, generator=g)
    d_txt = stub.text["a face with glasses"] - stub.text["a face"]
    dx = (d_txt @ torch.linalg.pinv(stub.W)).view(1, 3, 4, 4) * torch.tensor([0.5, 1.0, 3.0]).view(3, 1, 1, 1)
    x_edit = (x_src + dx).requires_grad_(True)
    cos = directional_cosine(stub, x_src, x_edit, "a face", "a face with glasses")
    assert cos.shape == (3,) and torch.allclose(cos, torch.ones(3), atol=1e-4)
    assert directional_loss(stub, x_src, x_edit, "a face", "a face with glasses").abs().item() < 1e-4
    # the other text direction is not aligned; per-image texts are accepted
    other = directional_cosine(stub, x_src, x_edit, "a face", ["a face with glasses", "a face with a hat",
                                                             "a face with glasses"])
    assert other[1] < 0.99 and torch.allclose(other[[0, 2]], torch.ones(2), atol=1e-4)
    # gradients flow to x_edit, and a step along them raises a misaligned cosine
    x_bad = (x_src + torch.randn(3, 3, 4, 4, generator=g)).requires_grad_(True)
    loss = directional_loss(stub, x_src, x_bad, "a face", "a face with glasses")
    loss.backward()
    assert x_bad.grad is not None and x_bad.grad.abs().sum() > 0
    before = directional_cosine(stub, x_src, x_bad.detach(), "a face", "a face with glasses").mean()
    after = directional_cosine(stub, x_src, x_bad.detach() - 0.05 * x_bad.grad, "a face", "a face with glasses")
    assert after.mean() > before
    # the reference form: -log((2 - L_dir) / 2), L_dir = 1 - cos (batch mean first)
    c = directional_cosine(stub, x_src, x_bad.detach(), "a face", "a face with glasses")
    ref = -torch.log((2 - (1 - c).mean()) / 2)
    assert torch.allclose(directional_loss(stub, x_src, x_bad.detach(), "a face", "a face with glasses"), ref)
    per = directional_loss(stub, x_src, x_bad.detach(), "a face", "a face with glasses", reduction="none")
    assert per.shape == (3,) and torch.allclose(per, -torch.log((1 + c) / 2))


def test_directional_loss_gradient_reaches_x_edit_through_the_model():
    m = _tiny_model()
    x_src = torch.rand(2, 3, 32, 32) * 2 - 1
    x_edit = (x_src + 0.1 * torch.randn_like(x_src)).requires_grad_(True)
    loss = directional_loss(m, x_src, x_edit, *prompt("glasses"))
    loss.backward()
    assert torch.isfinite(loss) and x_edit.grad is not None and x_edit.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def tiny_open_clip_config(tmp_path_factory):
    """A tiny architecture registered with open_clip under a name, as a real one ('ViT-B-32') would be."""
    d = tmp_path_factory.mktemp("oc_cfg")
    cfg = {"embed_dim": 16,
           "vision_cfg": {"image_size": 16, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}
    (d / "semlib-test-tiny.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d)
    return "semlib-test-tiny", cfg


def test_load_text_image_real_weights_and_its_two_errors(tmp_path, tiny_open_clip_config):
    name, cfg = tiny_open_clip_config
    torch.manual_seed(0)
    ref = open_clip.create_model(name)
    good = tmp_path / "good.pt"
    torch.save(ref.state_dict(), good)
    m = load_text_image(good, model_name=name)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        # the wrapper maps [-1, 1] to [0, 1], resizes to 16 px with the model's interpolation, normalises
        pre = torch.nn.functional.interpolate((x + 1) / 2, size=(16, 16), mode="bicubic", align_corners=False,
                                              antialias=True)
        mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
        want = ref.encode_image((pre - mean) / std, normalize=True)
        assert torch.allclose(m.encode_image(x), want, atol=1e-5)
        tok = open_clip.get_tokenizer(name)(["a face"])
        assert torch.allclose(m.encode_text("a face"), ref.encode_text(tok, normalize=True), atol=1e-5)
    assert m.info["model_name"] == name and not m.info["trained_in_project"]

    missing = tmp_path / "nope" / "clip.pt"
    with pytest.raises(FileNotFoundError) as e:
        load_text_image(missing, model_name=name)
    assert str(missing) in str(e.value) and name in str(e.value)

    bad_cfg = json.loads(json.dumps(cfg))
    bad_cfg["vision_cfg"]["width"] = 64
    other = open_clip.model.CLIP(bad_cfg["embed_dim"], open_clip.model.CLIPVisionCfg(**bad_cfg["vision_cfg"]),
                                 open_clip.model.CLIPTextCfg(**bad_cfg["text_cfg"]))
    bad = tmp_path / "bad.pt"
    torch.save(other.state_dict(), bad)
    with pytest.raises(TextImageLoadError) as e:
        load_text_image(bad, model_name=name)
    assert str(bad) in str(e.value) and name in str(e.value)
    with pytest.raises(ValueError, match="unknown open_clip model_name"):
        load_text_image(good, model_name="no-such-model")
    with pytest.raises(TextImageLoadError, match="not a semlib text-image checkpoint"):
        load_text_image(good)  # real weights without a model_name


def test_get_text_image_model_trains_once_per_seed_and_caches(tmp_path, monkeypatch):
    kw = dict(resolution=32, steps=3, cache_dir=tmp_path, config=TINY, verbose=False,
              train_kwargs={"batch_size": 16, "num_threads": 1}, dataset_kwargs={"n": 48})
    m0 = get_text_image_model("synthfaces", seed=0, **kw)
    m1 = get_text_image_model("synthfaces", seed=1, **kw)
    files = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert len(files) == 2 and all(f.startswith("textimage_synthfaces_32_") and "_s3_" in f for f in files)
    assert not list(tmp_path.glob("*.tmp"))
    w0, w1 = m0.clip.visual.proj, m1.clip.visual.proj
    assert not torch.allclose(w0, w1)  # two seeds, two independent networks
    assert m0.info["seed"] == 0 and m1.info["seed"] == 1 and "zero_shot_accuracy" in m0.info

    def boom(*a, **k):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr(ti, "train_text_image", boom)
    again = get_text_image_model("synthfaces", seed=0, **kw)
    assert torch.equal(again.clip.visual.proj, w0) and again.info["cache_path"].endswith(files[0])
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(again.encode_image(x), m0.encode_image(x))
    # save / load round trip through the public functions
    save_text_image(m1, tmp_path / "copy.pt")
    back = load_text_image(tmp_path / "copy.pt")
    with torch.no_grad():
        assert torch.allclose(back.encode_text(["a face with a hat"]), m1.encode_text(["a face with a hat"]))
    assert back.config == TINY and math.isfinite(back.info["train_time_s"])
