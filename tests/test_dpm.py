"""The DPM base: Gaussian diffusion schedules, respacing, DDPM / DDIM samplers and DDIM inversion."""
import math

import numpy as np
import pytest
import torch

from semlib.diffusion import GaussianDiffusion, cosine_betas, linear_betas
from semlib.samplers import ddim_invert, ddim_sample, ddpm_sample

MU, S = 0.3, 0.5          # 1-D Gaussian toy data x_0 ~ N(MU, S^2): its optimal noise predictor is known


def gaussian_eps(process):
    """E[eps | x_t] for Gaussian data, in the network's interface eps_model(x_t, t) (t = original index)."""
    base = GaussianDiffusion.linear(1000)

    def eps(x, t):
        ab = base.alpha_bar.to(x.dtype)[t].view(-1, *([1] * (x.dim() - 1)))
        a, b = ab.sqrt(), (1 - ab).sqrt()
        return b * (x - a * MU) / (a ** 2 * S ** 2 + b ** 2)
    return eps


def test_linear_schedule_against_closed_form_and_pdae_weights():
    p = GaussianDiffusion.linear(1000)
    ref = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(p.alpha_bar.numpy(), ref, rtol=1e-12)
    assert p.alpha_bar[-1].item() == pytest.approx(4.036e-5, rel=1e-3)
    # PDAE's loss weight lambda_t = SNR^0.1 / (1 + SNR): the reference's check values (IMPLEMENTATION_NOTES)
    lam = lambda i: (p.snr(torch.tensor(i)) ** 0.1 / (1 + p.snr(torch.tensor(i)))).item()   # noqa: E731
    assert lam(0) == pytest.approx(2.5e-4, rel=0.05) and lam(100) == pytest.approx(0.13, rel=0.05)
    assert lam(500) == pytest.approx(0.72, rel=0.03) and lam(999) == pytest.approx(0.36, rel=0.03)
    # posterior: mean coefficients reproduce x_0 and x_t exactly when x_t carries no noise
    i = torch.tensor([10, 500])
    x0 = torch.randn(2, 3, dtype=torch.float64)
    xt = p.q_sample(x0, i, noise=torch.zeros_like(x0))
    mean, _ = p.posterior(x0, xt, i)
    torch.testing.assert_close(mean, p.q_sample(x0, i - 1, noise=torch.zeros_like(x0)))


def test_cosine_schedule_follows_its_alpha_bar():
    b = cosine_betas(1000)
    ab = torch.cumprod(1 - b, 0)
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2   # noqa: E731
    for i in (0, 250, 500, 900):
        assert ab[i].item() == pytest.approx(f(i + 1) / f(0), rel=1e-9)
    assert b.max() <= 0.999


def test_respacing_keeps_alpha_bar_and_maps_timesteps():
    p = GaussianDiffusion.linear(1000)
    q = p.ddim_steps(50)
    assert q.T == 50 and q.timesteps[0] == 0 and q.timesteps[-1] == 999
    torch.testing.assert_close(q.alpha_bar, p.alpha_bar[q.timesteps], rtol=1e-12, atol=0)
    torch.testing.assert_close(p.ddim_steps(1000).betas, p.betas, rtol=1e-12, atol=0)
    assert p.respace([5, 1, 5]).timesteps.tolist() == [1, 5]
    with pytest.raises(ValueError):
        p.respace([1000])


def test_ddim_with_eta_1_on_all_steps_is_ddpm():
    p = GaussianDiffusion.linear(1000)
    eps = gaussian_eps(p)
    x_T = torch.randn(512, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = ddpm_sample(eps, p, x_T, generator=torch.Generator().manual_seed(1), clip_x0=False)
    b = ddim_sample(eps, p, x_T, eta=1.0, generator=torch.Generator().manual_seed(1), clip_x0=False)
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def ddim_std(process, eta=0.0, s=S):
    """Exact std of DDIM samples for N(MU, s^2) data from x_T ~ N(0, 1).  With z = x - sqrt(ab) MU each step is
    z' = f z + sigma n, f = (a' a s^2 + sqrt(b'^2 - sigma^2) b) / (a^2 s^2 + b^2); at eta = 0, f < sd'/sd of the
    exact flow (Cauchy-Schwarz): DDIM's first-order contraction, which vanishes as the steps get finer."""
    ab = process.alpha_bar.tolist()
    var = 1.0
    for k in reversed(range(len(ab))):
        a, b = math.sqrt(ab[k]), math.sqrt(1 - ab[k])
        ab2 = ab[k - 1] if k else 1.0
        sig2 = eta ** 2 * (1 - ab2) / (1 - ab[k]) * (1 - ab[k] / ab2) if k else 0.0
        f = (math.sqrt(ab2) * a * s * s + math.sqrt(max(1 - ab2 - sig2, 0.0)) * b) / (a * a * s * s + b * b)
        var = f * f * var + sig2
    return math.sqrt(var)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim50", "ddim1000", "ddim50_eta1"])
def test_samplers_reach_the_data_distribution(sampler):
    p = GaussianDiffusion.linear(1000)
    eps = gaussian_eps(p)
    g = torch.Generator().manual_seed(2)
    x_T = torch.randn(20000, 1, dtype=torch.float64, generator=g)
    if sampler == "ddpm":                     # all 1000 steps: the data, within 1 %
        x, want = ddpm_sample(eps, p, x_T, generator=g, clip_x0=False), ddim_std(p, eta=1.0)
        assert want == pytest.approx(S, rel=0.01)
    else:                                     # DDIM: exactly its known first-order error for this data
        q = p.ddim_steps(int(sampler[4:].split("_")[0]))
        eta = 1.0 if sampler.endswith("eta1") else 0.0
        x, want = ddim_sample(eps, q, x_T, eta=eta, generator=g, clip_x0=False), ddim_std(q, eta=eta)
        assert want < S and (sampler != "ddim1000" or want > 0.97 * S)
    assert x.mean().item() == pytest.approx(MU, abs=0.02)
    assert x.std().item() == pytest.approx(want, rel=0.02)


def test_ddim_inversion_then_generation_reconstructs():
    base = GaussianDiffusion.linear(1000)
    eps = gaussian_eps(base)
    x0 = MU + S * torch.randn(256, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    err = {}
    for k in (100, 1000):
        p = base.ddim_steps(k)
        x_T = ddim_invert(eps, p, x0, clip_x0=False)
        assert x_T.std().item() == pytest.approx(1.0, rel=0.1)    # the latent looks like noise
        err[k] = (ddim_sample(eps, p, x_T, clip_x0=False) - x0).abs().mean().item()
        # a different input gives a different latent: the map does not collapse
        assert (ddim_invert(eps, p, x0 + 0.5, clip_x0=False) - x_T).abs().mean() > 0.3
    # stated bound: mean reconstruction error < 0.03 at K = 100 and < 0.003 at K = 1000 (first order in 1/K)
    assert err[100] < 0.03 and err[1000] < 0.003 and err[100] / err[1000] > 5


def test_dpm_learns_its_noise_and_samples_through_the_shared_loop(tmp_path, tiny_images):
    from semlib import DPM, dpm_preset, train
    from semlib.train import read_log
    torch.set_num_threads(1)
    cfg = dpm_preset("smoke", resolution=16, lr=2e-3)
    m = DPM(cfg, in_ch=3)
    g = torch.Generator().manual_seed(0)
    x0 = tiny_images.images[:32]
    with torch.no_grad():
        before = m.loss(m.net, x0, None, torch.Generator().manual_seed(5)).item()
    assert before == pytest.approx(1.0, abs=0.1)              # zero-initialised output: predicts eps = 0
    train(m, tiny_images, tmp_path / "run", steps=60, batch_size=16, seed=0, log_every=20, ckpt_every=60,
          ema_decay=0.9, lr_decay=False)
    with torch.no_grad():
        after = m.loss(m.net, x0, None, torch.Generator().manual_seed(5)).item()
    assert after < 0.8 * before and [r["step"] for r in read_log(tmp_path / "run")] == [20, 40, 60]
    x = m.sample(6, k=5, generator=g)
    assert x.shape == (6, 3, 16, 16) and torch.isfinite(x).all() and x.abs().max() <= 1
    assert m.nfe(5) == 5 and m.nfe(cfg.num_timesteps) == 1000
    x_T = m.invert(x0[:4], k=5)
    assert x_T.shape == (4, 3, 16, 16) and torch.isfinite(x_T).all()


def test_class_conditional_dpm_needs_and_uses_labels():
    from semlib import DPM, dpm_preset
    from conftest import live
    m = DPM(dpm_preset("smoke", resolution=16, num_classes=3), in_ch=1)
    live(m.net_ema)
    x = torch.randn(2, 1, 16, 16)
    t = torch.tensor([10, 500])
    with pytest.raises(ValueError, match="class-conditional"):
        m.net_ema(x, t)
    a = m.net_ema(x, t, None, torch.tensor([0, 0]))
    b = m.net_ema(x, t, None, torch.tensor([2, 2]))
    assert (a - b).abs().mean() > 1e-4                        # the label reaches the output


def test_dpm_config_validation():
    from semlib import ConfigError, dpm_preset
    with pytest.raises(ConfigError, match="ddim_steps=2000"):
        dpm_preset("cpu", ddim_steps=2000)
    with pytest.raises(ConfigError, match="space='wavelet'"):
        dpm_preset("cpu", space="wavelet")
    with pytest.raises(ConfigError, match="schedule='quadratic'"):
        dpm_preset("cpu", schedule="quadratic")
    with pytest.raises(ConfigError, match="beta_start=0.1 > beta_end=0.02"):
        dpm_preset("cpu", beta_start=0.1)


def test_classifier_guidance_pushes_towards_the_class_only_inside_its_window():
    """A hand-made classifier that reads brightness (class 0: bright, class 1: dark): guided DDIM samples end
    brighter for class 0 and darker for class 1 than unguided ones; a window that holds no sampling step changes
    nothing, and one that holds some changes less than guidance everywhere."""
    from semlib.config import dpm_preset
    from semlib.methods import DPM, guided_eps_fn

    class Brightness(torch.nn.Module):
        def forward(self, x, t):
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([4 * m, -4 * m], dim=1)
    dpm = DPM(dpm_preset("smoke", resolution=8), in_ch=1)
    proc = dpm.sampling_process(10)
    x_T = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    plain = ddim_sample(dpm.eps_model(), proc, x_T)
    run = lambda y, window=None: ddim_sample(None, proc, x_T, eps_fn=guided_eps_fn(
        dpm.eps_model(), Brightness(), proc, torch.full((16,), y), scale=2.0, window=window))
    assert run(0).mean() > plain.mean() + 0.05 and run(1).mean() < plain.mean() - 0.05
    torch.testing.assert_close(run(0, window=(2000, 3000)), plain)
    part = run(0, window=(0, 500))
    assert plain.mean() < part.mean() < run(0).mean()


def test_noisy_classifier_learns_through_the_shared_loop(tmp_path):
    """Bright vs dark images: after a short training the classifier is right at low noise and near chance at the
    noisiest step, where x_t holds almost nothing of x_0."""
    from semlib import train
    from semlib.config import noisy_classifier_preset
    from semlib.methods import NoisyClassifierMethod
    torch.set_num_threads(1)

    class Toy:
        def __init__(self, n, seed):
            g = torch.Generator().manual_seed(seed)
            self.targets = torch.randint(0, 2, (n,), generator=g)
            self.images = (torch.rand(n, 1, 8, 8, generator=g) * 0.4 - 0.2 + torch.where(self.targets[:, None, None, None] == 0, 0.6, -0.6))
        def __len__(self):
            return len(self.images)
        def get_batch(self, idx):
            return self.images[idx], self.targets[idx]
    proc = GaussianDiffusion.linear(1000)
    m = NoisyClassifierMethod(noisy_classifier_preset("smoke", resolution=8, lr=3e-3), proc, in_ch=1, num_classes=2)
    train(m, Toy(256, 0), tmp_path / "clf", steps=60, batch_size=32, seed=0, log_every=30, ckpt_every=60, ema_decay=0.9,
          ema_warmup=True, lr_decay=False)
    test = Toy(256, 1)
    acc = m.accuracy_per_step(test.images, test.targets, [10, 999], generator=torch.Generator().manual_seed(2))
    assert acc[0] > 0.9 and acc[1] < 0.75


def test_latent_dpm_diffuses_the_autoencoders_latents_and_reloads(tmp_path):
    """A DPM with space = 'latent' (an LDM, ASYRP-LDM's base): the U-Net sees 4 x 8 x 8 latents, takes images in and
    gives images out, inverts and regenerates through the autoencoder, and its run folder reloads (load_dpm used to
    build it with the latent channels as image channels)."""
    from semlib import DPM, dpm_preset
    from semlib.methods.autoencoder import save_autoencoder
    from semlib.recipes import load_dpm
    from semlib.spaces import LatentSpace
    from semlib.train import fit
    from conftest import live
    from test_lddgan import trained_ae
    torch.set_num_threads(1)
    ae, ds, _, _ = trained_ae("vq", steps=3)
    save_autoencoder(ae.net, tmp_path / "ae.pt")
    cfg = dpm_preset("smoke", resolution=16, space="latent", autoencoder=str(tmp_path / "ae.pt"), steps=2,
                     log_every=1, ckpt_every=2)
    m = DPM(cfg, in_ch=3)
    assert m.data_shape == (4, 8) and m.net.conv_in.in_channels == 4 and m.config.autoencoder_sha is not None
    live(m.net_ema)
    x0 = ds.images[:4]
    out = m.training_step(x0, None, 0, torch.Generator().manual_seed(0), m.trainable())
    assert torch.isfinite(out["loss"])
    x = m.sample(3, k=5, generator=torch.Generator().manual_seed(1))
    assert x.shape == (3, 3, 16, 16) and x.abs().max() <= 1
    x_T = m.invert(x0, k=5)
    assert x_T.shape == (4, 4, 8, 8)
    # inversion runs on the image's latent, generation decodes DDIM's latent (the DDIM pair itself is tested above)
    z0 = LatentSpace(ae.net).encode(x0)
    torch.testing.assert_close(x_T, ddim_invert(m.eps_model(), m.sampling_process(5), z0))
    lat = ddim_sample(m.eps_model(), m.sampling_process(5), x_T)
    torch.testing.assert_close(m.generate(x_T, k=5), LatentSpace(ae.net).decode(lat).clamp(-1, 1))
    fit(m, ds, tmp_path / "run")
    back, step = load_dpm(tmp_path / "run", device="cpu")
    assert step == 2 and back.data_shape == (4, 8) and back.config.space == "latent"
    g = lambda: torch.Generator().manual_seed(3)   # noqa: E731
    torch.testing.assert_close(back.sample(2, k=5, generator=g()), m.sample(2, k=5, generator=g()))
    with pytest.raises(ValueError, match="pixel-space DPM"):
        from semlib.config import pdae_preset
        from semlib.methods.pdae import PDAE
        PDAE(pdae_preset("smoke", resolution=16), m, in_ch=3)
