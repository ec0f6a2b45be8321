"""PDDGAN (seed 000): progressive t-sampling, semantic latent, L_Sem / L_Per, training, sampling."""
import pytest
import torch

from semlib.checkpoint import load_latest
from semlib.config import PDDGAN_ROWS, pddgan_preset
from semlib.methods import PDDGAN
from semlib.metrics import DomainNet
from semlib.train import fit, read_log

from conftest import TensorImages, live


def cfg(row="full", **kw):
    return pddgan_preset("smoke", row, resolution=16, **kw)


def tiny_v():
    """An untrained stand-in for the domain network (same class, tiny widths)."""
    torch.manual_seed(0)
    return DomainNet(3, 2, widths=(4, 8), input_size=16).eval()


def make(row="full", **kw):
    c = cfg(row, **kw)
    return PDDGAN(c, in_ch=3, perceptual_net=tiny_v() if c.l1_feature else None)


def with_live_z(m):
    """At init G predicts x_0 = 0 and ignores z (zero second convs and output conv); give those layers
    small random weights so that the latent reaches the output, as after any training."""
    for G in (m.G, m.G_ema):
        live(G)
    return m


def flat(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


X0 = torch.rand(8, 3, 16, 16, generator=gen(1)) * 2 - 1


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


# ------------------------------------------------------------------ presets
def test_rows_and_preset():
    assert list(PDDGAN_ROWS) == ["baseline", "encoder", "pixel", "feature", "full"]
    c = cfg("feature")
    assert c.num_timesteps == 2 and c.row == "feature" and c.l1_feature and not c.l_per and not c.progressive
    assert (c.lambda_pix, c.lambda_feat, c.lambda_per, c.p_max, c.p_min) == (1.0, 1.0, 1.0, 0.9, 0.1)
    # 000 builds on DDGAN's CelebA-HQ 256 config, not on its CIFAR-10 one
    p = pddgan_preset("paper", "baseline")
    assert (p.num_timesteps, p.resolution, p.ch, p.ch_mult, p.n_mlp) == (2, 256, 64, (1, 1, 2, 2, 4, 4), 3)
    assert (p.r1_gamma, p.lazy_reg, p.lr_g, p.lr_d, p.dataset) == (2.0, 10, 2e-4, 1e-4, "celebahq")
    from semlib.methods.ddgan import build_discriminator
    D = build_discriminator(p, 3)                          # 256 px down to 4x4: six downsampling blocks
    assert len(D.blocks) == 6 and all(b.down for b in D.blocks)
    assert not pddgan_preset("cpu", "baseline").semantic_encoder
    with pytest.raises(ValueError, match="unknown PDDGAN row"):
        pddgan_preset("smoke", "nope")
    with pytest.raises(ValueError, match="perceptual"):
        PDDGAN(cfg("feature"))


# ------------------------------------------------------------------ progressive schedule (Eq. 3)
def test_progressive_probability_follows_eq3_and_drives_t():
    m = make("encoder", progressive=True, p_max=0.8, p_min=0.3, steps=100)
    for step, p in [(0, 0.8), (50, 0.55), (100, 0.3)]:
        assert m.progressive_p(step) == pytest.approx(p)            # P = P_max - (P_max - P_min) n/N
        t = m.training_t(step, 40000, "cpu", gen(step))
        assert set(t.unique().tolist()) <= {0, 1}
        assert (t == 1).float().mean().item() == pytest.approx(p, abs=0.01)


def test_without_flag_t_is_uniform():
    m = make("encoder")
    t = m.training_t(0, 40000, "cpu", gen())
    assert set(t.unique().tolist()) == {0, 1}
    assert (t == 1).float().mean().item() == pytest.approx(0.5, abs=0.01)
    # and the flag matters: at the start of a progressive run P = 0.9
    t = make("encoder", progressive=True).training_t(0, 40000, "cpu", gen())
    assert (t == 1).float().mean().item() == pytest.approx(0.9, abs=0.01)


# ------------------------------------------------------------------ the latent fed to G
class SpyG(torch.nn.Module):
    def __init__(self, G):
        super().__init__()
        self.G, self.calls = G, []

    def forward(self, x, t, z):
        self.calls.append((t.clone(), z.detach().clone()))
        return self.G(x, t, z)


def test_g_gets_se_of_x0_at_index_1_and_random_z_at_index_0():
    m = make("encoder")
    spy = SpyG(m.G)
    m.g_step(X0, 0, gen(), spy, m.D)
    (t, z), = spy.calls
    assert (t == 1).any() and (t == 0).any()
    z_se = m.SE(X0).detach()
    assert torch.allclose(z[t == 1], z_se[t == 1], atol=1e-6)
    assert not torch.allclose(z[t == 0], z_se[t == 0], atol=1e-2)
    # index 0: exactly the random draw DDGAN would make
    z_rand = torch.randn(8, m.config.nz, generator=gen(5))
    assert torch.equal(m.generator_latent(X0, t, gen(5))[t == 0], z_rand[t == 0])


def test_d_step_fake_pair_uses_se_at_index_1():
    m = make("encoder")
    spy = SpyG(m.G)
    m.d_step(X0, 0, gen(), spy, m.D)
    (t, z), = spy.calls
    assert torch.allclose(z[t == 1], m.SE(X0).detach()[t == 1], atol=1e-6)


def test_baseline_z2_is_random():
    m = make("baseline")
    assert m.SE is None and "SE" not in m.networks() and m.ema_pairs() == {"G_ema": "G"}
    t = torch.tensor([1, 1, 0, 0, 1, 0, 1, 0])
    z = m.generator_latent(X0, t, gen(2))
    assert torch.equal(z, torch.randn(8, m.config.nz, generator=gen(2)))


# ------------------------------------------------------------------ losses (Eq. 1, Eq. 2)
def test_l_sem_pixel_is_hand_computed_l1_on_index_1_only():
    m = make("pixel", lambda_pix=2.0)
    x0 = torch.zeros(3, 3, 16, 16)
    fake = torch.zeros(3, 3, 16, 16)
    fake[0] = 0.5     # index 1
    fake[1] = 0.9     # index 0: must not count
    fake[2] = -0.25   # index 1
    t = torch.tensor([1, 0, 1])
    out = m.generator_extra_losses(x0, t, None, x0, fake, 0, gen())
    assert set(out) == {"l_sem_pix"}
    assert out["l_sem_pix"].item() == pytest.approx(2.0 * (0.5 + 0.25) / 2)
    # flag off ("encoder" row): no L_Sem term at all
    assert make("encoder").generator_extra_losses(x0, t, None, x0, fake, 0, gen()) == {}


def test_l_sem_feature_uses_v_and_is_zero_for_perfect_reconstruction():
    m = make("feature")
    assert m.perceptual_name == "dom"
    t = torch.tensor([1, 1, 0, 0, 1, 0, 1, 0])
    out = m.generator_extra_losses(X0, t, None, X0, X0.clone(), 0, gen())
    assert out["l_sem_feat"].item() == 0.0 and out["l_sem_pix"].item() == 0.0
    out = m.generator_extra_losses(X0, t, None, X0, X0.flip(0), 0, gen())
    assert out["l_sem_feat"].item() > 0


def test_l_per_only_touches_index_0_and_has_a_detached_target():
    m = make("encoder", l_per=True)
    t = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    x_tp1 = torch.randn(8, 3, 16, 16, generator=gen(3))
    fake = (torch.rand(8, 3, 16, 16, generator=gen(4)) * 2 - 1).requires_grad_(True)
    out = m.generator_extra_losses(X0, t, None, x_tp1, fake, 0, gen(7))
    assert set(out) == {"l_per"}
    out["l_per"].backward()
    g = fake.grad.flatten(1).abs().sum(1)
    assert (g[t == 0] > 0).all() and (g[t == 1] == 0).all()
    assert all(p.grad is None for p in list(m.G.parameters()) + list(m.SE.parameters()))  # target detached
    # the value, by hand: x~_0 = G(x_2, 1, SE(x_0)), x_2 = sqrt(1 - beta_2) x_1 + sqrt(beta_2) eps
    x1, ref = x_tp1[t == 0], t == 0
    eps = torch.randn(x1.shape, generator=gen(7))
    x2 = m.process.sqrt_alpha[2].item() * x1 + m.process.sigma[2].item() * eps
    with torch.no_grad():
        target = m.G(x2, torch.ones(4, dtype=torch.long), m.SE(X0[ref]))
    assert out["l_per"].item() == pytest.approx((fake[ref] - target).abs().mean().item(), rel=1e-5)
    # changing index-1 outputs leaves L_Per unchanged
    fake2 = fake.detach().clone()
    fake2[t == 1] += 1.0
    assert m.generator_extra_losses(X0, t, None, x_tp1, fake2, 0, gen(7))["l_per"].item() == \
        pytest.approx(out["l_per"].item(), rel=1e-6)


# ------------------------------------------------------------------ training
def test_se_is_trained_by_g_step_not_by_d_step():
    m = with_live_z(make("full"))   # at init G ignores z, so SE would get a zero gradient
    live(m.D)
    assert "SE" in m.trainable() and len(m.optimizers()["G"].param_groups) == 2
    se0 = flat(m.SE)
    m.optimizers()["G"].zero_grad(set_to_none=True)
    m.d_step(X0, 1, gen(1), m.G, m.D)
    assert torch.equal(flat(m.SE), se0) and all(p.grad is None for p in m.SE.parameters())
    m.training_step(X0, None, 1, gen(1), m.trainable())
    assert any(p.grad.abs().sum() > 0 for p in m.SE.parameters())
    assert not torch.equal(flat(m.SE), se0)


def test_fit_full_row_runs_and_resumes(tmp_path):
    c = cfg("full", steps=4, ckpt_every=2, log_every=2)
    ds = TensorImages()
    fit(PDDGAN(c, perceptual_net=tiny_v()), ds, tmp_path, stop_after=3)   # "killed" after step 3
    assert load_latest(tmp_path)["step"] == 2
    m = PDDGAN(c, perceptual_net=tiny_v())
    res = fit(m, ds, tmp_path)
    assert res.resumed_from == 2 and res.step == 4
    ck = load_latest(tmp_path)
    assert ck["step"] == 4 and {"G", "D", "G_ema", "SE", "SE_ema"} <= set(ck["nets"])
    assert torch.equal(ck["nets"]["SE_ema"]["out.weight"], m.SE_ema.out.weight.cpu())
    assert ck["config"]["row"] == "full" and ck["config"]["num_timesteps"] == 2
    log = read_log(tmp_path)
    assert [r["step"] for r in log] == [2, 4] and {"l_sem_pix", "l_sem_feat", "l_per"} <= set(log[-1])


# ------------------------------------------------------------------ generation
def test_generate_is_deterministic_and_moves_only_with_its_inputs():
    m = with_live_z(make("encoder"))
    g = gen(9)
    x2 = torch.randn(2, 3, 16, 16, generator=g)
    z2, z1 = torch.randn(2, m.config.nz, generator=g), torch.randn(2, m.config.nz, generator=g)
    noise1 = torch.randn(2, 3, 16, 16, generator=g)
    a = m.generate(x2, z2, z1, noise1)
    assert a.shape == (2, 3, 16, 16) and torch.equal(a, m.generate(x2, z2, z1, noise1))
    assert not torch.allclose(a, m.generate(x2, z2 + 0.5, z1, noise1))
    assert m.encode(X0).shape == (8, m.config.nz)


def test_generate_matches_the_shared_sampler():
    m = with_live_z(make("encoder"))      # a G that reads z, so a swapped z_1 / z_2 shows
    x = m.sample(3, generator=gen(4), prior="standard")
    g = gen(4)   # the sampler's draw order: x_2, z_2, posterior noise, z_1
    x2 = torch.randn(3, 3, 16, 16, generator=g)
    z2 = torch.randn(3, m.config.nz, generator=g)
    noise1 = torch.randn(3, 3, 16, 16, generator=g)
    z1 = torch.randn(3, m.config.nz, generator=g)
    assert torch.allclose(x, m.generate(x2, z2, z1, noise1), atol=1e-5)
    assert not torch.allclose(x, m.generate(x2, z1, z2, noise1), atol=1e-3)


def test_fitted_prior_sampling_and_state_round_trip():
    m = with_live_z(make("encoder"))
    with pytest.raises(RuntimeError, match="fit_latent_prior"):
        m.sample(2, generator=gen())
    m.fit_latent_prior(TensorImages(), n=48, batch_size=16)
    st = m.latent_prior_state()
    nz = m.config.nz
    assert st["mean"].shape == (nz,) and st["cov"].shape == (nz, nz)
    assert torch.allclose(st["cov"], st["cov"].T)
    x = m.sample(5, generator=gen(), batch_size=3)
    assert x.shape == (5, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    m2 = make("encoder")
    m2.load_latent_prior_state(st)
    m2.G_ema.load_state_dict(m.G_ema.state_dict())
    assert torch.equal(m2.sample(5, generator=gen(), batch_size=3), x)
    # the fitted prior is used: it differs from the standard-normal z_2
    assert not torch.allclose(x, m.sample(5, generator=gen(), batch_size=3, prior="standard"))
    # baseline: z_2 is N(0, I) whatever the prior argument
    b = make("baseline")
    assert torch.equal(b.sample(2, generator=gen()), b.sample(2, generator=gen(), prior="standard"))


def test_missing_vgg_weights_name_the_path(tmp_path):
    path = tmp_path / "no" / "vgg16.pth"
    with pytest.raises(FileNotFoundError, match="vgg16.pth"):
        PDDGAN(cfg("feature"), vgg_weights=path)


def test_ppl_of_input_isolates_one_input():
    # A stand-in G in which only z_2 (index 1) and x_2 reach the image: moving z_1 changes nothing
    # (PPL exactly 0), moving z_2 or x_2 does; with a live real G every input counts.
    from semlib.evaluation import interpolation_row, ppl_of_input
    from semlib.metrics import PerceptualDistance

    class Pixels(torch.nn.Module):
        name = "pix"

        def feature_maps(self, x):
            return [x]

    class OnlyZ2(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(0.5))

        def forward(self, x, t, z):
            return torch.tanh(self.scale * x + (t == 1).float().view(-1, 1, 1, 1) * z[:, :1, None, None])

    cfg = pddgan_preset("smoke", "encoder", resolution=16)
    m = PDDGAN(cfg, in_ch=3)
    m.G_ema = OnlyZ2()
    d = PerceptualDistance(Pixels())
    assert ppl_of_input(m, "z1", d, n=8, prior="standard") == 0.0
    assert ppl_of_input(m, "z2", d, n=8, prior="standard") > 0.0
    assert ppl_of_input(m, "x2", d, n=8, prior="standard") > 0.0
    row = interpolation_row(m, "z2", steps=5, prior="standard")
    assert row.shape == (5, 3, 16, 16) and not torch.equal(row[0], row[-1])
    assert torch.equal(interpolation_row(m, "z1", steps=5, prior="standard")[0],
                       interpolation_row(m, "z1", steps=5, prior="standard")[-1])
    live_m = with_live_z(PDDGAN(cfg, in_ch=3))
    assert min(ppl_of_input(live_m, v, d, n=8, prior="standard") for v in ("z1", "z2", "x2")) > 0.0


def test_recipe_trains_a_missing_row_then_loads_it_and_refuses_another_config(tmp_path, monkeypatch):
    from semlib import recipes
    monkeypatch.setenv("SEMLIB_RUNS", str(tmp_path))
    a = recipes.pddgan_row("smoke", "full", steps=2)
    assert a.result.step == 2 and a.run_dir == tmp_path / "smoke" / "PDDGAN-T1-full"
    assert a.model.latent_mean is not None and a.E is not a.V   # prior fitted; evaluation net is not L_Sem's
    b = recipes.pddgan_row("smoke", "full", steps=2)              # finished: loaded, not retrained
    assert b.result.resumed_from == 2 and torch.equal(flat(a.model.G_ema), flat(b.model.G_ema))
    with pytest.raises(ValueError, match="another config"):      # the pixel row's config in the full row's folder
        recipes.pddgan_row("smoke", "pixel", steps=2, run_name="PDDGAN-T1-full")


def test_pddgan_entry_refuses_what_is_not_a_registered_row_at_that_scale():
    from semlib import recipes
    with pytest.raises(ValueError, match="not a registered pddgan.ipynb entry"):
        recipes.pddgan_entry("smoke", "DDGAN-BASE-synthfaces")
    with pytest.raises(ValueError, match="does not run at scale"):
        recipes.pddgan_entry("gpu", "PDDGAN-T1-full-latent_zoom")
