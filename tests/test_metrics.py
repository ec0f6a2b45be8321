"""Tests for semlib.metrics (FID, precision/recall, extractors, PPL, cost)."""
import sys
import time
import types
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

from semlib.metrics import (
    InceptionExtractor,
    PerceptualDistance,
    compute_features,
    count_parameters,
    domain_cache_path,
    evaluate_samples,
    feature_stats,
    fid_from_features,
    flops_per_image,
    frechet_distance,
    get_domain_extractor,
    get_extractor,
    knn_radii,
    load_domain_net,
    peak_memory_info,
    perceptual_path_length,
    precision_recall,
    save_domain_net,
    sha256_file,
    slerp,
    time_per_batch,
    train_domain_net,
)

TINY = (8, 16, 32, 64)  # small widths keep CPU training to a few seconds


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # tiny nets on a shared 2-core machine: OpenMP oversubscription is far slower than 1 thread
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _rand_spd(d, rng, scale=1.0):
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.1 * np.eye(d))


def _sqrtm_psd(s):
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _fid_eig(mu1, s1, mu2, s2):
    """Independent closed form: Tr sqrt(S1^1/2 S2 S1^1/2) by eigendecomposition."""
    r = _sqrtm_psd(s1)
    ev = np.linalg.eigvalsh(r @ s2 @ r)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())


class FakeDS:
    """Duck-typed stand-in for semlib.data.ImageDataset."""

    def __init__(self, images, targets, name="bars", class_names=None, attr_names=None):
        self.images = images
        self.targets = targets
        self.name = name
        self.resolution = images.shape[-1]
        self.channels = images.shape[1]
        self.class_names = class_names
        self.attr_names = attr_names

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, i):
        return self.images[i], self.targets[i]

    def get_batch(self, idx):
        return self.images[idx], self.targets[idx]


def make_bars(n, res=16, seed=0):
    """Class 0: one horizontal bar, class 1: one vertical bar, plus noise; in [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    pos = torch.randint(2, res - 2, (n,), generator=g)
    x = -torch.ones(n, 1, res, res)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, pos[i] - 1 : pos[i] + 1, :] = 1.0
        else:
            x[i, 0, :, pos[i] - 1 : pos[i] + 1] = 1.0
    x = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    return FakeDS(x, y.long(), class_names=["horizontal", "vertical"])


@pytest.fixture(scope="module")
def bars_net():
    train = make_bars(200, seed=1)
    test = make_bars(100, seed=2)
    net = train_domain_net(train, test, steps=120, batch_size=32, lr=3e-3, seed=0, widths=TINY)
    return net, train, test


# --------------------------------------------------------------------------- #
# Fréchet distance
# --------------------------------------------------------------------------- #
def test_frechet_identical_is_zero():
    rng = np.random.default_rng(0)
    s = _rand_spd(8, rng)
    mu = rng.normal(size=8)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-6


def test_frechet_diagonal_closed_form():
    rng = np.random.default_rng(1)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.1, 3, size=d), rng.uniform(0.1, 3, size=d)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_frechet_rotated_matches_eigendecomposition():
    rng = np.random.default_rng(2)
    d = 5
    q1, _ = np.linalg.qr(rng.normal(size=(d, d)))
    q2, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s1 = q1 @ np.diag(rng.uniform(0.2, 2, d)) @ q1.T
    s2 = q2 @ np.diag(rng.uniform(0.2, 2, d)) @ q2.T
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(_fid_eig(mu1, s1, mu2, s2), rel=1e-8)
    # symmetric in its arguments
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(got, rel=1e-8)


def test_frechet_singular_covariances_are_finite():
    # fewer samples than dims -> rank-deficient covariances
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(10, 32)), rng.normal(size=(10, 32)) + 0.5
    fd = fid_from_features(a, b)
    assert np.isfinite(fd) and fd > 0
    mu1, s1 = feature_stats(a)
    mu2, s2 = feature_stats(b)
    assert fd == pytest.approx(_fid_eig(mu1, s1, mu2, s2), rel=1e-3)


def test_feature_stats_and_torch_input():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(50, 3)).astype(np.float32)
    mu, s = feature_stats(torch.from_numpy(f))
    assert mu.dtype == np.float64 and s.shape == (3, 3)
    np.testing.assert_allclose(mu, f.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(s, np.cov(f.astype(np.float64), rowvar=False), rtol=1e-12)
    # same distribution -> small FID; shifted by 3 in each of 3 dims -> ~27
    g = rng.normal(size=(4000, 3))
    h = rng.normal(size=(4000, 3))
    assert fid_from_features(g, h) < 0.05
    assert fid_from_features(g, h + 3.0) == pytest.approx(27.0, rel=0.05)


# --------------------------------------------------------------------------- #
# precision / recall
# --------------------------------------------------------------------------- #
def test_pr_identical_sets():
    x = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    r = precision_recall(x, x.clone(), k=3)
    assert r["precision"] == 1.0 and r["recall"] == 1.0


def test_pr_disjoint_clusters():
    g = torch.Generator().manual_seed(1)
    real = torch.randn(200, 4, generator=g)
    fake = torch.randn(200, 4, generator=g) + 100.0
    r = precision_recall(real, fake, k=3)
    assert r["precision"] == 0.0 and r["recall"] == 0.0


def test_pr_mode_collapse():
    g = torch.Generator().manual_seed(2)
    real = torch.randn(1000, 2, generator=g)
    # fake: the real samples of a small central region (+ tiny jitter): all realistic,
    # but only one mode of the support is covered
    sub = real[real.norm(dim=1) < 0.4]
    fake = sub + 1e-4 * torch.randn(sub.shape, generator=g)
    r = precision_recall(real, fake, k=3)
    assert r["precision"] == 1.0
    assert r["recall"] < 0.25


def test_pr_hand_counted_1d():
    # k=1 radii of real {0,1,2,10}: 1, 1, 1, 8.   fake {-1.5, 0.5, 5, 5.5}: radii 2, 2, 0.5, 0.5
    real = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    fake = torch.tensor([[-1.5], [0.5], [5.0], [5.5]])
    np.testing.assert_allclose(knn_radii(real.double(), k=1).numpy(), [1, 1, 1, 8])
    np.testing.assert_allclose(knn_radii(fake.double(), k=1).numpy(), [2, 2, 0.5, 0.5])
    r = precision_recall(real, fake, k=1, batch_size=3)
    # precision: -1.5 is outside (1.5 > 1); 0.5 inside; 5 and 5.5 inside the radius-8 ball of 10 -> 3/4
    # recall: 0, 1, 2 covered by 0.5's radius-2 ball; 10 is 4.5 from 5.5 (> 0.5) -> 3/4
    assert r["precision"] == pytest.approx(0.75)
    assert r["recall"] == pytest.approx(0.75)
    # k=2: real radii 2, 1, 2, 9 -> -1.5 inside 0's ball (1.5 <= 2) -> precision 1
    assert precision_recall(real, fake, k=2)["precision"] == 1.0


def test_knn_radii_blocking_and_duplicates():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(57, 3, generator=g, dtype=torch.float64)
    full = torch.cdist(x, x)
    expected = full.sort(dim=1).values[:, 3]  # index 0 is the point itself
    for bs in (5, 16, 1000):
        torch.testing.assert_close(knn_radii(x, k=3, batch_size=bs), expected)
    dup = torch.cat([x[:1], x[:1], x[1:5]])  # an exact duplicate has radius 0 for k=1
    assert knn_radii(dup, k=1)[0].item() == 0.0
    with pytest.raises(ValueError):
        knn_radii(x[:3], k=3)


# --------------------------------------------------------------------------- #
# domain network
# --------------------------------------------------------------------------- #
def test_domain_net_trains_on_bars(bars_net):
    net, _, test = bars_net
    assert net.test_accuracy > 0.9
    assert net.name == "dom"
    m = net.meta()
    assert m["name"] == "dom" and m["steps"] == 120 and m["n_train"] == 200
    assert m["task"] == "multi_class" and set(m["per_class_accuracy"]) == {"horizontal", "vertical"}
    assert not any(p.requires_grad for p in net.parameters())  # frozen metric net


def test_feature_maps_shapes_and_resizing(bars_net):
    net = bars_net[0]
    x = torch.rand(3, 3, 64, 48) * 2 - 1  # other resolution, RGB -> grey mean
    maps = net.feature_maps(x)
    assert [tuple(m.shape) for m in maps] == [(3, 8, 32, 32), (3, 16, 16, 16), (3, 32, 8, 8), (3, 64, 4, 4)]
    assert net.features(x, batch_size=2).shape == (3, 64)
    assert net.predict(x).shape == (3, 2)


def test_multilabel_training_reports_per_attribute():
    ds = make_bars(120, seed=5)
    # attributes: [is_vertical, is_horizontal]
    attrs = torch.stack([ds.targets.float(), 1 - ds.targets.float()], dim=1)
    tr = FakeDS(ds.images[:80], attrs[:80], attr_names=["vertical", "horizontal"])
    te = FakeDS(ds.images[80:], attrs[80:], attr_names=["vertical", "horizontal"])
    net = train_domain_net(tr, te, steps=40, batch_size=32, widths=TINY)
    assert net.multi_label and net.predict(te.images).shape == (40, 2)
    per = net.info["per_attribute_accuracy"]
    assert set(per) == {"vertical", "horizontal"}
    assert net.test_accuracy == pytest.approx(sum(per.values()) / 2)


def test_cache_round_trip(bars_net, tmp_path):
    net, train, _ = bars_net
    path = domain_cache_path("bars", 16, seed=0, cache_dir=tmp_path)
    assert path.name == "domainnet_bars_16_0_s1500.pt"
    assert domain_cache_path("bars", 16, seed=0, cache_dir=tmp_path, steps=30).name == "domainnet_bars_16_0_s30.pt"
    save_domain_net(net, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind
    loaded = load_domain_net(path)
    torch.testing.assert_close(loaded.features(train.images), net.features(train.images), rtol=0, atol=0)
    assert loaded.meta()["test_accuracy"] == net.test_accuracy
    assert loaded.meta()["file_sha256"] == sha256_file(path)
    # get_domain_extractor must use the cache and not touch the data module
    again = get_domain_extractor("bars", resolution=16, cache_dir=tmp_path, verbose=False)
    torch.testing.assert_close(again.features(train.images[:10]), net.features(train.images[:10]), rtol=0, atol=0)


def test_a_kept_network_is_loaded_before_the_cache_and_training(bars_net, tmp_path, monkeypatch):
    # results/networks/ holds the evaluation networks the committed results used: with the default cache location
    # their copy wins over a (possibly retrained) cache file and over training; an explicit cache_dir is honoured
    from semlib.data.base import cached_or_kept
    net, train, _ = bars_net
    kept, cache = tmp_path / "kept", tmp_path / "cache"
    name = domain_cache_path("bars", 16, seed=0, cache_dir=kept).name
    save_domain_net(net, kept / name)
    monkeypatch.setenv("SEMLIB_NETWORKS", str(kept))
    monkeypatch.setenv("SEMLIB_CACHE", str(cache))
    asked = []

    def no_data(*a, **k):
        asked.append(a)
        raise RuntimeError("asked for data: would train")

    monkeypatch.setitem(sys.modules, "semlib.data", types.SimpleNamespace(load_dataset=no_data))
    got = get_domain_extractor("bars", resolution=16, verbose=False)
    assert not asked and got.meta()["file_sha256"] == sha256_file(kept / name)
    torch.testing.assert_close(got.features(train.images[:10]), net.features(train.images[:10]), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="would train"):      # explicit cache_dir, empty: trains, ignores the kept copy
        get_domain_extractor("bars", resolution=16, cache_dir=tmp_path / "other", verbose=False)
    assert cached_or_kept(cache / name, default_dir=True) == kept / name
    assert cached_or_kept(cache / name, default_dir=False) == cache / name
    assert cached_or_kept(cache / "sslnet_bars_16_0_s1000.pt", default_dir=True) == cache / "sslnet_bars_16_0_s1000.pt"


def test_get_domain_extractor_trains_and_caches(tmp_path, monkeypatch):
    calls = []

    def fake_load_dataset(name, split="train", resolution=16, **kw):
        calls.append(split)
        return make_bars(200 if split == "train" else 60, res=resolution, seed=0 if split == "train" else 9)

    monkeypatch.setitem(sys.modules, "semlib.data", types.SimpleNamespace(load_dataset=fake_load_dataset))
    net = get_domain_extractor(
        "bars", resolution=16, cache_dir=tmp_path, steps=30, verbose=False,
        train_kwargs=dict(widths=TINY, batch_size=32),
    )
    assert calls == ["train", "test"]
    assert (tmp_path / "domainnet_bars_16_0_s30.pt").exists()
    m = net.meta()
    assert m["dataset"] == "bars" and m["steps"] == 30 and m["seed"] == 0 and 0 <= m["test_accuracy"] <= 1
    net2 = get_extractor("bars", resolution=16, cache_dir=tmp_path, steps=30, verbose=False)
    assert calls == ["train", "test"]  # second call hits the cache
    x = make_bars(5, seed=3).images
    torch.testing.assert_close(net2.features(x), net.features(x), rtol=0, atol=0)


def test_fid_dom_halves_vs_noise(bars_net):
    net, train, _ = bars_net
    data = make_bars(400, seed=11).images
    a, b = data[:200], data[200:]
    noise = torch.rand_like(a) * 2 - 1
    same = evaluate_samples(a, b, net, k=3)
    diff = evaluate_samples(noise, b, net, k=3)
    assert set(same) >= {"FID_dom", "precision_dom", "recall_dom", "n_fake", "n_real"}
    assert same["n_fake"] == 200 and same["n_real"] == 200
    assert same["FID_dom"] < 0.1 * diff["FID_dom"]
    assert same["precision_dom"] > 0.7 and diff["precision_dom"] < 0.1
    # datasets are accepted too and give the same features
    torch.testing.assert_close(compute_features(net, train, batch_size=33), net.features(train.images))


# --------------------------------------------------------------------------- #
# perceptual distance / PPL
# --------------------------------------------------------------------------- #
def test_perceptual_distance_properties(bars_net):
    net = bars_net[0]
    dist = PerceptualDistance(net)
    assert dist.name == "dom"
    g = torch.Generator().manual_seed(0)
    x = make_bars(16, seed=4).images
    y = make_bars(16, seed=5).images
    n = torch.randn(x.shape, generator=g)
    d0 = dist(x, x)
    assert d0.shape == (16,) and d0.abs().max() < 1e-6
    torch.testing.assert_close(dist(x, y), dist(y, x), rtol=1e-5, atol=1e-6)
    small, big = dist(x, x + 0.05 * n), dist(x, x + 0.5 * n)
    assert (small > 0).all() and small.mean() < big.mean()


def test_ppl_constant_and_linear_generators(bars_net):
    def sample(b, gen):
        return torch.randn(b, 8, generator=gen, dtype=torch.float64)

    W = torch.randn(8, 16 * 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def mse(a, b):
        return (a - b).pow(2).flatten(1).mean(1)

    const = torch.rand(1, 1, 16, 16) * 2 - 1
    ppl0 = perceptual_path_length(
        lambda z: const.expand(z.shape[0], -1, -1, -1), sample, PerceptualDistance(bars_net[0]),
        n=32, batch_size=16, generator=torch.Generator().manual_seed(1),
    )
    assert ppl0 == 0.0

    def lin(a):
        return lambda z: (a * z @ W).reshape(-1, 1, 16, 16)

    p1 = perceptual_path_length(lin(1.0), sample, mse, n=64, batch_size=16, generator=torch.Generator().manual_seed(2))
    p2 = perceptual_path_length(lin(2.0), sample, mse, n=64, batch_size=16, generator=torch.Generator().manual_seed(2))
    assert p1 > 0 and p2 / p1 == pytest.approx(4.0, rel=1e-6)
    # for a linear generator the lerp path length is exactly |W^T (z1 - z0)|^2 / D (independent of t)
    g = torch.Generator().manual_seed(3)
    ppl, all_d = perceptual_path_length(lin(1.0), sample, mse, n=200, batch_size=200, generator=g, return_all=True)
    g = torch.Generator().manual_seed(3)
    z0, z1 = sample(200, g), sample(200, g)
    expected = ((z1 - z0) @ W).pow(2).mean(1).numpy()
    np.testing.assert_allclose(all_d, expected, rtol=1e-5)
    # with n=200, the [1st, 99th] percentile filter (lower/higher) drops exactly the min and max
    assert ppl == pytest.approx(np.sort(expected)[1:-1].mean(), rel=1e-5)
    # slerp keeps endpoints
    a, b = sample(4, g), sample(4, g)
    torch.testing.assert_close(slerp(a, b, torch.zeros(4, dtype=torch.float64)), a)
    torch.testing.assert_close(slerp(a, b, torch.ones(4, dtype=torch.float64)), b)


# --------------------------------------------------------------------------- #
# cost metrics
# --------------------------------------------------------------------------- #
def test_flops_and_parameters():
    lin = nn.Linear(10, 20)
    assert flops_per_image(lin, torch.randn(7, 10)) == 2 * 10 * 20
    conv = nn.Conv2d(3, 8, 3, padding=1)
    # per output element: 3*3*3 MACs; 8 x 16 x 16 outputs; FLOPs = 2 x MACs
    assert flops_per_image(conv, torch.randn(2, 3, 16, 16)) == 2 * (3 * 3 * 3) * 8 * 16 * 16
    assert count_parameters(lin) == 10 * 20 + 20
    shared = nn.Sequential(lin, nn.ReLU(), lin)
    assert count_parameters(shared) == 220
    assert count_parameters(conv) == 8 * 3 * 3 * 3 + 8


def test_time_per_batch_counts_calls():
    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.002)

    r = time_per_batch(fn, device="cpu", warmup=2, repeats=5)
    assert r["repeats"] == 5 and len(r["times_s"]) == 5 and len(calls) == 7
    assert r["median_s"] >= 0.002 and min(r["times_s"]) >= 0.002
    assert r["std_s"] == pytest.approx(float(np.std(r["times_s"], ddof=1)), rel=1e-6)


def test_peak_memory_cpu():
    def fn():
        t = torch.ones(64 * 1024 * 1024 // 4)  # 64 MiB, pages touched
        return float(t[::4096].sum())

    info = peak_memory_info(fn, "cpu")
    assert "peak_rss_increase_bytes" in info and "measure" in info
    if "VmHWM" in info["measure"]:  # Linux with resettable high-water mark
        assert info["peak_rss_increase_bytes"] >= 48 * 1024 * 1024


# --------------------------------------------------------------------------- #
# Inception (local weights only)
# --------------------------------------------------------------------------- #
def test_inception_missing_file(tmp_path):
    p = tmp_path / "nowhere" / "inception-2015-12-05.pt"
    with pytest.raises(FileNotFoundError) as e:
        InceptionExtractor(p)
    assert str(p) in str(e.value) and "download" in str(e.value)
    with pytest.raises(FileNotFoundError):
        get_extractor("bars", inception_path=p)


def test_inception_wrong_hash(tmp_path):
    p = tmp_path / "inception-2015-12-05.pt"
    p.write_bytes(b"not the real weights")
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        InceptionExtractor(p)
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        InceptionExtractor(p, sha256="0" * 64)
    # right (user-given) hash but not TorchScript -> clear load error
    with pytest.raises(ValueError, match="TorchScript"):
        InceptionExtractor(p, sha256=sha256_file(p))


class _FakeInception(nn.Module):
    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        assert x.dtype == torch.uint8
        xf = x.float()
        f = torch.stack([xf.mean(dim=(1, 2, 3)), xf.amin(dim=(1, 2, 3)), xf.amax(dim=(1, 2, 3))], dim=1)
        return f.repeat(1, 683)[:, :2048]


def test_inception_calling_convention_with_fake_torchscript(tmp_path):
    p = tmp_path / "fake.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit deprecation notice
        torch.jit.script(_FakeInception()).save(str(p))
    ext = InceptionExtractor(p, sha256=sha256_file(p))
    assert ext.name == "inception_custom"  # only the official file is called "inception"
    assert ext.meta()["sha256"] == sha256_file(p) and not ext.meta()["official_weights"]
    x = torch.stack([-torch.ones(1, 8, 8), torch.ones(1, 8, 8)])  # grey images at -1 and +1
    f = ext.features(x)
    assert f.shape == (2, 2048)
    torch.testing.assert_close(f[:, 0], torch.tensor([0.0, 255.0]))


def test_precision_recall_agree_with_the_prdc_package():
    # prdc (Naeem et al. 2020) computes the same k-NN precision / recall with dense distance matrices;
    # ours is batched (it must run at 50k samples), so prdc is the oracle rather than the implementation
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(0)
    for k in (1, 3, 5):
        real, fake = rng.normal(size=(300, 8)), rng.normal(loc=0.4, scale=1.3, size=(250, 8))
        ours, ref = precision_recall(real, fake, k=k, batch_size=64), prdc.compute_prdc(real, fake, k)
        assert ours["precision"] == pytest.approx(ref["precision"], abs=1e-12)
        assert ours["recall"] == pytest.approx(ref["recall"], abs=1e-12)


def test_frechet_distance_is_clean_fids():
    from cleanfid.fid import frechet_distance as cf
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200, 6)), rng.normal(loc=0.3, size=(200, 6)) @ rng.normal(size=(6, 6))
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    assert frechet_distance(mu1, s1, mu2, s2) == cf(mu1, s1, mu2, s2)
    assert frechet_distance(torch.tensor(mu1), torch.tensor(s1), mu2, s2) == cf(mu1, s1, mu2, s2)


def test_sample_quality_reports_progress_per_seed(bars_net, capsys, monkeypatch):
    from semlib.evaluation import sample_quality
    monkeypatch.setenv("SEMLIB_PROGRESS", "lines")
    net, _, _ = bars_net
    data = make_bars(120, seed=12).images
    q = sample_quality(lambda n, g: data[:n], data[60:], net, n=60, seeds=[0, 1, 2])
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("[semlib] evaluating")]
    assert len(lines) == 3 and "FID_dom" in lines[-1] and q["eval_seeds"] == [0, 1, 2]
    sample_quality(lambda n, g: data[:n], data[60:], net, n=60, seeds=[0, 1], progress=False)
    assert "[semlib] evaluating" not in capsys.readouterr().out


def test_reference_sets_and_systems_quality_follow_the_single_protocol(bars_net):
    from semlib import study
    from semlib.evaluation import reference_sets, sample_quality, systems_quality
    net, train, test = bars_net
    ref, floor, noise = reference_sets(train, test, 50)
    assert ref.shape[0] == floor.shape[0] == noise.shape[0] == 50 and noise.abs().max() <= 1
    assert torch.equal(ref, reference_sets(train, test, 50)[0])              # the same images every call

    class Fixed:                                                             # a "sampler" returning real images
        def sample(self, k, generator=None, device=None):
            return floor[:k]
    q, fid_noise = systems_quality({"s": Fixed()}, ref, net, n=50, seeds=[0, 1], floor=floor, noise=noise)
    direct = sample_quality(lambda k, g: floor[:k], ref, net, n=50, seeds=[0, 1], real_floor=floor)
    assert q["s"]["FID"] == pytest.approx(direct["FID_dom"]) and q["s"]["floor"] == pytest.approx(direct["FID_dom_real_floor"])
    assert q["s"]["gap"] == pytest.approx(study.gap_closed(direct["FID_dom"], fid_noise, direct["FID_dom_real_floor"]))


def test_blur3_is_the_binomial_filter_per_channel():
    from semlib.evaluation import blur3
    x = torch.zeros(1, 2, 7, 7)
    x[0, 0, 3, 3] = 16.0                                  # an impulse in channel 0 only
    y = blur3(x)
    assert y.shape == x.shape
    assert torch.equal(y[0, 0, 2:5, 2:5], torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]]))
    assert y[0, 0].sum() == 16.0 and not y[0, 1].any()    # mass kept, no mixing across channels
    c = torch.full((2, 3, 8, 8), 0.3)
    assert torch.allclose(blur3(c), c)                    # replicated edges: a flat image stays flat, borders too
    r = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    edge = lambda a: (a[..., 1:] - a[..., :-1]).abs().mean()
    assert edge(blur3(r)) < 0.6 * edge(r)


def test_detail_calibration_scores_the_blurred_floor(bars_net):
    from semlib.evaluation import blur3, detail_calibration, reference_sets
    from semlib.metrics import evaluate_samples
    net, train, test = bars_net
    ref, floor, _ = reference_sets(train, test, 50)
    cal = detail_calibration(ref, floor, net, n=40)
    assert set(cal) == {"FID_dom_real_blur", "precision_dom_real_blur", "recall_dom_real_blur"}
    direct = evaluate_samples(blur3(floor[:40]), ref, net, k=3)
    assert cal["FID_dom_real_blur"] == pytest.approx(direct["FID_dom"])
    assert cal["FID_dom_real_blur"] > evaluate_samples(floor[:40], ref, net, k=3)["FID_dom"]   # blur costs FID here
