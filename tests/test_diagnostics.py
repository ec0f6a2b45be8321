"""Issue 7: the discriminator must take part in the game (the landed design sat at 2 ln 2)."""
import torch

from semlib import DDGAN, ddgan_preset
from semlib import diagnostics as dg

from conftest import Discs

CFG = ddgan_preset("smoke", resolution=16, batch_size=16)


def test_d_separates_real_from_fake_in_the_joint_game():
    # After 60 joint steps on toy discs (fixed seed) D keeps real and fake pairs apart at t = 0;
    # the landed setup (legacy D, PyTorch init, lr_g > lr_d) stays at chance on the same data.
    torch.set_num_threads(1)
    ds = Discs()
    new = dg.summarise(dg.game_trace(DDGAN(CFG, 3), ds, steps=60, probe_every=10))
    assert new["sep_t0"] > 1.0 and new["loss_d_minus_chance"] < -0.1
    old = dg.summarise(dg.game_trace(dg.build_variant(CFG, "before", 3, "smoke"), ds, steps=60, probe_every=10))
    assert abs(old["sep_t0"]) < 0.2 and abs(old["loss_d_minus_chance"]) < 0.02


def test_probe_and_d_alone_probe():
    torch.set_num_threads(1)
    ds = Discs(n=64)
    m = DDGAN(CFG, 3)
    p = dg.probe_logits(m, ds.images[:16])
    assert len(p["real"]) == len(p["fake"]) == CFG.num_timesteps
    assert p["real"] == [0.0] * CFG.num_timesteps          # reference init: D starts at logit 0
    g0 = [q.detach().clone() for q in m.G.parameters()]
    tr = dg.d_alone_probe(m, ds, steps=20, probe_every=10)
    assert [r["step"] for r in tr] == [0, 10, 20] and dg.separation(tr[-1]) > 1.0
    assert all(torch.equal(a, b) for a, b in zip(g0, m.G.parameters()))   # G stayed frozen
    assert all(q.requires_grad for q in m.G.parameters())                  # and is trainable again


def test_variants_change_one_thing():
    base = ddgan_preset("cpu", num_timesteps=4)          # the game the diagnosis studies
    for name, (_, changes, legacy) in dg.VARIANTS.items():
        cfg = dg.variant_config(base, name)
        diff = {k for k in base.to_dict() if getattr(cfg, k) != getattr(base, k)}
        assert diff <= set(changes) and (bool(diff) == (name != "reference")), name   # only what it names
        assert all(getattr(cfg, k) == v for k, v in changes.items() if k != "d_ch"), name
        if name not in ("before", "reference"):
            assert len(diff) <= 2 and (len(diff) == 1 or name.startswith("lr_")), name   # one knob
    assert dg.variant_config(base, "d_wide").d_ch == 2 * base.d_ch
