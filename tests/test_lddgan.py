"""WDDGAN and LDDGAN (seed 004) as spaces of the one DDGAN: the Haar wavelet space, Weighted Learning, the
autoencoder of the first stage, the latent space and its refusals."""
import math
from pathlib import Path

import pytest
import torch

from semlib.config import ConfigError, autoencoder_preset, ddgan_preset
from semlib.losses import weighted_learning_lambda
from semlib.methods import DDGAN
from semlib.methods.autoencoder import Autoencoder, load_autoencoder, save_autoencoder
from semlib.spaces import LatentSpace, WaveletSpace
from semlib.train import train

from conftest import Discs


# ---------------------------------------------------------------------------- wavelet space
def test_wavelet_dwt_then_idwt_is_the_identity():
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    s = WaveletSpace()
    y = s.encode(x)
    assert y.shape == (4, 12, 16, 16) and s.shape(3, 32) == (12, 16)
    assert torch.allclose(s.decode(y), x, atol=1e-5)


def test_wavelet_bands_are_haar_and_scaled_into_unit_range():
    """A constant image c has LL = 2c (orthonormal Haar), zero details; divided by 2 it is c again. An image of
    +-1 stripes one pixel wide has all its energy in one detail band, of magnitude 2 before the division."""
    s = WaveletSpace()
    y = s.encode(torch.full((1, 1, 8, 8), 0.7))
    assert torch.allclose(y[:, 0], torch.full((1, 4, 4), 0.7), atol=1e-6)
    assert y[:, 1:].abs().max() < 1e-6
    stripes = torch.ones(1, 1, 8, 8)
    stripes[..., 1::2] = -1.0
    y = s.encode(stripes)
    assert y[:, 0].abs().max() < 1e-6
    band = y[0, 1:].abs().flatten(1).amax(1)
    assert sorted(band.tolist())[:2] == pytest.approx([0.0, 0.0], abs=1e-6) and band.max() == pytest.approx(1.0)
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    assert s.encode(x).abs().max() <= 1.0 + 1e-6


def test_wavelet_refuses_a_non_power_of_two_side():
    with pytest.raises(ValueError, match="power of two"):
        WaveletSpace().encode(torch.zeros(1, 3, 24, 24))
    with pytest.raises(ConfigError, match="power of two"):
        ddgan_preset("smoke", space="wavelet", resolution=24)


# ---------------------------------------------------------------------------- Weighted Learning
def test_weighted_learning_code_and_paper_forms():
    code = [weighted_learning_lambda(p, 6.0, "code") for p in (0.0, 0.5, 1.0)]
    assert code == pytest.approx([1 - 1 / (1 + math.exp(6)), 0.5, 1 / (1 + math.exp(6))])
    assert code[0] == pytest.approx(0.9975, abs=1e-4) and code[2] == pytest.approx(0.0025, abs=1e-4)
    paper = [weighted_learning_lambda(p, 6.0, "paper") for p in (0.0, 0.5, 1.0)]
    assert paper[0] == pytest.approx(code[0]) and paper[2] == pytest.approx(0.5)      # Eq. 9 stops at one half
    grid = [weighted_learning_lambda(i / 20, 6.0, "code") for i in range(21)]
    assert all(a > b for a, b in zip(grid, grid[1:]))
    with pytest.raises(ValueError, match="form"):
        weighted_learning_lambda(0.5, 6.0, "eq9")


def test_rec_lambda_follows_the_config():
    m = lambda **kw: DDGAN(ddgan_preset("smoke", resolution=16, steps=100, **kw))   # noqa: E731
    assert m().rec_lambda(50) == 0.0
    assert m(rec_loss="fixed", rec_weight=0.3).rec_lambda(99) == 0.3
    w = m(rec_loss="weighted", wl_form="paper")
    assert w.rec_lambda(100) == pytest.approx(0.5) and w.rec_lambda(0) == pytest.approx(0.9975, abs=1e-4)


# ---------------------------------------------------------------------------- WDDGAN
def test_wddgan_runs_the_gan_on_coefficients_and_decodes_samples():
    cfg = ddgan_preset("smoke", space="wavelet", rec_loss="fixed", resolution=16, steps=2)
    m = DDGAN(cfg, in_ch=3)
    assert (m.data_ch, m.data_res) == (12, 8)
    assert m.G.conv_in.in_channels == 12 and m.G.conv_out.out_channels == 12
    g = torch.Generator().manual_seed(0)
    out = m.training_step(Discs(n=8, r=16).images, None, 0, g, m.trainable())
    assert "l_rec" in out and out["l_rec"] > 0
    x = m.sample(5, generator=torch.Generator().manual_seed(1))
    assert x.shape == (5, 3, 16, 16) and x.abs().max() <= 1


def test_wddgan_rec_term_is_l1_to_the_clean_coefficients():
    cfg = ddgan_preset("smoke", space="wavelet", rec_loss="fixed", rec_weight=2.0, resolution=16)
    m = DDGAN(cfg, in_ch=3)
    x0 = torch.rand(2, 12, 8, 8)
    fake = torch.rand(2, 12, 8, 8)
    extra = m.generator_extra_losses(x0, None, None, None, fake, 0, None)
    assert extra["l_rec"] == pytest.approx(float(2.0 * (fake - x0).abs().mean()))
    assert DDGAN(ddgan_preset("smoke", resolution=16)).generator_extra_losses(x0, None, None, None, fake, 0, None) == {}


# ---------------------------------------------------------------------------- autoencoder
def ae_cfg(kind="vq", **kw):
    return autoencoder_preset("smoke", kind=kind, resolution=16, perceptual_weight=0.0, **kw)


def trained_ae(kind="vq", steps=30, seed=0):
    ae = Autoencoder(ae_cfg(kind, steps=steps, lr=2e-3, disc_start=10_000), seed=seed)
    ds = Discs(n=64, r=16)
    g = torch.Generator().manual_seed(0)
    first = None
    for step in range(steps):
        out = ae.training_step(ds.images[(torch.arange(8) + 8 * step) % 64], None, step, g, ae.trainable())
        first = first if first is not None else float(out["l1"])
    ae.measure_scale_factor(ds)
    return ae, ds, first, float(out["l1"])


@pytest.mark.parametrize("kind", ["vq", "kl"])
def test_autoencoder_learns_and_its_scale_factor_brings_latents_into_tanh_range(kind):
    ae, ds, first, last = trained_ae(kind)
    assert last < 0.7 * first                                   # reconstruction improves
    net = ae.net.eval()
    with torch.no_grad():
        h = net.encode(ds.images)
        x = net.decode(h)
    assert h.shape == (64, 4, 8, 8) and net.latent_side == 8
    scaled = h / net.scale_factor
    assert float(scaled.std()) == pytest.approx(0.5, abs=1e-3)    # SCALE_RULE std/0.5 (measured on these 64 images)
    assert float((scaled.abs() <= 1.0).float().mean()) > 0.8       # most of them where G's tanh reaches
    y = LatentSpace(net).encode(ds.images)
    assert y.abs().max() <= 1.0 and torch.allclose(y, (h / net.scale_factor).clamp(-1, 1))
    assert x.shape == ds.images.shape and x.abs().max() <= 1


def test_vq_codebook_starts_from_encoder_outputs_and_quantises_in_the_decoder():
    ae = Autoencoder(ae_cfg("vq"))
    q = ae.net.quantizer
    assert not bool(q.initialised)
    x = Discs(n=8, r=16).images
    ae.training_step(x, None, 0, torch.Generator().manual_seed(0), ae.trainable())
    assert bool(q.initialised)
    h = ae.net.encoder(x).detach()
    hq = ae.net.eval().quantizer(h)[0]
    codes = q.embed.weight.detach()
    # every quantised vector is a codebook row, and the encoder's continuous output is not
    dist = lambda a: ((a.permute(0, 2, 3, 1).reshape(-1, 1, codes.shape[1]) - codes[None]) ** 2).sum(-1).min(1).values  # noqa: E731
    assert dist(hq).max() < 1e-10
    assert dist(h).max() > 1e-6
    # straight-through: the decoder's loss reaches the encoder
    ae.net.zero_grad()
    ae.net.train()
    x_rec, _, _ = ae.reconstruct(x, ae.net)
    (x_rec - x).abs().mean().backward()
    assert ae.net.encoder.conv_in.weight.grad.abs().sum() > 0


def test_gan_term_joins_at_disc_start():
    ae = Autoencoder(ae_cfg("vq", disc_start=2))
    x, g = Discs(n=8, r=16).images, torch.Generator().manual_seed(0)
    assert "loss_d" not in ae.training_step(x, None, 1, g, ae.trainable())
    out = ae.training_step(x, None, 2, g, ae.trainable())
    assert "loss_d" in out and "loss_g" in out


def test_perceptual_term_needs_a_network():
    with pytest.raises(ValueError, match="perceptual"):
        Autoencoder(autoencoder_preset("smoke", resolution=16))


def test_save_load_roundtrip_and_clear_errors(tmp_path):
    ae, ds, _, _ = trained_ae("vq", steps=3)
    p = save_autoencoder(ae.net, tmp_path / "ae.pt")
    net = load_autoencoder(p)
    assert net.scale_factor == pytest.approx(ae.net.scale_factor)
    from semlib.methods.autoencoder import SCALE_RULE
    assert net.scale_rule == SCALE_RULE
    blob = torch.load(p, weights_only=False)
    del blob["scale_rule"]                                          # a file from before the rule: read as the std rule
    torch.save(blob, tmp_path / "old.pt")
    assert load_autoencoder(tmp_path / "old.pt").scale_rule == "std"
    ae.net.eval()
    assert torch.equal(net(ds.images[:4]), ae.net(ds.images[:4]))
    with pytest.raises(FileNotFoundError, match="no autoencoder"):
        load_autoencoder(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an autoencoder"):
        load_autoencoder(tmp_path / "other.pt")
    fresh = Autoencoder(ae_cfg("vq"))
    with pytest.raises(ValueError, match="scale factor"):
        save_autoencoder(fresh.net, tmp_path / "x.pt")


# ---------------------------------------------------------------------------- LDDGAN
def test_lddgan_diffuses_in_the_latents_and_decodes_samples():
    ae, ds, _, _ = trained_ae("vq", steps=3)
    cfg = ddgan_preset("smoke", space="latent", rec_loss="weighted", resolution=16, steps=2)
    m = DDGAN(cfg, in_ch=3, space=LatentSpace(ae.net))
    assert (m.data_ch, m.data_res) == (4, 8) and m.config.autoencoder_sha is not None
    out = m.training_step(ds.images[:8], None, 0, torch.Generator().manual_seed(0), m.trainable())
    assert out["l_rec"] > 0
    assert m.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="autoencoder"):
        DDGAN(ddgan_preset("smoke", space="latent", resolution=16))          # no autoencoder given


def test_latent_run_refuses_another_autoencoder(tmp_path):
    ae1, ds, _, _ = trained_ae("vq", steps=3, seed=0)
    ae2, _, _, _ = trained_ae("vq", steps=3, seed=1)
    cfg = ddgan_preset("smoke", space="latent", resolution=16, steps=2, ckpt_every=1)
    m = DDGAN(cfg, in_ch=3, space=LatentSpace(ae1.net))
    train(m, ds, tmp_path / "run", steps=2, batch_size=4, ckpt_every=1)
    with pytest.raises(ValueError, match="autoencoder"):                  # the run's own config names ae1
        DDGAN(m.config, in_ch=3, space=LatentSpace(ae2.net))
    other = DDGAN(cfg, in_ch=3, space=LatentSpace(ae2.net))               # a fresh config made with ae2 ...
    with pytest.raises(ValueError, match="autoencoder_sha"):              # ... cannot resume ae1's run
        train(other, ds, tmp_path / "run", steps=3, batch_size=4, ckpt_every=1)


def test_latent_space_refuses_other_images_and_other_latent_shapes():
    ae, _, _, _ = trained_ae("vq", steps=2)
    with pytest.raises(ValueError, match="16 px"):
        LatentSpace(ae.net).shape(3, 32)
    with pytest.raises(ValueError, match="expects"):
        LatentSpace(ae.net, expect_shape=(8, 4)).shape(3, 16)
    unscaled = Autoencoder(ae_cfg("vq"))
    with pytest.raises(ValueError, match="scale factor"):
        LatentSpace(unscaled.net)


def test_pddgan_runs_in_pixel_or_latent_space_only():
    from semlib.config import pddgan_preset
    with pytest.raises(ConfigError, match="pixel"):
        pddgan_preset("smoke", "full", space="wavelet")
    with pytest.raises(ConfigError, match="rec_loss"):
        pddgan_preset("smoke", "full", space="latent", rec_loss="weighted")
    assert pddgan_preset("smoke", "full", space="latent", autoencoder="ae.pt").space == "latent"


def test_latent_pddgan_runs_its_game_on_latents_and_decodes():
    """A latent PDDGAN: SE reads latents, L_Sem's first term is an L1 between latents and its feature term compares V
    on decoded images; encode() takes images, generate() and sample() return decoded images."""
    from semlib.config import pddgan_preset
    from semlib.evaluation import interpolation_row
    from semlib.methods import PDDGAN
    from semlib.metrics import DomainNet
    ae, ds, _, _ = trained_ae("vq", steps=3)
    space = LatentSpace(ae.net)
    torch.manual_seed(0)
    V = DomainNet(3, 2, widths=(4, 8), input_size=16).eval()
    # p_max = p_min = 1: every pair is at index 1 (the semantics stage), so L_Sem covers the whole batch
    cfg = pddgan_preset("smoke", "full", space="latent", resolution=16, steps=2, p_max=1.0, p_min=1.0)
    m = PDDGAN(cfg, in_ch=3, space=space, perceptual_net=V)
    assert (m.data_ch, m.data_res) == (4, 8) and (m.SE.in_ch, m.SE.resolution) == (4, 8)
    x = ds.images[:8]
    out = m.training_step(x, None, 0, torch.Generator().manual_seed(0), m.trainable())
    # at initialisation G predicts exactly 0 (zero-initialised output conv), so both terms have closed forms
    y0 = space.encode(x)
    assert torch.allclose(out["l_sem_pix"], y0.abs().mean(), atol=1e-6)            # latents, not pixels
    zero_img, real_img = space.decode(torch.zeros_like(y0)), space.decode(y0)
    feat = sum((a - b).abs().mean() for a, b in zip(V.feature_maps(zero_img), V.feature_maps(real_img)))
    assert torch.allclose(out["l_sem_feat"], feat, atol=1e-5)
    assert not torch.allclose(out["l_sem_pix"], x.abs().mean(), atol=1e-3)
    assert m.encode(x).shape == (8, cfg.nz)
    m.fit_latent_prior(ds, n=32)
    assert m.sample(3, generator=torch.Generator().manual_seed(0)).shape == (3, 3, 16, 16)
    assert interpolation_row(m, "x2", steps=4).shape == (4, 3, 16, 16)                # x_2 drawn as a latent


def test_presets_carry_the_reference_configs():
    from semlib.config import lddgan_preset, wddgan_preset
    w = wddgan_preset("paper")
    assert (w.space, w.rec_loss, w.rec_weight, w.num_timesteps, w.ch_mult, w.attn_resolutions) == \
        ("wavelet", "fixed", 1.0, 4, (1, 2, 2), ())
    lat = lddgan_preset("paper", autoencoder="ae.pt")
    assert (lat.space, lat.rec_loss, lat.wl_form, lat.wl_delta, lat.nz, lat.lr_decay, lat.num_timesteps) == \
        ("latent", "weighted", "code", 6.0, 50, False, 4)
    assert wddgan_preset("cpu").batch_size == ddgan_preset("cpu").batch_size     # the cpu base is DDGAN's


def test_judge_autoencoder_rules():
    from semlib import study
    assert study.judge_autoencoder(0.7, 40.0)[0] == study.INCONCLUSIVE        # below the learning bar
    assert study.judge_autoencoder(0.97, 30.0)[0] == "reproduced"
    assert study.judge_autoencoder(0.97, 20.0)[0] == "partly"
    assert study.judge_autoencoder(0.85, 20.0)[0] == "not reproduced"


def test_autoencoder_entries_are_registered():
    from semlib import recipes, study
    ids = {e.id: e for e in study.REGISTRY}
    assert recipes.autoencoder_entry("synthfaces") in ids and recipes.autoencoder_entry("synthfaces", "kl") in ids
    assert ids["LDDGAN-T7-kl-synthfaces"].params["kind"] == "kl"


def test_judge_weighted_learning_rules():
    from semlib import study
    grid = [i / 10 for i in range(11)]
    code = [weighted_learning_lambda(p, 6.0, "code") for p in grid]
    paper = [weighted_learning_lambda(p, 6.0, "paper") for p in grid]
    v, _, checks = study.judge_weighted_learning({"code": code, "paper": paper})
    assert v == "partly" and checks["paper"]["ends_near_0"] is False and all(checks["code"].values())
    assert study.judge_weighted_learning({"code": code})[0] == "reproduced"
    assert study.judge_weighted_learning({"up": [0.1, 0.5, 0.9]})[0] == "not reproduced"


def test_judge_cost_ratio_rules():
    from semlib import study
    assert study.judge_cost_ratio({"WDDGAN": 4.2, "LDDGAN": 3.1})[0] == "reproduced"
    assert study.judge_cost_ratio({"WDDGAN": 4.2, "LDDGAN": 1.5})[0] == "partly"
    assert study.judge_cost_ratio({"WDDGAN": 1.1, "LDDGAN": 1.5})[0] == "not reproduced"


@pytest.mark.parametrize("space", ["pixel", "wavelet", "latent"])
def test_load_ddgan_restores_each_space(tmp_path, space):
    from semlib.recipes import load_ddgan
    kw = {}
    if space == "latent":
        ae, _, _, _ = trained_ae("vq", steps=2)
        kw["autoencoder"] = str(save_autoencoder(ae.net, tmp_path / "ae.pt"))
    cfg = ddgan_preset("smoke", space=space, resolution=16, steps=2, ckpt_every=1, **kw)
    m = DDGAN(cfg, in_ch=3)
    ds = Discs(n=16, r=16)
    train(m, ds, tmp_path / "run", steps=2, batch_size=4, ckpt_every=1, device=torch.device("cpu"))
    back, step = load_ddgan(tmp_path / "run", device=torch.device("cpu"))
    assert step == 2 and back.config.space == space
    g = lambda: torch.Generator().manual_seed(3)   # noqa: E731
    assert torch.equal(back.sample(4, generator=g()), m.sample(4, generator=g()))
    with pytest.raises(FileNotFoundError, match="no DDGAN checkpoint"):
        load_ddgan(tmp_path / "nothing")


def test_a_latent_run_finds_its_autoencoder_in_another_checkout(tmp_path, monkeypatch):
    # a latent run's config names the autoencoder by its absolute path at training time; a clone elsewhere (or another
    # SEMLIB_RUNS) has it as runs/<scale>/<entry>/autoencoder.pt of its own runs tree (restored from kept weights)
    from semlib.recipes import load_ddgan
    ae, _, _, _ = trained_ae("vq", steps=2)
    old = save_autoencoder(ae.net, tmp_path / "old" / "runs" / "cpu" / "LDDGAN-T1-x" / "autoencoder.pt")
    cfg = ddgan_preset("smoke", space="latent", resolution=16, steps=2, ckpt_every=1, autoencoder=str(old))
    m = DDGAN(cfg, in_ch=3)
    train(m, Discs(n=16, r=16), tmp_path / "run", steps=2, batch_size=4, ckpt_every=1, device=torch.device("cpu"))
    monkeypatch.setenv("SEMLIB_RUNS", str(tmp_path / "new" / "runs"))
    moved = tmp_path / "new" / "runs" / "cpu" / "LDDGAN-T1-x" / "autoencoder.pt"
    moved.parent.mkdir(parents=True)
    old.rename(moved)
    back, _ = load_ddgan(tmp_path / "run", device=torch.device("cpu"))
    assert Path(back.config.autoencoder) == moved
    g = lambda: torch.Generator().manual_seed(3)   # noqa: E731
    assert torch.equal(back.sample(4, generator=g()), m.sample(4, generator=g()))
    moved.unlink()
    with pytest.raises(FileNotFoundError, match="autoencoder this latent run was trained with"):
        load_ddgan(tmp_path / "run", device=torch.device("cpu"))


def test_judge_lddgan_t3_rules():
    from semlib import study
    q = lambda fid, rec, gap=0.9, sd=0.5: {"FID": fid, "FID_std": sd, "recall": rec, "gap": gap}   # noqa: E731
    good = {"DDGAN": q(10, 0.5), "WDDGAN": q(9, 0.5), "LDDGAN": q(5, 0.52)}
    t = {"DDGAN": 1.0, "WDDGAN": 0.4, "LDDGAN": 0.45}
    assert study.judge_lddgan_t3(good, t)[0] == "reproduced"
    v, _, checks = study.judge_lddgan_t3({**good, "LDDGAN": q(8.5, 0.52)}, t)      # within the spreads of WDDGAN's
    assert v == "partly" and not checks["quality"] and checks["speed"]
    assert study.judge_lddgan_t3({**good, "DDGAN": q(10, 0.1, gap=0.2)}, t)[0] == study.INCONCLUSIVE
    assert study.judge_lddgan_t3(good, {**t, "LDDGAN": 0.9})[2]["speed"] is False


def test_judge_lddgan_t6_and_t7_rules():
    from semlib import study
    q = lambda fid, rec, gap=0.9, sd=0.2: {"FID": fid, "FID_std": sd, "recall": rec, "gap": gap}   # noqa: E731
    t6 = {"AdvLoss": q(10, 0.5), "AdvLoss + RecLoss": q(9, 0.4), "AdvLoss + RecLoss + WL": q(8, 0.45)}
    assert study.judge_lddgan_t6(t6)[0] == "reproduced"
    assert study.judge_lddgan_t6({**t6, "AdvLoss + RecLoss + WL": q(8, 0.3)})[0] == "partly"
    assert study.judge_lddgan_t6({**t6, "AdvLoss": q(10, 0.1, gap=0.1)})[0] == study.INCONCLUSIVE
    t7 = {"LDDGAN on AE with KL": q(10, 0.5), "LDDGAN on AE without KL": q(8, 0.5)}
    aes = {"AE with KL": {"gap_closed": 0.96, "steps_to_l1_target": 2500}, "AE without KL": {"gap_closed": 0.97, "steps_to_l1_target": 1500}}
    assert study.judge_lddgan_t7(t7, aes)[0] == "reproduced"
    v, _, c = study.judge_lddgan_t7(t7, {**aes, "AE without KL": {"gap_closed": 0.97, "steps_to_l1_target": None}})
    assert v == "partly" and not c["convergence"] and c["quality"]
    assert study.judge_lddgan_t7(t7, {**aes, "AE with KL": {"gap_closed": 0.5}})[0] == study.INCONCLUSIVE


# ---------------------------------------------------------------------------- the ViT backbone (LDDGAN-T12)
def test_vit_generator_has_the_unet_interface_and_starts_at_zero():
    from semlib.nets.vit import ViTGenerator
    G = ViTGenerator(resolution=8, in_ch=4, out_ch=4, dim=32, depth=2, heads=2, patch=2, nz=8, z_emb_dim=16, n_mlp=1)
    x, t, z = torch.randn(3, 4, 8, 8), torch.tensor([0, 1, 2]), torch.randn(3, 8)
    assert torch.equal(G(x, t, z), torch.zeros(3, 4, 8, 8))                       # zero output conv: x0' = 0
    with torch.no_grad():
        torch.nn.init.normal_(G.conv_out.weight, std=0.1)
    a = G(x, t, z)
    assert a.shape == (3, 4, 8, 8) and a.abs().max() < 1
    assert not torch.allclose(a, G(x, t, torch.randn(3, 8)))                     # z reaches the output
    assert not torch.allclose(a, G(x, torch.tensor([2, 0, 1]), z))               # so does t
    with pytest.raises(ValueError, match="even"):
        ViTGenerator(resolution=8, depth=3)


def test_ddgan_with_vit_backbone_trains_and_samples_in_latent_space():
    ae, ds, _, _ = trained_ae("vq", steps=2)
    cfg = ddgan_preset("smoke", space="latent", rec_loss="weighted", resolution=16, backbone="vit", vit_dim=32,
                       vit_depth=2, vit_heads=2)
    m = DDGAN(cfg, in_ch=3, space=LatentSpace(ae.net))
    assert type(m.G).__name__ == "ViTGenerator" and m.G.conv_in.in_channels == 4
    before = [p.detach().clone() for p in m.G.parameters()]
    out = m.training_step(ds.images[:8], None, 0, torch.Generator().manual_seed(0), m.trainable())
    assert torch.isfinite(torch.stack(list(out.values()))).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, m.G.parameters()))
    assert m.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 3, 16, 16)
    with pytest.raises(ConfigError, match="backbone"):
        ddgan_preset("smoke", backbone="transformer")


def test_judge_lddgan_t12_rules():
    from semlib import study
    q = lambda fid, t, gap=0.9, rec=0.5: {"FID": fid, "FID_std": 0.2, "recall": rec, "gap": gap, "time_s": t}   # noqa: E731
    assert study.judge_lddgan_t12({"CNN UNet": q(5, 1.0), "ViT UNet": q(6, 1.5)})[0] == "reproduced"
    assert study.judge_lddgan_t12({"CNN UNet": q(5, 1.0), "ViT UNet": q(4, 1.5)})[0] == "partly"
    assert study.judge_lddgan_t12({"CNN UNet": q(5, 1.0), "ViT UNet": q(4, 0.5)})[0] == "not reproduced"
    assert study.judge_lddgan_t12({"CNN UNet": q(5, 1.0, gap=0.1), "ViT UNet": q(6, 1.5)})[0] == study.INCONCLUSIVE


@pytest.mark.slow
def test_trained_ddgan_trains_an_entry_as_its_notebook_does(tmp_path, monkeypatch):
    """A DDGAN entry trained by another notebook (recipes.trained_ddgan) leaves the same run folder as ddgan.ipynb,
    learning curve included, and a second call only loads it."""
    from semlib import recipes
    monkeypatch.setenv("SEMLIB_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("SEMLIB_CACHE", str(tmp_path / "cache"))
    m, step = recipes.trained_ddgan("smoke", "LDDGAN-T3-wddgan-synthfaces", device=torch.device("cpu"))
    run = tmp_path / "runs" / "smoke" / "LDDGAN-T3-wddgan-synthfaces"
    assert step == m.config.steps and m.config.space == "wavelet" and (run / "eval.jsonl").exists()
    before = (run / "log.jsonl").read_text()
    assert recipes.trained_ddgan("smoke", "LDDGAN-T3-wddgan-synthfaces", device=torch.device("cpu"))[1] == step
    assert (run / "log.jsonl").read_text() == before
    with pytest.raises(ValueError, match="not a registered"):
        recipes.trained_ddgan("smoke", "PDAE-T1")


def test_study_systems_reads_every_trained_system_on_one_network(tmp_path):
    # LDDGAN-F3 over every system: DDGAN-family and DPM results on the same FID network become rows (a DPM one per K),
    # a result on another network or without one is listed with the reason, and each row's architecture samples
    import json
    from semlib import benchmark
    net = {"name": "dom", "kind": "domain_cnn", "dataset": "synthfaces", "seed": 0, "steps": 1500, "resolution": 32,
           "config": {"widths": [16]}, "file_sha256": "a"}

    def result(entry, config, metrics, fe):
        d = tmp_path / "cpu" / entry
        d.mkdir(parents=True)
        (d / "meta.json").write_text(json.dumps({"config": config, "feature_extractor": fe}))
        (d / "metrics.json").write_text(json.dumps(metrics))
    g = ddgan_preset("smoke", resolution=16, num_timesteps=2).to_dict()
    result("DDGAN-BASE-synthfaces-T8", g, {"FID_dom": 20.0, "FID_dom_std": 0.5, "recall_dom": 0.1, "gap_closed": 0.4, "NFE": 2},
           {"dom": {**net, "file_sha256": "b"}})                       # a retrained cache of the same network
    result("DDGAN-BASE-synthfaces-T4", g, {"FID_dom": 1.0, "NFE": 2}, {"dom": {**net, "seed": 1}})
    from semlib.config import dpm_preset
    result("DDPM-BASE-synthfaces", dpm_preset("smoke", resolution=16).to_dict(),
           {"per_k": {"20": {"FID_dom": 7.0, "recall_dom": 0.8}, "5": {"FID_dom": 9.0, "recall_dom": 0.7}}}, {"dom": net})
    result("DDGAN-BASE-fashion-T4", g, {"FID_dom": 3.0, "NFE": 2}, {"dom": net})          # another dataset: not a row
    result("PDDGAN-T1-full", {}, {"FID_dom@fitted": 2.0, "NFE": 2}, {"dom": net})          # listed, not a row
    rows, skipped = benchmark.study_systems("cpu", "synthfaces", net, exclude=("DDGAN-BASE-synthfaces",), results=tmp_path)
    assert [(r["entry"], r["system"], r["nfe"], r["FID"]) for r in rows] == [
        ("DDGAN-BASE-synthfaces-T8", "DDGAN", 2, 20.0), ("DDPM-BASE-synthfaces", "DDPM DDIM K=5", 5, 9.0),
        ("DDPM-BASE-synthfaces", "DDPM DDIM K=20", 20, 7.0)]
    assert skipped["DDGAN-BASE-synthfaces-T4"] == "FID measured on another network"
    assert skipped["DDGAN-BASE-synthfaces_long"] == "no result at this scale"
    assert "DDGAN-BASE-synthfaces" not in skipped and "DDGAN-BASE-fashion-T4" not in skipped
    assert skipped["PDDGAN-T1-full"].startswith("a PDDGAN row")
    gen = torch.Generator().manual_seed(0)
    assert benchmark.system_sampler(rows[0], in_ch=3)(2, gen).shape == (2, 3, 16, 16)
    assert benchmark.system_sampler(rows[1], in_ch=3)(2, gen).shape == (2, 3, 16, 16)
