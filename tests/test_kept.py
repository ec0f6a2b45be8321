"""Kept weights: the final weights of a finished run, committed beside its result, seed a fresh clone's run folder."""
import json

import pytest
import torch


def _trained_dpm(run_dir, tiny_images, steps=4):
    from semlib import DPM, dpm_preset, train
    torch.set_num_threads(1)
    cfg = dpm_preset("smoke", resolution=16, lr=2e-3, steps=steps)
    m = DPM(cfg, in_ch=3)
    train(m, tiny_images, run_dir, steps=steps, batch_size=8, seed=0, log_every=2, ckpt_every=2,
          ema_decay=0.5, lr_decay=False)
    return m


def test_kept_weights_hold_the_ema_only_and_restore_a_finished_run(tmp_path, tiny_images):
    from semlib import DPM, train
    from semlib.checkpoint import keep_weights, list_checkpoints, load_latest, restore_kept, sha256_weights
    from semlib.recipes import load_dpm
    m = _trained_dpm(tmp_path / "run", tiny_images)
    assert sha256_weights(m.net.state_dict()) != sha256_weights(m.net_ema.state_dict())
    blob = bytes(range(256)) * 3                       # a file the run's users load (an autoencoder's autoencoder.pt)
    (tmp_path / "run" / "autoencoder.pt").write_bytes(blob)
    info = keep_weights(tmp_path / "run", tmp_path / "kept" / "weights.pt", commit="abc")
    kept = torch.load(tmp_path / "kept" / "weights.pt", weights_only=True)
    assert set(kept["nets"]) == {"net_ema"} and "opts" not in kept and "rng" not in kept     # the raw net is dropped
    assert info["step"] == 4 and info["commit"] == "abc" and info["ema_only"] == ["net"]
    assert info["sha256"]["net_ema"] == sha256_weights(m.net_ema.state_dict())
    assert [json.loads(l)["step"] for l in kept["logs"]["log.jsonl"].splitlines()] == [2, 4]
    # a run that has not reached its steps is refused
    with pytest.raises(ValueError, match="finished runs only"):
        keep_weights(tmp_path / "run", tmp_path / "x.pt", steps=6)

    fresh = tmp_path / "fresh"
    assert restore_kept(fresh, tmp_path / "kept" / "weights.pt")
    assert [p.name for p in list_checkpoints(fresh)] == ["ckpt-00000004.pt"]
    assert (fresh / "log.jsonl").read_text() == (tmp_path / "run" / "log.jsonl").read_text()
    assert info["files"] == ["autoencoder.pt"] and (fresh / "autoencoder.pt").read_bytes() == blob
    assert not restore_kept(fresh, tmp_path / "kept" / "weights.pt")            # a folder with a checkpoint is left alone
    dpm, step = load_dpm(fresh)
    assert step == 4
    assert sha256_weights(dpm.net_ema.state_dict()) == sha256_weights(m.net_ema.state_dict())
    assert sha256_weights(dpm.net.state_dict()) == sha256_weights(m.net_ema.state_dict())  # raw net := its EMA
    # the training loop takes the restored run as finished (no optimiser state needed) ...
    m2 = DPM(m.config, in_ch=3)
    res = train(m2, tiny_images, fresh, steps=4, batch_size=8, seed=0, log_every=2, ckpt_every=2, ema_decay=0.5)
    assert res.step == 4 and sha256_weights(m2.net_ema.state_dict()) == sha256_weights(m.net_ema.state_dict())
    assert load_latest(fresh)["kept"]["commit"] == "abc"
    # ... and refuses to extend it (there is no optimiser state to resume)
    with pytest.raises(ValueError, match="kept weights of step 4"):
        train(DPM(m.config, in_ch=3), tiny_images, fresh, steps=6, batch_size=8, seed=0, log_every=2, ckpt_every=2)


def test_a_fresh_clone_loads_the_committed_dpm_instead_of_training_it(tmp_path, tiny_images, monkeypatch):
    from semlib import recipes, report
    from semlib.checkpoint import keep_weights, sha256_weights
    runs, results = tmp_path / "runs", tmp_path / "results"
    monkeypatch.setenv("SEMLIB_RUNS", str(runs))
    monkeypatch.setenv("SEMLIB_RESULTS", str(results))
    m = _trained_dpm(tmp_path / "elsewhere", tiny_images, steps=6)       # the smoke preset's 6 steps
    keep_weights(tmp_path / "elsewhere", results / "smoke" / "DDPM-BASE-x" / "weights.pt")
    assert report.kept_weights("smoke", "DDPM-BASE-x") == results / "smoke" / "DDPM-BASE-x" / "weights.pt"

    def no_training(*a, **k):
        raise AssertionError("dpm_base trained although kept weights exist")
    monkeypatch.setattr(recipes, "fit", no_training)
    monkeypatch.setattr("semlib.data.load_dataset", no_training)
    dpm, step = recipes.dpm_base("smoke", "DDPM-BASE-x", resolution=16)
    assert step == 6 and sha256_weights(dpm.net_ema.state_dict()) == sha256_weights(m.net_ema.state_dict())
    assert (runs / "smoke" / "DDPM-BASE-x" / "ckpt-00000006.pt").exists()
    assert report.kept_weights("smoke", "DDPM-BASE-none") is None


def test_study_keeps_the_weights_of_entries_others_build_on():
    from semlib.study import REGISTRY
    keep = {e.id for e in REGISTRY if "cpu" in e.keep}
    assert {"DDPM-BASE-synthfaces", "DDPM-BASE-mnist5k", "PDAE-T1", "LDDGAN-T1-synthfaces", "LDM-BASE-synthfaces"} <= keep
    assert all(set(e.keep) <= set(e.scales) for e in REGISTRY)
