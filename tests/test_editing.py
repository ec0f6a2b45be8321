"""Attribute directions from linear SVMs and the edit measurement (PDDGAN-F3)."""
import numpy as np
import pytest
import torch

from semlib.editing import measure_edits, random_directions, svm_directions


def linear_codes(n=600, d=12, seed=0):
    """Codes whose attribute a is the sign of a known direction u_a (plus a little label noise)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g) * torch.linspace(0.5, 3.0, d)   # anisotropic: standardisation matters
    u = torch.linalg.qr(torch.randn(d, 3, generator=g))[0].T             # (3, d) orthonormal truth
    labels = ((z - 0.3) @ u.T > 0).float()
    return z, labels, u


def test_svm_normals_recover_the_true_directions_in_code_space():
    z, labels, u = linear_codes()
    dirs = svm_directions(z, labels, ["a", "b", "c"])
    cos = (dirs.normal.double() * u.double()).sum(1)
    assert torch.all(cos > 0.95), cos                    # the normal points to the positive class
    assert torch.allclose(dirs.normal.norm(dim=1), torch.ones(3), atol=1e-5)
    zt, lt, _ = linear_codes(n=400, seed=1)[0], None, None
    lt = ((zt - 0.3) @ u.T > 0).float()                  # held-out codes, same truth
    assert min(dirs.accuracy(zt, lt)) > 0.9
    # sigma is the spread of the codes along the normal
    assert torch.allclose(dirs.sigma, (z.double() @ dirs.normal.double().T).std(0).float(), rtol=1e-3)


def test_svm_rejects_a_constant_attribute():
    z, labels, _ = linear_codes()
    labels[:, 1] = 1
    with pytest.raises(ValueError, match="'b' has one class"):
        svm_directions(z, labels, ["a", "b", "c"])


def test_measure_edits_flips_the_target_keeps_the_others_and_random_control_does_less():
    z, labels, u = linear_codes(n=300)
    dirs = svm_directions(z, labels, ["a", "b", "c"])
    # "rendering" is the identity; the classifier reads the true attributes of a code
    render = lambda zb, idx: zb                                  # noqa: E731
    classify = lambda x: (x - 0.3) @ u.T > 0                      # noqa: E731
    out = measure_edits(render, classify, z, dirs, [0.0, 0.5, 4.0], batch_size=64)
    assert out["flip"].shape == (3, 3) and out["keep"].shape == (3, 3)
    np.testing.assert_array_equal(out["flip"][:, 0], 0.0)       # step 0 changes nothing
    np.testing.assert_array_equal(out["keep"][:, 0], 1.0)
    assert np.all(out["flip"][:, 2] > 0.95)                      # 4 sigma crosses the plane
    assert np.all(np.diff(out["flip"], axis=1) >= 0)             # monotone in the step
    assert np.all(out["keep"][:, 2] > 0.9)                       # orthogonal truths stay put
    ctrl = measure_edits(render, classify, z, random_directions(dirs, z, seed=0), [4.0])
    assert np.all(ctrl["flip"][:, 0] < out["flip"][:, 2] - 0.2)
    # the render callback sees each image's own index (so other inputs can be held fixed per image)
    seen = []
    measure_edits(lambda zb, idx: seen.append(idx.clone()) or zb, classify, z[:10], dirs, [1.0],
                  batch_size=4, attributes=[0])
    assert torch.equal(torch.cat(seen[:3]), torch.arange(10))


class _OnlyZ2Decides:
    """A stand-in two-step model whose image is a function of z_2 alone (like the ideal full PDDGAN)."""
    in_ch, SE = 1, object()

    class config:
        resolution, nz = 4, 3

    def _prior_sampler(self, prior, device):
        return lambda b, g: torch.randn(b, 3, generator=g, device=device)

    def generate(self, x2, z2, z1, noise1):
        return z2[:, :2, None, None].expand(-1, 2, 4, 4).clone()


def test_attribute_change_sees_which_input_carries_the_semantics():
    from semlib.evaluation import attribute_change
    model = _OnlyZ2Decides()
    classify = lambda x: x[:, :, 0, 0] > 0                     # noqa: E731  two "attributes": signs of z2[0], z2[1]
    for var in ("x2", "z1"):
        assert attribute_change(model, var, classify, n=200)["mean"] == 0.0
    out = attribute_change(model, "z2", classify, n=400, batch_size=128)
    assert out["n"] == 400 and len(out["per_attribute"]) == 2
    assert 0.4 < out["mean"] < 0.6                               # independent signs differ half the time
    a, b = out["readings"]                                       # the pairs themselves, in draw order
    assert a.shape == b.shape == (400, 2) and float((a != b).float().mean()) == out["mean"]
    assert torch.equal(a, attribute_change(model, "z2", classify, n=400, batch_size=128)["readings"][0])   # seeded
    with pytest.raises(ValueError, match="variable"):
        attribute_change(model, "x1", classify, n=4)
    # a dataset with classes: one reading, the top class index; a pair counts when its class differs
    top = lambda x: (x[:, 0, 0, 0] > 0).long()[:, None] + 2 * (x[:, 1, 0, 0] > 0).long()[:, None]   # noqa: E731
    out = attribute_change(model, "z2", top, n=400)
    assert len(out["per_attribute"]) == 1 and 0.65 < out["mean"] < 0.85      # 4 equally likely classes: 3/4 differ
    assert attribute_change(model, "z1", top, n=100)["mean"] == 0.0
    with pytest.raises(TypeError, match="not scores"):
        attribute_change(model, "z2", lambda x: x[:, :, 0, 0], n=4)


class _LastStepNoiseDecides(_OnlyZ2Decides):
    """A stand-in whose image is set by the last step's posterior noise alone (the second step re-decides)."""

    def generate(self, x2, z2, z1, noise1):
        return noise1[:, :1, :2, :1].reshape(-1, 2, 1, 1).expand(-1, 2, 4, 4).clone()


def test_attribute_change_measures_the_last_steps_noise_as_a_control():
    # noise1 (x_1's posterior noise) is held fixed by the paper's Figure 2; varied alone it shows how much the
    # second step decides by itself. It is drawn in the space G sees (in_ch x resolution^2), like x2
    from semlib.evaluation import attribute_change
    classify = lambda x: x[:, :, 0, 0] > 0                     # noqa: E731
    noisy = _LastStepNoiseDecides()
    assert 0.4 < attribute_change(noisy, "noise1", classify, n=400)["mean"] < 0.6
    for var in ("x2", "z2", "z1"):
        assert attribute_change(noisy, var, classify, n=100)["mean"] == 0.0
    assert attribute_change(_OnlyZ2Decides(), "noise1", classify, n=100)["mean"] == 0.0
