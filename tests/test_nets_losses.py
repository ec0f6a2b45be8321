import copy

import pytest
import torch

from semlib.ema import ema_update, make_ema
from semlib.losses import R1Penalty, d_adversarial, g_adversarial
from semlib.nets import AdaptiveGroupNorm, AttnBlock, MinibatchStd, PairDiscriminator, PerStepDiscriminator, UNet
from semlib.nets.layers import ResBlock, ddpm_init_, fir_downsample, fir_upsample, mark_zero_init

from conftest import live


def small_unet(nz=8):
    torch.manual_seed(0)
    return UNet(resolution=16, in_ch=3, out_ch=3, ch=16, ch_mult=(1, 2), num_res_blocks=1,
                attn_resolutions=(8,), nz=nz, z_emb_dim=32, n_mlp=2)


def test_unet_shapes_and_bottleneck_roundtrip():
    g = small_unet()
    x, t, z = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 3]), torch.randn(4, 8)
    out = g(x, t, z)
    assert out.shape == x.shape and out.abs().max() <= 1
    assert torch.equal(out, torch.zeros_like(out))      # reference init: an untrained G predicts x_0 = 0
    live(g)
    out = g(x, t, z)
    bn = g.encode(x, t, z)
    assert bn.h.shape == (4, g.h_channels, g.h_resolution, g.h_resolution)
    assert torch.allclose(g.decode(bn), out)
    # editing h changes the output (h-space is live)
    bn.h = bn.h + 1.0
    assert not torch.allclose(g.decode(bn), out)


def test_unet_depends_on_z_and_t():
    g = live(small_unet())   # zero-initialised convs would hide the dependence
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
    d = PairDiscriminator(resolution=16, in_ch=3, ch=8, ch_mult=(2, 4, 4), t_emb_dim=16)
    a, b = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    out = d(a, torch.tensor([0, 0, 0, 0]), b)
    assert torch.equal(out, torch.zeros(4))         # reference init: block conv2 and the last conv are zero
    live(d)
    out = d(a, torch.tensor([0, 0, 0, 0]), b)
    assert out.shape == (4,)
    assert not torch.allclose(out, d(a, torch.tensor([1, 1, 1, 1]), b))
    assert not torch.allclose(out, d(a, torch.tensor([0, 0, 0, 0]), -b))


def test_per_step_discriminator_routes_each_pair_to_its_step_and_keeps_the_batch_order():
    torch.manual_seed(0)
    ds = [PairDiscriminator(resolution=16, in_ch=3, ch=c, ch_mult=(2, 4, 4), t_emb_dim=16) for c in (8, 4)]
    for d in ds:
        live(d)
    per = PerStepDiscriminator(ds)
    a, b = torch.randn(8, 3, 16, 16), torch.randn(8, 3, 16, 16)
    t = torch.tensor([1, 0, 0, 1, 1, 0, 0, 1])
    out = per(a, t, b)
    for k in (0, 1):
        idx = (t == k).nonzero(as_tuple=True)[0]
        assert torch.allclose(out[idx], ds[k](a[idx], t[idx], b[idx]), atol=1e-6)
    # each step's D gets the gradient of its own pairs only
    per(a, torch.zeros(8, dtype=torch.long), b).sum().backward()
    assert ds[0].head.weight.grad is not None and ds[1].head.weight.grad is None
    with pytest.raises(ValueError, match="per-step discriminators"):
        per(a, torch.full((8,), 2), b)


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


def _resolutions(d, res):
    out = []
    for b in d.blocks:
        res = res // 2 if b.down else res
        out.append(res)
    return out


def test_discriminator_layout_matches_the_reference():
    # Discriminator_small (32 px, ngf 64): widths 128-512, the first block keeps 32x32; 3.1 M params at ngf 32, t_emb 128
    d = PairDiscriminator(resolution=32, ch=64, ch_mult=(2, 4, 8, 8))
    assert [b.conv2.out_channels for b in d.blocks] == [128, 256, 512, 512]
    assert _resolutions(d, 32) == [32, 16, 8, 4]
    assert sum(p.numel() for p in PairDiscriminator(resolution=32, ch=32, t_emb_dim=128).parameters()) == pytest.approx(3.1e6, rel=0.03)
    # Discriminator_large (256 px): every block downsamples to reach 4x4
    assert _resolutions(PairDiscriminator(resolution=256, ch=4, ch_mult=(4, 8, 8, 8, 8, 8)), 256) == [128, 64, 32, 16, 8, 4]
    with pytest.raises(ValueError, match="at least 6 blocks"):
        PairDiscriminator(resolution=256, ch=4, ch_mult=(2, 4, 8, 8))
    # the skip of a block is a bias-free 1x1 conv; the time embedding reaches every block
    assert all(b.skip.bias is None and b.skip.kernel_size == (1, 1) for b in d.blocks)


def test_ddpm_init_is_variance_scaling_with_zeroed_layers():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(64, 128, 3), mark_zero_init(torch.nn.Conv2d(8, 8, 3)),
                              torch.nn.Linear(300, 100))
    ddpm_init_(net)
    conv, zero, lin = net
    # uniform variance scaling, fan_avg: var = 2 / (fan_in + fan_out)
    assert conv.weight.var().item() == pytest.approx(2 / (64 * 9 + 128 * 9), rel=0.05)
    assert conv.weight.abs().max().item() <= (3 * 2 / (64 * 9 + 128 * 9)) ** 0.5
    assert lin.weight.var().item() == pytest.approx(2 / 400, rel=0.05)
    assert torch.equal(zero.weight, torch.zeros_like(zero.weight))
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in net)
    # adaptive group norm keeps gamma = 1, beta = 0 after the init
    n = ddpm_init_(AdaptiveGroupNorm(8, 16))
    assert torch.equal(n.style.bias, torch.cat([torch.ones(8), torch.zeros(8)]))


def test_fir_resampling_matches_the_filter():
    # [1,3,3,1] / 8 per axis, stride 2, one pixel of zero padding: out[i] = sum_a k[a] x[2i - 1 + a]
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64) / 8
    xp = torch.nn.functional.pad(x, (1, 1, 1, 1))
    ref = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    for i in range(4):
        for j in range(4):
            ref[..., i, j] = torch.einsum("a,b,ncab->nc", k, k, xp[..., 2 * i:2 * i + 4, 2 * j:2 * j + 4])
    assert torch.allclose(fir_downsample(x), ref)
    # up: constants are kept away from the border, and up then down of a smooth image is close to it
    c = fir_upsample(torch.ones(1, 1, 6, 6))
    assert c.shape == (1, 1, 12, 12) and torch.allclose(c[..., 1:-1, 1:-1], torch.ones(1, 1, 10, 10))


def test_unet_follows_ncsnpp_attention_and_resampling_skips():
    g = UNet(resolution=16, ch=8, ch_mult=(1, 2), num_res_blocks=2, attn_resolutions=(16, 8), nz=4, z_emb_dim=8)
    n_attn = lambda mods: sum(isinstance(m, AttnBlock) for blocks in mods for m in blocks)  # noqa: E731
    # NCSN++: one attention after each residual block of the down path, one per level in the up path
    assert n_attn(g.down) == 4 and n_attn(g.up) == 2
    resampling = [m for m in g.modules() if isinstance(m, ResBlock) and m.resample]
    assert resampling and all(isinstance(m.skip, torch.nn.Conv2d) for m in resampling)
