"""The self-supervised evaluation network `ssl`: loss, views, training, probe, cache."""
import math

import pytest
import torch

from semlib.metrics import PerceptualDistance
from semlib.metrics.ssl import (SSLNet, augment_views, load_ssl_net, nt_xent, save_ssl_net, ssl_cache_path,
                                train_ssl_net)

from test_metrics import FakeDS, make_bars

TINY = (8, 16, 32, 64)


def test_nt_xent_closed_form_and_pairing():
    n, tau = 4, 0.2
    z = torch.eye(8)[:n]                     # orthonormal embeddings, each view identical to its pair
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + (2 * n - 2) * math.exp(0.0)))
    assert nt_xent(z, z.clone(), tau).item() == pytest.approx(expected, rel=1e-5)
    # pairing the views with the wrong images costs more than the right pairing
    assert nt_xent(z, z[[1, 2, 3, 0]], tau) > nt_xent(z, z, tau) + 1.0


def test_views_are_random_in_range_and_reproducible():
    x = make_bars(6, seed=3).images.expand(-1, 3, -1, -1).contiguous()
    a = augment_views(x, torch.Generator().manual_seed(0))
    b = augment_views(x, torch.Generator().manual_seed(0))
    c = augment_views(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.min() >= -1 and a.max() <= 1
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().mean() > 0.05


@pytest.fixture(scope="module")
def ssl_bars():
    train, test = make_bars(256, seed=1), make_bars(100, seed=2)
    net = train_ssl_net(train, test, steps=80, batch_size=32, widths=TINY, seed=0, probe_steps=200)
    return net, train, test


def test_contrastive_training_lowers_the_loss_on_held_out_views(ssl_bars):
    net, _, test = ssl_bars
    fresh = SSLNet(1, widths=TINY).eval()
    g = lambda: torch.Generator().manual_seed(7)   # noqa: E731  the same held-out views for both nets

    def loss(m):
        x = test.images[:64]
        v1, v2 = augment_views(x, g()), augment_views(x, torch.Generator().manual_seed(8))
        with torch.no_grad():
            return nt_xent(m.proj(m.embed(v1)), m.proj(m.embed(v2))).item()
    assert loss(net) < loss(fresh) - 0.3
    assert net.name == "ssl" and not any(p.requires_grad for p in net.parameters())


def test_linear_probe_reads_the_labels(ssl_bars):
    net, _, test = ssl_bars
    assert net.test_accuracy > 0.85            # a probe with the standardisation folded in wrongly reads ~chance
    logits = net.predict(test.images)
    assert logits.shape == (100, 2)
    assert net.test_accuracy == pytest.approx((logits.argmax(1) == test.targets).float().mean().item())


def test_perceptual_distance_and_feature_shapes(ssl_bars):
    net, train, _ = ssl_bars
    x = train.images[:5]
    maps = net.feature_maps(x)
    assert [tuple(m.shape[1:]) for m in maps] == [(8, 32, 32), (16, 16, 16), (32, 8, 8), (64, 4, 4)]
    d = PerceptualDistance(net)
    assert d.name == "ssl"
    assert torch.all(d(x, x) == 0) and torch.all(d(x, train.images[5:10]) > 0)


def test_ssl_cache_round_trip(ssl_bars, tmp_path):
    net, train, _ = ssl_bars
    path = ssl_cache_path("bars", 16, seed=0, cache_dir=tmp_path, steps=80)
    assert path.name == "sslnet_bars_16_0_s80.pt"
    save_ssl_net(net, path)
    loaded = load_ssl_net(path)
    torch.testing.assert_close(loaded.features(train.images), net.features(train.images), rtol=0, atol=0)
    assert loaded.meta()["test_accuracy"] == net.test_accuracy and loaded.meta()["kind"].startswith("ssl_resnet")


def test_without_labels_there_is_no_probe():
    ds = make_bars(64, seed=4)
    unlabeled = FakeDS(ds.images, None)
    unlabeled.class_names = None
    net = train_ssl_net(unlabeled, None, steps=2, batch_size=16, widths=TINY)
    assert net.features(ds.images[:3]).shape == (3, 64)
    with pytest.raises(RuntimeError, match="no linear probe"):
        net.predict(ds.images[:3])
