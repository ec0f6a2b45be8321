"""PDAE's parts on a frozen DPM: the shift predictor, its coefficients, training, autoencoding."""
import pytest
import torch

from semlib import train
from semlib.config import dpm_preset, pdae_preset
from semlib.diffusion import _extract
from semlib.methods import DPM, PDAE
from semlib.methods.pdae import mean_shift_coef, pdae_weight
from semlib.samplers import ddim_sample

from conftest import live


def make(seed=0):
    torch.manual_seed(seed)
    dpm = DPM(dpm_preset("smoke", resolution=16), in_ch=3)
    live(dpm.net_ema)                                   # a "pre-trained" DPM whose every layer is active
    return dpm, PDAE(pdae_preset("smoke", resolution=16), dpm, in_ch=3)


def test_mean_shift_coefficient_moves_the_posterior_mean_by_sigma_g():
    dpm, p = make()
    proc = p.process
    i = torch.tensor([1, 50, 500, 999])
    x_t, eps, g = (torch.randn(4, 3, 2, 2, dtype=torch.float64) for _ in range(3))

    def ddpm_mean(e):   # DDPM Eq. 11: (x_t - beta / sqrt(1 - ab) e) / sqrt(alpha)
        return (x_t - _extract(proc.betas, i, x_t) / _extract(proc.sqrt_one_minus_alpha_bar, i, x_t) * e) \
            / _extract(proc.alphas.sqrt(), i, x_t)
    shifted = ddpm_mean(eps + _extract(mean_shift_coef(proc), i, x_t) * g)
    torch.testing.assert_close(shifted - ddpm_mean(eps), _extract(proc.post_var, i, x_t) * g)
    # the weight lambda_t = SNR^0.1 / (1 + SNR) rises then falls (reference check values in test_dpm)
    w = pdae_weight(proc, torch.tensor([0, 100, 500, 999]))
    assert w[0] < w[1] < w[2] and w[3] < w[2]


def test_untrained_shift_is_zero_so_pdae_decodes_like_the_dpm():
    dpm, p = make()
    x_T = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    z = torch.randn(3, p.config.z_dim)
    proc = p.sampling_process(5)
    plain = ddim_sample(dpm.eps_model(), proc, x_T)
    torch.testing.assert_close(p.decode(z, x_T, k=5), plain.clamp(-1, 1))


def test_z_reaches_the_shift_and_the_last_steps_can_drop_it():
    dpm, p = make()
    live(p.G_ema, std=0.2)                              # an active G (zero-initialised layers given weights)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    za, zb = torch.randn(2, p.config.z_dim), torch.randn(2, p.config.z_dim)
    assert (p.decode(za, x_T, k=5) - p.decode(zb, x_T, k=5)).abs().mean() > 1e-4
    proc = p.sampling_process(5)
    fn = p.shifted_eps_fn(za, proc, stop_frac=0.4)      # no shift at the last 2 of 5 steps
    x = torch.randn(2, 3, 16, 16)
    for k, shifted in ((0, False), (1, False), (2, True), (4, True)):
        i = torch.full((2,), k)
        eps, _ = p._frozen(x, proc.model_t(i))
        assert (fn(x, i, proc.model_t(i)) - eps).abs().max().item() > 0 if shifted else torch.equal(fn(x, i, proc.model_t(i)), eps)
    with pytest.raises(ValueError, match="z must be"):
        p.decode(torch.randn(2, p.config.z_dim + 1), x_T, k=5)


def test_training_moves_encoder_and_shift_and_leaves_the_dpm_bit_identical(tmp_path, tiny_images):
    torch.set_num_threads(1)
    dpm, p = make()
    frozen = {k: v.clone() for k, v in dpm.net_ema.state_dict().items()}
    e0 = [q.clone() for q in p.E.parameters()]
    train(p, tiny_images, tmp_path / "run", steps=8, batch_size=8, seed=0, log_every=4, ckpt_every=4,
          ema_decay=0.9, lr_decay=False)
    for k, v in dpm.net_ema.state_dict().items():
        assert torch.equal(v, frozen[k]), k                       # the pre-trained model never moves
    assert any(not torch.equal(a, b) for a, b in zip(e0, p.E.parameters()))
    assert any(q.abs().sum() > 0 for q in p.G.zmods.parameters())   # the z path has started to learn
    z = p.encode(tiny_images.images[:4])
    x_T = p.infer_xT(tiny_images.images[:4], z, k=5)
    assert torch.isfinite(p.decode(z, x_T, k=5)).all()


def test_posterior_gap_is_zero_for_an_oracle_shift_and_the_dpm_gap_otherwise():
    """The gap of the DPM alone equals || coef_x0 (x0 - x0_hat) ||^2; a G that returns exactly the missing shift
    (here: computed from the true x_0 and handed in through z) closes it to rounding."""
    dpm, p = make()
    proc = p.process
    x0 = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    out = p.posterior_gap(x0, [10, 400], generator=torch.Generator().manual_seed(0))
    assert out["gap_dpm"].shape == (2, 3) and out["x0_pdae"].shape == (2, 3, 3, 16, 16) and out["x_t"].shape == (2, 3, 3, 16, 16)
    for j, s in enumerate([10, 400]):
        i = torch.full((3,), s)
        expect = (_extract(proc.post_coef_x0, i, x0) * (out["x0_dpm"][j] - x0)).pow(2).flatten(1).mean(1)
        torch.testing.assert_close(out["gap_dpm"][j], expect)
        # the untrained G is zero: PDAE's gap is the DPM's
        torch.testing.assert_close(out["gap_pdae"][j], out["gap_dpm"][j])

    class Oracle(torch.nn.Module):      # G(bn, z) = the shift that makes eps' the true noise (z carries the step)
        def forward(self, bn, z):
            return self.target
    oracle = Oracle()
    p.G_ema = oracle
    p.E_ema = torch.nn.Identity()
    for j, s in enumerate([10, 400]):
        i = torch.full((3,), s)
        x_t = out["x_t"][j]
        eps, _ = p._frozen(x_t, proc.model_t(i))
        oracle.target = (proc.eps_from_x0(x_t, i, x0) - eps) / _extract(p.c_t, i, x0)
        g = torch.Generator().manual_seed(0)
        for _ in range(j):              # replay the noise draws of the earlier steps so x_t is the same
            torch.randn(x0.shape, generator=g)
        res = p.posterior_gap(x0, [s], generator=g)
        torch.testing.assert_close(res["x_t"][0], x_t)
        assert res["gap_pdae"][0].max() < 1e-10 < res["gap_dpm"][0].min()
    with pytest.raises(ValueError, match="outside"):
        p.posterior_gap(x0, [proc.T])


def test_reconstruction_metrics_against_known_values():
    from semlib.evaluation import reconstruction_metrics
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    same = reconstruction_metrics(x, x.clone())
    torch.testing.assert_close(same["SSIM"], torch.ones(4), atol=1e-5, rtol=0)
    assert torch.equal(same["MSE"], torch.zeros(4))
    shifted = reconstruction_metrics(x, (x + 0.2).clamp(-1, 1))     # MSE on [0, 1] images: (0.1)^2 where not clipped
    assert 0.0 < shifted["MSE"].max() <= 0.01 + 1e-6 and (shifted["SSIM"] < 1).all()
    noise = reconstruction_metrics(x, torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1)
    assert (noise["SSIM"] < 0.2).all() and (noise["MSE"] > shifted["MSE"]).all()
    with pytest.raises(ValueError, match="shapes differ"):
        reconstruction_metrics(x, x[:, :, :8])


def test_load_dpm_gives_one_clear_error_for_a_missing_or_foreign_checkpoint(tmp_path, tiny_images):
    from semlib.recipes import load_dpm
    with pytest.raises(FileNotFoundError, match="no DPM checkpoint"):
        load_dpm(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no DPM checkpoint"):
        load_dpm(tmp_path / "empty")
    torch.set_num_threads(1)
    dpm, p = make()
    train(p, tiny_images, tmp_path / "pdae", steps=2, batch_size=8, seed=0, log_every=1, ckpt_every=2, ema_decay=0.9,
          lr_decay=False)
    with pytest.raises(ValueError, match="not a DPM checkpoint"):
        load_dpm(tmp_path / "pdae")
    # a DPM run folder loads with its config and both networks
    dpm2 = DPM(dpm_preset("smoke", resolution=16), in_ch=3)
    train(dpm2, tiny_images, tmp_path / "dpm", steps=2, batch_size=8, seed=0, log_every=1, ckpt_every=2, ema_decay=0.9,
          lr_decay=False)
    loaded, step = load_dpm(tmp_path / "dpm", device="cpu")
    assert step == 2 and loaded.config == dpm2.config
    for a, b in zip(loaded.net_ema.state_dict().values(), dpm2.net_ema.state_dict().values()):
        assert torch.equal(a, b)


def test_relative_weightings_follow_the_vlb_identity():
    """Each scheme relative to the VLB: the ratio of two schemes is the ratio of their lambdas (up to the
    normalisation), and DDPM's simple loss is the inverse of the VLB weight computed term by term at t = 500."""
    from semlib.diffusion import GaussianDiffusion
    from semlib.methods.pdae import relative_weightings
    p = GaussianDiffusion.linear(1000)
    w = relative_weightings(p, gamma=0.1)
    assert set(w) == {"DDPM (simple)", "P2 (gamma 1, k 1)", "P2 (gamma 0.5, k 1)", "PDAE (gamma 0.1)"}
    for v in w.values():
        assert abs(float(v.sum()) - 1) < 1e-12 and (v >= 0).all()
    snr = p.alpha_bar / (1 - p.alpha_bar)
    ratio = w["PDAE (gamma 0.1)"] / w["DDPM (simple)"]
    lam = snr ** 0.1 / (1 + snr)
    torch.testing.assert_close(ratio / ratio[500], lam / lam[500])
    t = 500
    beta, a, ab, abp = p.betas[t], 1 - p.betas[t], p.alpha_bar[t], p.alpha_bar[t - 1]
    var = beta * (1 - abp) / (1 - ab)
    w_vlb = beta ** 2 / (2 * var * a * (1 - ab))
    inv = 1 / (p.betas ** 2 / (2 * p.post_var.clamp(min=p.post_var[1]) * p.alphas * (1 - p.alpha_bar)))
    assert abs(float(w["DDPM (simple)"][t]) - float((1 / w_vlb) / inv.sum())) < 1e-12


def test_weighted_codes_mix_the_predicted_shifts_linearly():
    """Decoding with [(1 - l, z1), (l, z2)] uses (1 - l) G(z1) + l G(z2): at l = 0 / 1 it is decoding z1 / z2, and
    one eps evaluation equals the weighted sum of the two shifts."""
    dpm, p = make()
    live(p.G_ema, std=0.2)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    z1, z2 = torch.randn(2, p.config.z_dim), torch.randn(2, p.config.z_dim)
    torch.testing.assert_close(p.decode([(1.0, z1), (0.0, z2)], x_T, k=5), p.decode(z1, x_T, k=5))
    torch.testing.assert_close(p.decode([(0.0, z1), (1.0, z2)], x_T, k=5), p.decode(z2, x_T, k=5))
    proc = p.sampling_process(5)
    i = torch.full((2,), 3)
    eps = p._frozen(x_T, proc.model_t(i))[0]
    e1, e2 = (p.shifted_eps_fn(z, proc)(x_T, i, proc.model_t(i)) for z in (z1, z2))
    mix = p.shifted_eps_fn([(0.3, z1), (0.7, z2)], proc)(x_T, i, proc.model_t(i))
    torch.testing.assert_close(mix - eps, 0.3 * (e1 - eps) + 0.7 * (e2 - eps))


def test_latent_dpm_learns_a_code_distribution_and_carries_its_normalisation(tmp_path):
    """Codes of two clusters far from zero and on a large scale: after a short training through the shared loop
    the latent DPM's samples have the codes' mean and spread and split between the clusters; the normalisation is
    restored from the checkpoint."""
    from semlib.config import latent_dpm_preset
    from semlib.checkpoint import load_latest
    from semlib.methods import LatentDPM
    from semlib.nets import SkipMLP
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    centre = torch.full((4,), 2.0)
    codes = torch.cat([torch.randn(400, 4, generator=g) * 0.3 + centre, torch.randn(400, 4, generator=g) * 0.3 - centre]) * 5 + 3
    net = SkipMLP(4, hidden=16, n_layers=2)
    assert torch.equal(net(torch.randn(3, 4), torch.tensor([1, 2, 3])), torch.zeros(3, 4))   # eps = 0 at the start
    with pytest.raises(ValueError, match="codes"):
        net(torch.randn(3, 5), torch.tensor([1, 2, 3]))
    cfg = latent_dpm_preset("cpu", hidden=64, n_layers=3, batch_size=128, steps=1500, lr=1e-3, log_every=500, ckpt_every=1500)
    m = LatentDPM(cfg, codes)
    train(m, m.dataset(), tmp_path / "ldpm", steps=cfg.steps, batch_size=cfg.batch_size, log_every=500, ckpt_every=1500,
          ema_decay=0.99, ema_warmup=True, lr_decay=False)
    z = m.sample(400, k=50, generator=torch.Generator().manual_seed(1))
    upper = (z.mean(1) > 3).float().mean()
    assert 0.3 < upper < 0.7                                          # both clusters
    near = ((z - 3).abs().mean(1) - 10).abs() < 3                     # on the clusters' shell, not in between
    assert near.float().mean() > 0.8
    ck = load_latest(tmp_path / "ldpm")
    torch.testing.assert_close(ck["nets"]["norm"]["mean"], codes.mean(0))


def test_few_shot_classifiers_and_rejection_sampling_recover_the_class_mass():
    """Two equally likely classes of codes: the binary classifier from 50 + 50 labels and the PU classifier from
    100 positives + unlabelled codes both give p(y = 1 | z) high on the positive cluster and near 0 on the other
    (the PU one only after the label-frequency correction: uncorrected it stays near 0.05); rejection sampling keeps
    half of the draws and returns codes of the positive cluster."""
    from semlib.fewshot import latent_classifier, rejection_sample
    g = torch.Generator().manual_seed(0)
    def draw(n, generator=None, device=None):
        y = torch.rand(n, generator=generator) < 0.5
        return torch.randn(n, 6, generator=generator) + torch.where(y[:, None], 2.0, -2.0)
    pos = torch.randn(150, 6, generator=g) + 2.0
    neg = torch.randn(50, 6, generator=g) - 2.0
    unl = draw(4000, generator=g)
    test_pos, test_neg = torch.randn(200, 6, generator=g) + 2.0, torch.randn(200, 6, generator=g) - 2.0
    binary = latent_classifier(pos[:50], z_neg=neg)
    assert binary(test_pos).mean() > 0.9 and binary(test_neg).mean() < 0.1
    pu = latent_classifier(pos[50:], z_unlabelled=unl)
    # a logistic s(z) is not flat inside the positive cluster, so the corrected probability is spread below 1 there
    assert pu(test_pos).mean() > 0.7 and pu(test_neg).mean() < 0.05
    assert 0.0 < pu.label_constant < 0.2          # 100 labelled among ~2000 unlabelled positives: s(z) is small
    z, rate = rejection_sample(draw, latent_classifier(pos[:50], z_neg=neg), 300, generator=torch.Generator().manual_seed(1))
    assert z.shape == (300, 6) and 0.4 < rate < 0.6 and (z.mean(1) > 0).float().mean() > 0.95
    with pytest.raises(ValueError, match="either"):
        latent_classifier(pos, z_neg=neg, z_unlabelled=unl)
    with pytest.raises(RuntimeError, match="fewer than"):
        rejection_sample(draw, lambda z: torch.zeros(len(z)), 10, max_draws=1000)


def test_class_conditional_shift_reads_labels(tmp_path, tiny_images):
    """num_classes > 0: G's code is a label embedding, trained from the labels of the batch; decoding one label with
    scale 0 is the DPM alone and with scale 1 differs; encode() is refused."""
    torch.set_num_threads(1)
    dpm, _ = make()
    p = PDAE(pdae_preset("smoke", resolution=16, num_classes=2), dpm, in_ch=3)
    e0 = p.E.embed.weight.detach().clone()
    train(p, tiny_images, tmp_path / "run", steps=4, batch_size=8, seed=0, log_every=2, ckpt_every=4, ema_decay=0.9,
          lr_decay=False)
    assert not torch.equal(e0, p.E.embed.weight)
    live(p.G_ema, std=0.2)
    z = p.class_code(torch.tensor([0, 1]))
    assert z.shape == (2, p.config.z_dim)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    plain = ddim_sample(dpm.eps_model(), p.sampling_process(5), x_T).clamp(-1, 1)
    torch.testing.assert_close(p.decode(z, x_T, k=5, scale=0.0), plain)
    assert (p.decode(z, x_T, k=5, scale=1.0) - plain).abs().max() > 1e-4
    with pytest.raises(ValueError, match="class-conditional"):
        p.encode(tiny_images.images[:2])


def test_diffae_trains_encoder_and_conditional_dpm_from_scratch(tmp_path, tiny_images):
    """The Diff-AE baseline: both its encoder and its z-conditioned U-Net move, z reaches the output (two codes
    decode differently once the zero-initialised layers are live), and the config carries the DPM base's U-Net."""
    from semlib.config import diffae_preset, dpm_preset
    from semlib.methods import DiffAE
    torch.set_num_threads(1)
    cfg = diffae_preset("smoke", resolution=16)
    base = dpm_preset("smoke", resolution=16)
    assert (cfg.ch, cfg.ch_mult, cfg.num_res_blocks) == (base.ch, base.ch_mult, base.num_res_blocks)
    ae = DiffAE(cfg, in_ch=3)
    e0, n0 = [p.clone() for p in ae.E.parameters()], [p.clone() for p in ae.net.parameters()]
    train(ae, tiny_images, tmp_path / "run", steps=4, batch_size=8, seed=0, log_every=2, ckpt_every=4, ema_decay=0.9,
          lr_decay=False)
    assert any(not torch.equal(a, b) for a, b in zip(e0, ae.E.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(n0, ae.net.parameters()))
    live(ae.net_ema, std=0.2)
    x_T = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    za, zb = torch.randn(2, cfg.z_dim), torch.randn(2, cfg.z_dim)
    assert (ae.decode(za, x_T, k=5) - ae.decode(zb, x_T, k=5)).abs().mean() > 1e-4


def test_pdae_bar_reads_the_gap_and_the_base_verdict(tmp_path, monkeypatch):
    """The learning bar every PDAE notebook prints: an untrained G removes none of the gap, so the bar fails even on
    a base that passed; a G that moves the mean changes the reduction; a missing base result or an inconclusive one
    fails the bar; a DPM handed in by path counts as given."""
    import json
    from semlib import recipes, study

    monkeypatch.setenv("SEMLIB_RESULTS", str(tmp_path))
    dpm, p = make()
    x0 = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1
    bar = recipes.pdae_bar(p, x0, "cpu", dataset="toy", gap_steps=5)
    assert bar.probe == [1, 250, 500, 750, 999] and len(bar.gap_dpm) == 5
    assert all(float(p.c_t[s]) != 0.0 for s in bar.probe) and float(p.c_t[0]) == 0.0   # only steps G can move
    assert bar.reduction == pytest.approx(0.0, abs=1e-9) and not bar.base_ok and not bar.learned
    assert "DDPM-BASE-toy has no result" in bar.line and "not passed" in bar.line
    d = tmp_path / "cpu" / "DDPM-BASE-toy"
    d.mkdir(parents=True)
    for verdict, ok in ((study.INCONCLUSIVE, False), ("reproduced", True)):
        (d / "verdict.json").write_text(json.dumps({"verdict": verdict}))
        assert recipes.pdae_bar(p, x0, "cpu", dataset="toy", gap_steps=5).base_ok is ok
    live(p.G_ema, std=0.2)
    moved = recipes.pdae_bar(p, x0, "cpu", dataset="toy", gap_steps=5)
    assert abs(moved.reduction) > 1e-3 and moved.learned is (moved.reduction >= study.PDAE_GAP_BAR)
    given = recipes.pdae_bar(p, x0, "smoke", dataset="toy", gap_steps=3, dpm_path="some/run")
    assert given.base_ok and given.base_line == "DPM given: some/run"
