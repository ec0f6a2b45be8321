"""Asyrp's parts on a frozen DPM: the h-space editor, the asymmetric step, t_edit / t_boost, training through the
shared loop."""
import pytest
import torch
import torch.nn.functional as F

from semlib.train import fit, read_log
from semlib.config import AsyrpConfig, ConfigError, dpm_preset
from semlib.diffusion import _extract
from semlib.methods import DPM
from semlib.methods.asyrp import Asyrp, LatentPairs, asymmetric_step, choose_t_boost, choose_t_edit
from semlib.samplers import ddim_sample

from conftest import live


class StubTextImage:
    """A linear 'CLIP': image features = normalised fixed projection of the pixels; each text a fixed random vector."""

    def __init__(self, px=3 * 16 * 16, dim=8):
        self.W = torch.randn(px, dim, generator=torch.Generator().manual_seed(0))
        self.dim, self.bank = dim, {}

    def encode_image(self, x):
        return F.normalize(x.flatten(1) @ self.W, dim=1)

    def encode_text(self, texts):
        texts = [texts] if isinstance(texts, str) else list(texts)
        for t in texts:
            self.bank.setdefault(t, torch.randn(self.dim, generator=torch.Generator().manual_seed(len(self.bank) + 1)))
        return F.normalize(torch.stack([self.bank[t] for t in texts]), dim=1)


def make(**kw):
    torch.manual_seed(0)
    dpm = DPM(dpm_preset("smoke", resolution=16), in_ch=3)
    live(dpm.net_ema)
    cfg = AsyrpConfig(resolution=16, k=5, t_edit=400, t_boost=0, batch_size=4, steps=2, log_every=1, ckpt_every=1,
                      **kw)
    return dpm, Asyrp(cfg, dpm, StubTextImage())


def test_asymmetric_step_takes_p_t_from_the_edit_and_d_t_from_the_original():
    dpm, a = make()
    P = a.process
    x, e_edit, e_orig = (torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(s)) for s in (1, 2, 3))
    i = torch.tensor([3, 3])
    ab, abp = _extract(P.alpha_bar, i, x), _extract(P.alpha_bar_prev, i, x)
    expect = abp.sqrt() * (x - (1 - ab).sqrt() * e_edit) / ab.sqrt() + (1 - abp).sqrt() * e_orig
    got, p_t = asymmetric_step(P, x, i, e_edit, e_orig)
    torch.testing.assert_close(got, expect)
    torch.testing.assert_close(p_t, (x - (1 - ab).sqrt() * e_edit) / ab.sqrt())
    # eta = 1 at the last step adds no noise; elsewhere it does, with the posterior's sigma
    last = torch.tensor([0, 0])
    torch.testing.assert_close(asymmetric_step(P, x, last, e_edit, e_orig, eta=1.0)[0],
                               asymmetric_step(P, x, last, e_edit, e_orig, eta=0.0)[0], atol=1e-6, rtol=0)
    assert not torch.allclose(asymmetric_step(P, x, i, e_edit, e_orig, eta=1.0)[0], got)


def test_no_edit_is_ddim_and_an_edit_acts_only_from_t_edit():
    dpm, a = make()
    x_T = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    ddim = ddim_sample(lambda x, t: a.net(x, t), a.process, x_T, clip_x0=False).clamp(-1, 1)
    torch.testing.assert_close(a.edit(x_T, scale=0.0), ddim)
    live(a.delta, std=0.5)
    with torch.no_grad():
        a.delta.conv2.weight.normal_(0, 0.5)
    edited = a.edit(x_T, scale=1.0)
    assert (edited - ddim).abs().mean() > 1e-3                       # the editor moves the sample
    # with t_edit above every kept timestep nothing is edited
    torch.testing.assert_close(a.edit(x_T, scale=1.0, t_edit=dpm.process.T - 1 + 1), ddim)
    # Delta h enters linearly before the decoder: scale 2 differs from scale 1; extra editors add up
    assert (a.edit(x_T, scale=2.0) - edited).abs().mean() > 1e-4
    torch.testing.assert_close(a.edit(x_T, scale=0.5, extra=[(a.delta, 0.5)]), edited, atol=2e-4, rtol=0)
    assert a.edit_steps() == [k for k in (4, 3, 2, 1, 0) if a.process.timesteps[k] >= 400]


def test_training_moves_the_editor_through_the_loop_and_leaves_the_dpm_bit_identical(tmp_path):
    torch.set_num_threads(1)
    dpm, a = make()
    frozen = {k: v.clone() for k, v in dpm.net_ema.state_dict().items()}
    x0 = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1
    pairs = LatentPairs(x0, a.invert(x0))
    w0 = [p.clone() for p in a.delta.parameters()]
    res = fit(a, pairs, tmp_path / "run")
    assert res.step == 2
    for k, v in dpm.net_ema.state_dict().items():
        assert torch.equal(v, frozen[k]), k
    assert any(not torch.equal(p, q) for p, q in zip(w0, a.delta.parameters()))
    log = read_log(tmp_path / "run")
    assert {"loss", "loss_clip", "loss_l1"} <= set(log[-1]) and all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    # the checkpoint holds the editor; a fresh editor resumes it exactly
    _, b = make()
    fit(b, pairs, tmp_path / "run")
    for p, q in zip(a.delta.parameters(), b.delta.parameters()):
        assert torch.equal(p, q)


def test_t_edit_and_t_boost_are_the_first_steps_that_reach_their_thresholds():
    dpm, a = make()
    x0 = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(6)) * 2 - 1
    dist = lambda u, v: (u - v).pow(2).flatten(1).mean(1)   # noqa: E731
    proc = dpm.process
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(7))
    d = [float(dist(x0, proc.q_sample(x0, torch.full((4,), t), noise).clamp(-1, 1)).mean()) for t in range(0, proc.T, 10)]
    level = (d[20] + d[21]) / 2 if d[21] > d[20] else d[21]
    t = choose_t_boost(dpm, x0, dist, level=level, generator=torch.Generator().manual_seed(7))
    assert t == 10 * next(j for j, v in enumerate(d) if v >= level)
    assert choose_t_boost(dpm, x0, dist, level=1e9) == proc.T - 1
    te = choose_t_edit(dpm, x0, dist, cos_text=0.5, edit_frac=1e-9)
    assert te == 0
    with pytest.raises(ValueError, match="t_edit=1000"):
        Asyrp(AsyrpConfig(resolution=16, k=5, t_edit=1000), dpm)
    with pytest.raises(ConfigError, match="attribute"):
        AsyrpConfig(attribute=" ")
    with pytest.raises(ValueError, match="text-image model"):
        Asyrp(AsyrpConfig(resolution=16, k=5, t_edit=400), dpm).training_step(x0, x0, 0, None, {"delta": a.delta})


def test_transformer_editor_starts_as_no_edit_and_trains_with_adam(tmp_path):
    torch.set_num_threads(1)
    dpm, a = make(f_arch="transformer", optimizer="adam", lr=1e-3)
    from semlib.methods.asyrp import TransformerDelta
    assert isinstance(a.delta, TransformerDelta) and isinstance(a.optimizers()["delta"], torch.optim.Adam)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(a.edit(x_T, scale=1.0), a.edit(x_T, scale=0.0))     # zero output projection
    x0 = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(9)) * 2 - 1
    fit(a, LatentPairs(x0, a.invert(x0)), tmp_path / "run")
    assert (a.edit(x_T, scale=1.0) - a.edit(x_T, scale=0.0)).abs().mean() > 0      # now it edits
    with pytest.raises(ConfigError, match="f_arch"):
        AsyrpConfig(f_arch="mlp")


def test_random_control_is_seeded_and_norm_matched():
    dpm, a = make()
    live(a.delta, std=0.5)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(10))
    r1, f1, trained = a.random_control(x_T, seed=3)
    r2, f2, _ = a.random_control(x_T, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(r1.parameters(), r2.parameters())) and f1 == f2
    assert trained == pytest.approx(a.delta_norm(x_T))
    assert a.delta_norm(x_T, r1) * f1 == pytest.approx(trained, rel=1e-5)     # Delta h is linear in the scale


def test_asyrp_on_a_latent_dpm_edits_latents_and_trains_through_the_decoder(tmp_path):
    """ASYRP-LDM: the same editor on a latent DPM. Images go in (encoded, inverted) and come out decoded; with the L1
    term off, the editor can only learn through the directional loss on *decoded* P_t, so it moving proves the
    gradient passes the frozen decoder, whose weights stay bit-identical."""
    from semlib.spaces import LatentSpace
    from test_lddgan import trained_ae
    torch.set_num_threads(1)
    ae, ds, _, _ = trained_ae("vq", steps=3)
    torch.manual_seed(0)
    dpm = DPM(dpm_preset("smoke", resolution=16, space="latent"), in_ch=3, space=LatentSpace(ae.net))
    live(dpm.net_ema)
    cfg = AsyrpConfig(resolution=16, k=5, t_edit=400, t_boost=0, batch_size=4, steps=2, log_every=1, ckpt_every=2,
                      l1_weight=0.0)
    a = Asyrp(cfg, dpm, StubTextImage())
    x0 = ds.images[:8]
    pairs = a.training_pairs(x0)
    assert pairs.x0.shape == pairs.x_T.shape == (8, 4, 8, 8)
    x_T = pairs.x_T[:3]
    plain = dpm.decode(ddim_sample(lambda x, t: a.net(x, t), a.process, x_T, clip_x0=False)).clamp(-1, 1)
    torch.testing.assert_close(a.edit(x_T, scale=0.0), plain)          # no edit: DDIM in latent space, decoded
    assert a.edit(x_T, scale=0.0).shape == (3, 3, 16, 16)
    ae_w = {k: v.clone() for k, v in ae.net.state_dict().items()}
    w0 = [p.clone() for p in a.delta.parameters()]
    fit(a, pairs, tmp_path / "run")
    assert any(not torch.equal(p, q) for p, q in zip(w0, a.delta.parameters()))
    assert all(torch.equal(v, ae_w[k]) for k, v in ae.net.state_dict().items())
    assert (a.edit(x_T, scale=1.0) - a.edit(x_T, scale=0.0)).abs().mean() > 0
    # t_edit / t_boost read distances on decoded images of the latent process
    dist = lambda u, v: (u - v).pow(2).flatten(1).mean(1)   # noqa: E731
    assert choose_t_edit(dpm, x0[:4], dist, cos_text=0.5, edit_frac=1e-9) == 0
    assert choose_t_boost(dpm, x0[:4], dist, level=1e9) == dpm.process.T - 1


def test_gan_asyrp_edits_pddgans_semantic_step_and_trains_through_the_loop(tmp_path):
    """ASYRP-PDDGAN: the editor in the bottleneck of PDDGAN's generator. Scale 0 is PDDGAN's own sample of the same
    inputs; an editor acting only at index 1 changes the sample, one acting nowhere does not; training moves f_t,
    leaves the generator bit-identical, and the checkpoint resumes; wrong bases and t_edit are refused."""
    from semlib.methods.asyrp import GANAsyrp
    from test_pddgan import make as make_pddgan, with_live_z
    torch.set_num_threads(1)
    p = make_pddgan("full")
    with_live_z(p)
    p.G_ema.load_state_dict(p.G.state_dict())
    cfg = AsyrpConfig(resolution=16, batch_size=4, steps=2, log_every=1, ckpt_every=2)
    a = GANAsyrp(cfg, p, StubTextImage())
    x0 = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(11)) * 2 - 1
    inp = a.invert(x0[:3], seed=5)
    torch.testing.assert_close(a.edit(inp, scale=0.0), p.generate(inp.x2, inp.z2, inp.z1, inp.noise1))
    assert inp[:2].x2.shape == (2, 3, 16, 16) and inp[:2].z2.shape == (2, p.config.nz)
    live(a.delta, std=0.5)
    with torch.no_grad():
        a.delta.conv2.weight.normal_(0, 0.5)
    assert (a.edit(inp, scale=1.0) - a.edit(inp, scale=0.0)).abs().mean() > 1e-4
    assert a.edit_steps() == [1]
    rand, f, trained = a.random_control(inp, seed=3)
    assert a.delta_norm(inp, rand) * f == pytest.approx(trained, rel=1e-5)
    g_w = {k: v.clone() for k, v in p.G_ema.state_dict().items()}
    b = GANAsyrp(cfg, p, StubTextImage())
    w0 = [q.clone() for q in b.delta.parameters()]
    fit(b, b.training_pairs(x0), tmp_path / "run")
    assert any(not torch.equal(q, r) for q, r in zip(w0, b.delta.parameters()))
    assert all(torch.equal(v, g_w[k]) for k, v in p.G_ema.state_dict().items())
    log = read_log(tmp_path / "run")
    assert log[-1]["step"] == 2 and torch.isfinite(torch.tensor(log[-1]["loss"]))
    c = GANAsyrp(cfg, p, StubTextImage())
    fit(c, c.training_pairs(x0), tmp_path / "run")                       # resumes the finished run
    assert all(torch.equal(q, r) for q, r in zip(b.delta.parameters(), c.delta.parameters()))
    with pytest.raises(ValueError, match="t_edit=2"):
        GANAsyrp(cfg, p, t_edit=2)
    with pytest.raises(ValueError, match="two-step PDDGAN"):
        from semlib.config import ddgan_preset
        from semlib.methods import DDGAN
        GANAsyrp(cfg, DDGAN(ddgan_preset("smoke", resolution=16, num_timesteps=4)))
