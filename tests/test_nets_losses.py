import copy

import pytest
import torch

from semlib.ema import ema_update, make_ema
from semlib.losses import R1Penalty, d_adversarial, g_adversarial
from semlib.nets import AdaptiveGroupNorm, MinibatchStd, PairDiscriminator, UNet


def small_unet(nz=8):
    torch.manual_seed(0)
    return UNet(resolution=16, in_ch=3, out_ch=3, ch=16, ch_mult=(1, 2), num_res_blocks=1,
                attn_resolutions=(8,), nz=nz, z_emb_dim=32, n_mlp=2)


def test_unet_shapes_and_bottleneck_roundtrip():
    g = small_unet()
    x, t, z = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3]), torch.randn(4, 8)
    out = g(x, t, z)
    assert out.shape == x.shape and out.abs().max() <= 1
    bn = g.encode(x, t, z)
    assert bn.h.shape == (4, g.h_channels, g.h_resolution, g.h_resolution)
    assert torch.allclose(g.decode(bn), out)
    # editing h changes the output (h-space is live)
    bn.h = bn.h + 1.0
    assert not torch.allclose(g.decode(bn), out)


def test_unet_depends_on_z_and_t():
    g = small_unet()
    for p in g.parameters():  # zero-initialised convs would hide the dependence
        p.data.add_(0.05 * torch.randn_like(p))
    x = torch.randn(2, 3, 16, 16)
    t = torch.tensor([1, 1])
    a = g(x, t, torch.randn(2, 8))
    assert not torch.allclose(a, g(x, t, torch.randn(2, 8)))
    assert not torch.allclose(a[:1], g(x[:1], torch.tensor([0]), torch.randn(1, 8)))
    with pytest.raises(ValueError, match="pass z"):
        g(x, t)


def test_adaptive_group_norm_starts_as_plain_group_norm():
    n = AdaptiveGroupNorm(8, 16)
    h = torch.randn(3, 8, 4, 4)
    ref = torch.nn.functional.group_norm(h, n.norm.num_groups, eps=n.norm.eps)
    w = torch.zeros(3, 16)      # with w = 0 the output is bias-only: gamma = 1, beta = 0
    assert torch.allclose(n(h, w), ref, atol=1e-6)


def test_minibatch_std_channel():
    m = MinibatchStd(group_size=4)
    x = torch.zeros(8, 2, 3, 3)
    assert torch.allclose(m(x)[:, -1], torch.full((8, 3, 3), 1e-4), atol=1e-6)
    x = torch.randn(8, 2, 3, 3)
    assert m(x).shape == (8, 3, 3, 3)
    assert m(torch.randn(6, 2, 3, 3)).shape == (6, 3, 3, 3)    # a batch not divisible by 4


def test_discriminator_is_time_and_pair_conditioned():
    torch.manual_seed(0)
    d = PairDiscriminator(resolution=16, in_ch=3, ch=16, ch_mult=(1, 2, 2), t_emb_dim=16)
    a, b = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    out = d(a, torch.tensor([0, 0, 0, 0]), b)
    assert out.shape == (4,)
    assert not torch.allclose(out, d(a, torch.tensor([1, 1, 1, 1]), b))
    assert not torch.allclose(out, d(a, torch.tensor([0, 0, 0, 0]), -b))


def test_r1_matches_analytic_gradient():
    # D(x) = <a, x>  ->  grad = a, R1 = gamma/2 * |a|^2 for every sample
    a = torch.randn(3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    d = (x * a).flatten(1).sum(1)
    r1 = R1Penalty(gamma=0.3, lazy_reg=15)(d, x)
    assert torch.allclose(r1, torch.full((5,), 0.15 * a.pow(2).sum().item()), rtol=1e-5)
    lazy = R1Penalty(0.3, 15)
    assert [s for s in range(40) if lazy.active(s)] == [0, 15, 30]
    assert not R1Penalty(0.0, 1).active(0)


def test_softplus_losses():
    d = torch.tensor([0.0, 10.0, -10.0])
    assert torch.allclose(g_adversarial(d), torch.nn.functional.softplus(-d))
    assert d_adversarial(torch.tensor([10.0]), torch.tensor([-10.0])).item() < 1e-3
    assert d_adversarial(torch.tensor([-10.0]), torch.tensor([10.0])).item() > 19


def test_ema_update():
    net = torch.nn.Linear(2, 2)
    ema = make_ema(net)
    assert all(not p.requires_grad for p in ema.parameters())
    before = copy.deepcopy(ema.weight.data)
    with torch.no_grad():
        net.weight.add_(1.0)
    ema_update(ema, net, decay=0.9)
    assert torch.allclose(ema.weight, 0.9 * before + 0.1 * net.weight)
