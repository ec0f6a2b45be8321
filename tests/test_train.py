import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from semlib import DDGAN, RunFolderBusy, TimeBudgetReached, TrainingDiverged, ddgan_preset, train, with_overrides
from semlib.checkpoint import list_checkpoints, load_latest
from semlib.train import cosine_lr, fit, read_log

from conftest import live

CFG = ddgan_preset("smoke", resolution=16)


def flat(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def run(tmp, ds, steps=6, stop_after=None, cfg=CFG, **kw):
    m = DDGAN(cfg, in_ch=3)
    train(m, ds, tmp, steps=steps, batch_size=cfg.batch_size, seed=3, log_every=2, ckpt_every=2,
          ema_decay=0.9, stop_after=stop_after, **kw)
    return m


def test_resume_after_kill_gives_identical_weights(tmp_path, tiny_images):
    torch.set_num_threads(1)
    full = run(tmp_path / "full", tiny_images)
    # "killed" after 3 steps of this call: the step-3 work is lost, the step-2 checkpoint stays
    run(tmp_path / "cut", tiny_images, stop_after=3)
    assert [p.name for p in list_checkpoints(tmp_path / "cut")] == ["ckpt-00000002.pt"]
    resumed = run(tmp_path / "cut", tiny_images)
    for a, b in [(full.G, resumed.G), (full.D, resumed.D), (full.G_ema, resumed.G_ema)]:
        assert torch.equal(flat(a), flat(b))
    ck = load_latest(tmp_path / "cut")
    assert ck["step"] == 6 and set(ck["nets"]) == {"G", "D", "G_ema"}
    assert set(ck["opts"]) == {"G", "D"} and "rng" in ck and ck["config"]["batch_size"] == CFG.batch_size
    # the log holds each step once, even though steps 3 were run twice
    assert [r["step"] for r in read_log(tmp_path / "cut")] == [2, 4, 6]
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["nz"] == CFG.nz


def test_resume_refuses_a_checkpoint_of_another_config(tmp_path, tiny_images):
    torch.set_num_threads(1)
    run(tmp_path, tiny_images, steps=2)
    # a longer run of the same config resumes (only run length differs) ...
    run(tmp_path, tiny_images, steps=4, cfg=with_overrides(CFG, steps=4, n_eval=7))
    assert load_latest(tmp_path)["step"] == 4
    # ... another learning rate or latent size does not, and the message names the field
    for change in ({"lr_g": CFG.lr_g * 2}, {"nz": CFG.nz + 1}):
        with pytest.raises(ValueError, match=next(iter(change))):
            run(tmp_path, tiny_images, steps=6, cfg=with_overrides(CFG, **change))
    assert load_latest(tmp_path)["step"] == 4


def test_training_changes_weights_and_decays_lr(tmp_path, tiny_images):
    m0 = DDGAN(CFG, in_ch=3)
    m = run(tmp_path, tiny_images)
    assert not torch.equal(flat(m0.G), flat(m.G))
    assert not torch.equal(flat(m.G), flat(m.G_ema))
    lrs = [r["lr"]["G"] for r in read_log(tmp_path)]      # the rate of the logged (last) step: 1, 3, 5
    assert lrs == pytest.approx([cosine_lr(s, 6, CFG.lr_g, CFG.lr_min) for s in (1, 3, 5)])
    assert lrs == sorted(lrs, reverse=True) and cosine_lr(6, 6, CFG.lr_g, CFG.lr_min) == pytest.approx(CFG.lr_min)


def test_extending_a_run_follows_the_longer_schedule(tmp_path, tiny_images):
    # resuming with a larger `steps` must not replay the shorter run's cosine (its lr climbed back up)
    torch.set_num_threads(1)
    run(tmp_path / "short", tiny_images, steps=2)
    run(tmp_path / "short", tiny_images, steps=8)
    run(tmp_path / "long", tiny_images, steps=8)
    ext, ref = read_log(tmp_path / "short"), read_log(tmp_path / "long")
    assert [r["step"] for r in ext] == [2, 4, 6, 8]
    assert [r["lr"] for r in ext[1:]] == [r["lr"] for r in ref[1:]]
    later = [r["lr"]["D"] for r in ext[1:]]
    assert later == sorted(later, reverse=True)


def test_a_run_continued_past_its_horizon_stays_at_the_floor_rate(tmp_path, tiny_images):
    # lr_horizon keeps the finished run's cosine: continuing a 4-step run to 8 steps holds lr_min, where a plain
    # extension (test above) would follow the longer run's cosine and raise the rate again
    torch.set_num_threads(1)
    run(tmp_path, tiny_images, steps=4)
    before = read_log(tmp_path)
    run(tmp_path, tiny_images, steps=8, lr_horizon=4)
    log = read_log(tmp_path)
    assert [r["step"] for r in log] == [2, 4, 6, 8] and log[:2] == before
    assert [r["lr"]["G"] for r in log[2:]] == pytest.approx([CFG.lr_min] * 2)
    assert [r["lr"]["D"] for r in log[2:]] == pytest.approx([CFG.lr_min] * 2)
    assert log[0]["lr"]["G"] > CFG.lr_min


def test_nan_stops_cleanly_and_keeps_last_good_checkpoint(tmp_path, tiny_images):
    class Poisoned:
        def __init__(self, ds, bad_from):
            self.ds, self.bad_from, self.calls = ds, bad_from, 0

        def __len__(self):
            return len(self.ds)

        def get_batch(self, idx):
            self.calls += 1
            x, y = self.ds.get_batch(idx)
            return (x * float("nan") if self.calls > self.bad_from else x), y

    with pytest.raises(TrainingDiverged, match="ckpt-00000004.pt"):
        run(tmp_path, Poisoned(tiny_images, bad_from=4))
    ck = load_latest(tmp_path)
    assert ck["step"] == 4
    assert all(torch.isfinite(v).all() for v in ck["nets"]["G"].values())


def test_per_step_discriminators_train_on_stratified_t_and_a_wrong_count_is_refused(tmp_path, tiny_images):
    from semlib.config import ConfigError
    from semlib.nets import PerStepDiscriminator
    with pytest.raises(ConfigError, match="one width per denoising step"):
        with_overrides(CFG, num_timesteps=2, d_ch_by_t=(8, 4, 4))   # T = 2: two widths, not three
    cfg = with_overrides(CFG, num_timesteps=2, d_ch_by_t=(8, 4))
    m = DDGAN(cfg, in_ch=3)
    assert isinstance(m.D, PerStepDiscriminator)
    assert [d.conv_in.out_channels for d in m.D.discriminators] == [16, 8]    # ch * d_ch_mult[0]
    g = torch.Generator().manual_seed(0)
    t = m.training_t(0, 8, torch.device("cpu"), g)
    assert torch.bincount(t, minlength=2).tolist() == [4, 4]                 # n / T pairs per step
    assert not torch.equal(t, m.training_t(0, 8, torch.device("cpu"), g))   # in random order
    before = [flat(d) for d in m.D.discriminators]
    train(m, tiny_images, tmp_path, steps=2, batch_size=8, seed=3, log_every=1, ckpt_every=2, ema_decay=0.9)
    assert all(not torch.equal(b, flat(d)) for b, d in zip(before, m.D.discriminators))   # both steps' D learn


def test_sample_is_pinned():
    # diffusers-style pin: a tiny seeded model, a seeded sampler, sum and mean with tolerance.
    # (Values recorded from this code on CPU; a change of init, schedule or sampler moves them.)
    m = DDGAN(CFG, in_ch=3, seed=0)
    x0 = m.sample(4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x0, torch.zeros_like(x0))          # reference init: an untrained G predicts x_0 = 0
    live(m.G_ema)                                          # so pin a G whose zero-initialised layers are live
    x = m.sample(4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (4, 3, 16, 16) and m.nfe == CFG.num_timesteps
    assert torch.equal(x, m.sample(4, generator=torch.Generator().manual_seed(0)))
    assert x.sum().item() == pytest.approx(251.882, rel=2e-3)
    assert x.abs().mean().item() == pytest.approx(0.24928, rel=2e-3)


def test_sampler_calls_g_T_times_with_fresh_z_and_returns_its_last_x0():
    from semlib.diffusion import DDGANProcess
    from semlib.samplers import ddgan_sample
    seen = []

    def G(x, t, z):
        seen.append((int(t[0]), z.clone()))
        return torch.full_like(x, 0.5)

    p = DDGANProcess(4)
    out = ddgan_sample(G, p, torch.randn(3, 1, 4, 4), nz=5, generator=torch.Generator().manual_seed(0))
    assert [t for t, _ in seen] == [3, 2, 1, 0]          # G gets the index of the target x_t
    assert all(not torch.equal(seen[i][1], seen[j][1]) for i in range(4) for j in range(i))
    assert torch.allclose(out, torch.full_like(out, 0.5))  # the last step is the noiseless posterior mean = x0


@pytest.mark.slow
def test_ddp_two_cpu_processes_gloo(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           str(Path(__file__).parent / "ddp_worker.py"), str(tmp_path)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    g0, g1 = torch.load(tmp_path / "g_rank0.pt"), torch.load(tmp_path / "g_rank1.pt")
    assert torch.equal(g0, g1)          # gradients were averaged: the replicas stayed identical
    assert load_latest(tmp_path)["step"] == 4
    assert [r["step"] for r in read_log(tmp_path)] == [2, 4]


def test_time_budget_stops_cleanly_and_the_rerun_resumes_exactly(tmp_path, tiny_images, monkeypatch):
    torch.set_num_threads(1)
    full = run(tmp_path / "full", tiny_images, steps=5)
    # a zero budget: the call saves a checkpoint after its first step (off the ckpt_every grid) and stops
    with pytest.raises(TimeBudgetReached, match="step 1 of 5"):
        run(tmp_path / "chunks", tiny_images, steps=5, time_budget_s=0.0)
    assert [p.name for p in list_checkpoints(tmp_path / "chunks")] == ["ckpt-00000001.pt"]
    # fit() takes the budget from SEMLIB_TIME_BUDGET_MIN (run_all.sh --time-budget)
    monkeypatch.setenv("SEMLIB_TIME_BUDGET_MIN", "0")
    with pytest.raises(TimeBudgetReached, match="step 1 of 5"):
        fit(DDGAN(with_overrides(CFG, steps=5), in_ch=3), tiny_images, tmp_path / "chunks2")
    monkeypatch.delenv("SEMLIB_TIME_BUDGET_MIN")
    resumed = run(tmp_path / "chunks", tiny_images, steps=5)          # no budget: runs to the end
    assert load_latest(tmp_path / "chunks")["step"] == 5
    for a, b in [(full.G, resumed.G), (full.D, resumed.D), (full.G_ema, resumed.G_ema)]:
        assert torch.equal(flat(a), flat(b))


def test_a_run_folder_takes_one_training_process_at_a_time(tmp_path, tiny_images):
    from semlib import RunFolderBusy
    from semlib.train import run_lock
    with run_lock(tmp_path / "run"):                      # another process (another open file) holds the folder
        with pytest.raises(RunFolderBusy, match="in use by another training process"):
            run(tmp_path / "run", tiny_images, steps=2)
    assert not list_checkpoints(tmp_path / "run")         # the refused run wrote nothing
    run(tmp_path / "run", tiny_images, steps=2)           # free again
    assert load_latest(tmp_path / "run")["step"] == 2
    # a process killed while it holds the lock does not leave the folder locked
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
                               "from semlib.train import run_lock\nwith run_lock(sys.argv[2]):\n print('held', flush=True); time.sleep(60)",
                               str(Path(__file__).resolve().parents[1]), str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunFolderBusy):
        run(tmp_path / "run", tiny_images, steps=3)
    holder.kill()
    holder.wait()
    run(tmp_path / "run", tiny_images, steps=3)
    assert load_latest(tmp_path / "run")["step"] == 3


def test_a_finished_run_loaded_by_another_process_is_waited_for_not_refused(tmp_path, tiny_images):
    """Two notebooks that evaluate the same trained base start together: the second waits while the first loads it.
    A folder that is still short of its steps keeps refusing a second process."""
    import time
    run(tmp_path / "run", tiny_images, steps=2)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
                               "from semlib.train import run_lock\nwith run_lock(sys.argv[2]):\n print('held', flush=True); time.sleep(3)",
                               str(Path(__file__).resolve().parents[1]), str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunFolderBusy):                    # 3 steps: more training, so not waited for
        run(tmp_path / "run", tiny_images, steps=3)
    t0 = time.time()
    m = run(tmp_path / "run", tiny_images, steps=2)       # finished: waits for the holder, then loads
    assert time.time() - t0 > 1.0
    holder.wait()
    assert load_latest(tmp_path / "run")["step"] == 2
    ref = load_latest(tmp_path / "run")["nets"]["G_ema"]
    assert all(torch.equal(v, ref[k]) for k, v in m.G_ema.state_dict().items())


def test_sigkill_at_random_moments_and_mid_checkpoint_then_rerun_is_bitwise_an_uninterrupted_run(tmp_path):
    import random
    import signal
    import time
    worker = [sys.executable, str(Path(__file__).resolve().parent / "kill_worker.py")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = subprocess.run(worker + [str(tmp_path / "ref")], env=env, capture_output=True, text=True, timeout=120)
    assert "DONE" in ref.stdout, ref.stderr
    run_dir = tmp_path / "killed"
    # 1. killed while the first checkpoint is being written: the temporary file exists, no checkpoint does
    p = subprocess.Popen(worker + [str(run_dir)], env={**env, "SLOW_SAVE": "1"}, stdout=subprocess.PIPE, text=True)
    while not (line := p.stdout.readline()).startswith("WRITING"):
        assert line, "the worker ended before writing a checkpoint"
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert list(run_dir.glob("*.pt.tmp")) and not list_checkpoints(run_dir) and load_latest(run_dir) is None
    # 2. killed at random moments (seeded), each rerun resuming from whatever the last one left
    rng = random.Random(0)
    for _ in range(2):
        p = subprocess.Popen(worker + [str(run_dir)], env=env, stdout=subprocess.PIPE, text=True)
        while not (line := p.stdout.readline()).startswith("[semlib] step"):   # training has started
            assert line, "the worker ended before training"
        time.sleep(rng.uniform(0.0, 0.4))
        p.send_signal(signal.SIGKILL)
        assert p.wait() == -signal.SIGKILL, "the worker finished before it could be killed"
    # 3. the last rerun finishes; every checkpoint it ever loaded was complete, and the result is bitwise equal
    done = subprocess.run(worker + [str(run_dir)], env=env, capture_output=True, text=True, timeout=120)
    assert "DONE" in done.stdout, done.stderr
    a, b = load_latest(tmp_path / "ref"), load_latest(run_dir)
    assert a["step"] == b["step"] == 12
    for net in ("G", "D", "G_ema"):
        for k, v in a["nets"][net].items():
            assert torch.equal(v, b["nets"][net][k]), (net, k)
    assert [r["step"] for r in read_log(run_dir)] == [r["step"] for r in read_log(tmp_path / "ref")]


def test_learning_curve_is_logged_without_touching_the_training(tmp_path, tiny_images):
    torch.set_num_threads(1)
    plain = run(tmp_path / "plain", tiny_images)

    def noisy_eval(step):                       # draws from the global RNG, as careless metric code would
        return {"step_seen": step, "r": float(torch.rand(1))}
    curved = run(tmp_path / "curve", tiny_images, eval_fn=noisy_eval, eval_every=4)
    for a, b in [(plain.G, curved.G), (plain.D, curved.D), (plain.G_ema, curved.G_ema)]:
        assert torch.equal(flat(a), flat(b))    # the curve changed nothing in the training
    lines = read_log(tmp_path / "curve", "eval")
    assert [(r["step"], r["step_seen"]) for r in lines] == [(4, 4), (6, 6)] and all(r["eval_s"] >= 0 for r in lines)
    # resuming from the step-2 checkpoint drops the curve points after it, and recomputes them once
    cut = tmp_path / "cut"
    run(cut, tiny_images, stop_after=5, eval_fn=noisy_eval, eval_every=4)    # evaluated at 4, killed at 5
    assert [r["step"] for r in read_log(cut, "eval")] == [4]
    run(cut, tiny_images, eval_fn=noisy_eval, eval_every=4)
    assert [r["step"] for r in read_log(cut, "eval")] == [4, 6]


def test_learning_curve_fn_measures_the_gap(tiny_images):
    from semlib.evaluation import learning_curve_fn
    from semlib.metrics import DomainNet
    torch.manual_seed(0)
    ex = DomainNet(3, 2, widths=(4, 8, 8, 8)).eval()
    real, floor = tiny_images.images[:32], tiny_images.images[32:]
    noise = torch.zeros(32, 3, 16, 16)
    fn = learning_curve_fn(lambda k, g: real[:k], real, ex, n=32, real_floor=floor, noise=noise)
    perfect = fn(1)
    assert perfect["gap_closed"] > 1.0 and perfect["recall_dom"] == 1.0    # the reference itself beats the floor
    fn_noise = learning_curve_fn(lambda k, g: noise[:k], real, ex, n=32, real_floor=floor, noise=noise)
    assert fn_noise(1)["gap_closed"] == pytest.approx(0.0, abs=1e-9)


def test_ema_warmup_leaves_no_share_of_the_initial_weights(tmp_path, tiny_images):
    """With decay 0.999 and 6 steps the plain EMA is still ~99% the initial G; with the warm-up
    (decay min(0.999, (1 + s) / (10 + s))) it follows the trained G: at step s the initial weights keep a share
    prod_k decay_k, 0.1 * 0.18 * ... after the first steps."""
    torch.set_num_threads(1)
    init = flat(DDGAN(CFG, in_ch=3).G)
    for warm in (False, True):
        m = DDGAN(CFG, in_ch=3)
        train(m, tiny_images, tmp_path / str(warm), steps=6, batch_size=CFG.batch_size, seed=3, log_every=2,
              ckpt_every=6, ema_decay=0.999, ema_warmup=warm)
        g, ema = flat(m.G), flat(m.G_ema)
        share_init = float(((ema - g) @ (init - g)) / ((init - g) @ (init - g)))   # projection of ema on init - g
        if warm:
            assert share_init < 0.1
        else:
            assert share_init > 0.9


def test_a_config_field_added_later_resumes_at_its_default(tmp_path, tiny_images):
    """A checkpoint written before a config field existed resumes when the field holds its default (the
    earlier behaviour), and is refused when it does not."""
    torch.set_num_threads(1)
    run(tmp_path, tiny_images, steps=2)
    ck = load_latest(tmp_path)
    path = list_checkpoints(tmp_path)[-1]
    del ck["config"]["ema_warmup"]                       # as written by an older semlib
    torch.save(ck, path)
    run(tmp_path, tiny_images, steps=4, cfg=with_overrides(CFG, steps=4))
    assert load_latest(tmp_path)["step"] == 4
    ck = load_latest(tmp_path)
    del ck["config"]["ema_warmup"]
    torch.save(ck, list_checkpoints(tmp_path)[-1])
    with pytest.raises(ValueError, match="ema_warmup"):
        run(tmp_path, tiny_images, steps=6, cfg=with_overrides(CFG, ema_warmup=True))


def test_progress_prints_one_status_line_per_status_point_and_a_bar_where_lines_redraw(capsys, monkeypatch):
    from semlib import progress

    monkeypatch.setenv("SEMLIB_PROGRESS_S", "3600")          # only the status points draw
    p = progress.bar(10, initial=2)                          # captured stdout: not a terminal, not a kernel
    for i in range(8):
        p.update(1)
        if i % 4 == 3:
            p.set_postfix_str(f"loss {i:.4f}", refresh=False)
            p.refresh()
    p.refresh()                                              # nothing new since the last point: no second line
    p.close()
    lines = capsys.readouterr().out.splitlines()
    assert [l.split(" |")[0] for l in lines] == ["[semlib] step 6/10", "[semlib] step 10/10"]
    assert "loss 7.0000" in lines[1] and "eta 0.0 min" in lines[1]
    monkeypatch.setattr(progress.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("SEMLIB_STUDY", "1")                  # the study runner keeps lines even in a terminal
    assert not progress._redrawable()
    monkeypatch.delenv("SEMLIB_STUDY")
    assert progress._redrawable()
    monkeypatch.setattr(progress, "_redrawable", lambda: True)   # a terminal or JupyterLab: one line, redrawn
    p = progress.bar(10)
    p.update(5)
    p.set_postfix_str("loss 1.0", refresh=False)
    p.refresh()
    p.close()
    out = capsys.readouterr().out
    assert "\r" in out and " 50%|" in out and "loss 1.0" in out and "5/10" in out
    monkeypatch.setenv("SEMLIB_PROGRESS", "off")
    for redraw in (True, False):
        monkeypatch.setattr(progress, "_redrawable", lambda: redraw)
        p = progress.bar(4)
        p.update(4)
        p.refresh()
        p.close()
    assert capsys.readouterr().out == ""
