import math

import pytest
import torch

from semlib.diffusion import DDGANProcess, ddgan_betas


def test_betas_match_reference_values():
    # check values of IMPLEMENTATION_NOTES.md (NVlabs train_ddgan.py)
    b4 = ddgan_betas(4)
    assert b4[0].item() == pytest.approx(1e-8)
    assert b4[1:].tolist() == pytest.approx([0.478, 0.849, 0.956, 0.987], abs=1e-3)
    p = DDGANProcess(4)
    assert p.sqrt_alpha_bar.tolist() == pytest.approx([1, 0.722, 0.280, 0.0586, 0.0066], abs=1e-3)
    assert ddgan_betas(2)[1:].tolist() == pytest.approx([0.921, 0.9995], abs=1e-3)


def test_marginal_of_pairs_matches_q_sample():
    # x_{t+1} built from x_t must have the marginal of q_sample(x0, t+1)
    p = DDGANProcess(4)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000, 1), 0.7)
    for t in range(4):
        tt = torch.full((len(x0),), t)
        _, x_tp1 = p.q_sample_pairs(x0, tt, g)
        a = p.sqrt_alpha_bar[t + 1].item()
        assert x_tp1.mean().item() == pytest.approx(a * 0.7, abs=5e-3)
        assert x_tp1.var().item() == pytest.approx(1 - a * a, abs=5e-3)


@pytest.mark.parametrize("T", [2, 4])
def test_posterior_equals_gaussian_conditioning(T):
    # Independent derivation: (x_t, x_{t+1}) | x0 is jointly Gaussian; condition x_t on x_{t+1}.
    p = DDGANProcess(T)
    betas = p.betas_with_dummy.tolist()
    ab = [1.0]
    for b in betas[1:]:
        ab.append(ab[-1] * (1 - b))     # cumulative product WITHOUT the dummy, ab[k] for index k
    for t in range(T):
        a_t, b_next = ab[t], betas[t + 1]
        x0, x_next = 0.3, -0.8
        mean_t, var_t = math.sqrt(a_t) * x0, 1 - a_t
        mean_n = math.sqrt(1 - b_next) * mean_t
        var_n = (1 - b_next) * var_t + b_next
        cov = math.sqrt(1 - b_next) * var_t
        cond_mean = mean_t + cov / var_n * (x_next - mean_n)
        cond_var = var_t - cov * cov / var_n
        m, logv = p.posterior(torch.tensor([[x0]]), torch.tensor([[x_next]]), torch.tensor([t]))
        assert m.item() == pytest.approx(cond_mean, abs=1e-6)
        assert math.exp(logv.item()) == pytest.approx(max(cond_var, 1e-20), rel=1e-5, abs=1e-12)


def test_no_noise_at_last_step_and_noise_elsewhere():
    p = DDGANProcess(4)
    x0 = torch.zeros(1000, 1)
    x1 = torch.ones(1000, 1)
    g = torch.Generator().manual_seed(1)
    out0 = p.sample_posterior(x0, x1, torch.zeros(1000, dtype=torch.long), g)
    assert out0.std().item() == 0.0
    out2 = p.sample_posterior(x0, x1, torch.full((1000,), 2), g)
    assert out2.std().item() == pytest.approx(math.exp(0.5 * p.post_log_var[2].item()), rel=0.1)
