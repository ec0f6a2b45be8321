"""The one training loop of the study.

A *method* (DDGAN, PDDGAN, ...) owns its networks, optimisers and the maths of one training
iteration; this loop owns everything else: data order, per-step randomness, DDP, learning-rate
decay, EMA, logging, NaN detection, atomic checkpoints and resumption.

Resumption is exact: data order is a function of (seed, epoch), every iteration draws its noise
from a generator seeded by (seed, step, rank), and checkpoints hold nets, EMA, optimisers,
global RNG states, step and config (the learning rate is a function of step and steps).  On CPU with the same thread count, a run killed
and rerun ends with the same weights as an uninterrupted one (tests/test_train.py).
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from . import __version__
from . import progress
from .checkpoint import latest_step, list_checkpoints, load_latest, rng_state, save_checkpoint, set_rng_state
from .ema import ema_update


class TimeBudgetReached(RuntimeError):
    """A training call stopped cleanly after its time budget, with a checkpoint: rerun to resume."""


class RunFolderBusy(RuntimeError):
    """Another process is training into the same run folder."""


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike, wait_if: Callable[[], bool] | None = None):
    """Exclusive lock on a run folder for as long as one process trains into it (an flock on
    `<run_dir>/.lock`, released when the process ends, also when it is killed).  A second run on the
    same folder gets one RunFolderBusy error instead of interleaved checkpoints and log lines, unless
    `wait_if()` says the wait is short (train(): the folder holds a finished run, so its holder only loads
    it); then the second waits for the lock."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    f = open(run_dir / ".lock", "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if wait_if is None or not wait_if():
            f.close()
            raise RunFolderBusy(f"{run_dir} is in use by another training process (lock file {run_dir / '.lock'}): "
                                f"wait for it to finish or train into another run folder") from None
        print(f"[semlib] {run_dir} holds a finished run that another process is loading: waiting for it", flush=True)
        fcntl.flock(f, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


class TrainingDiverged(RuntimeError):
    """A loss or weight became NaN/inf; the last good checkpoint is kept untouched."""


class Method(Protocol):
    config: Any                                    # a frozen dataclass (has to_dict())

    def networks(self) -> dict[str, nn.Module]: ...        # everything saved, EMA included
    def trainable(self) -> dict[str, nn.Module]: ...       # nets that get DDP and optimisers
    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...
    def ema_pairs(self) -> dict[str, str]: ...              # ema net name -> source net name
    def training_step(self, x0: torch.Tensor, y: torch.Tensor, step: int, generator: torch.Generator,
                      nets: dict[str, nn.Module]) -> dict[str, torch.Tensor]: ...


@dataclass
class TrainResult:
    run_dir: Path
    step: int                 # last completed step
    resumed_from: int         # step the run resumed from (0 = fresh)
    wall_s: float             # time spent in this call
    log_path: Path


def dist_info() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's environment, (0, 0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def default_device() -> torch.device:
    _, local_rank, _ = dist_info()
    return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")


def _step_generator(device: torch.device, seed: int, step: int, rank: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + step) * 64 + rank)
    return g


def _batch_indices(n: int, batch_size: int, step: int, seed: int, rank: int, world: int) -> torch.Tensor:
    """Indices of this rank's share of the global batch of `step` (epochs reshuffle by (seed, epoch))."""
    per_epoch = n // batch_size
    if per_epoch == 0:
        raise ValueError(f"the dataset has {n} images, fewer than one batch of {batch_size}")
    epoch, j = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
    idx = perm[j * batch_size:(j + 1) * batch_size]
    b = batch_size // world
    return idx[rank * b:(rank + 1) * b]


def cosine_lr(step: int, steps: int, base: float, lr_min: float) -> float:
    """Learning rate of iteration `step` (0-based) in a run of `steps`: cosine from base towards lr_min.

    A pure function of (step, steps), like PDDGAN's P(t): a run extended to more steps follows the
    longer run's schedule from the step it resumes at, and nothing of the schedule is checkpointed.
    """
    return lr_min + (base - lr_min) * 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / max(1, steps)))


def _all_finite(module: nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in module.parameters())


def train(method: Method, dataset, run_dir: str | os.PathLike, **kw) -> TrainResult:
    """Train `method` on `dataset` into `run_dir` (resuming from its last checkpoint); the keywords are those
    of `_train` below.  The main process holds the run folder's lock for the whole call.  Two notebooks that
    load the same finished run (a trained base they both evaluate) take turns: the second waits the seconds
    the first needs to load it; a folder that is still training refuses the second process."""
    rank = dist_info()[0]
    steps = kw.get("steps")

    def finished() -> bool:
        last = latest_step(run_dir)
        return steps is not None and last is not None and last >= steps

    with (run_lock(run_dir, wait_if=finished) if rank == 0 else contextlib.nullcontext()):
        return _train(method, dataset, run_dir, **kw)


def _train(method: Method, dataset, run_dir: str | os.PathLike, *,
          steps: int,                       # total iterations the run should reach
          batch_size: int,                  # global batch (divided by the number of processes)
          seed: int = 0,                    # data order and per-step noise
          lr_decay: bool = True,            # cosine decay of every optimiser towards lr_min over `steps`
          lr_min: float = 1e-5,             # floor of the cosine decay
          lr_horizon: int | None = None,    # iterations the cosine spans (default: steps); past it the rate stays
                                            # at lr_min (a finished run continued at its floor rate)
          ema_decay: float = 0.9999,        # decay of every EMA pair of the method
          ema_warmup: bool = False,         # decay min(ema_decay, (1 + step) / (10 + step)): short runs do not
                                            # keep a share of the initial weights in their EMA
          log_every: int = 50,              # status line + JSON log line every N steps
          ckpt_every: int = 500,            # checkpoint every N steps (and at the end)
          keep_ckpts: int = 2,              # checkpoints kept on disk
          device: torch.device | None = None,  # default: cuda:LOCAL_RANK if available, else cpu
          stop_after: int | None = None,    # leave after N steps of this call WITHOUT saving (tests a kill)
          time_budget_s: float | None = None,  # checkpoint and raise TimeBudgetReached after this many
                                               # seconds of this call (chunked runs, preemptible machines)
          eval_fn: Callable[[int], dict[str, float]] | None = None,  # learning curve: metrics of the
          eval_every: int = 0,              # current model every N steps, one line each in eval.jsonl
          ) -> TrainResult:
    run_dir = Path(run_dir)
    rank, local_rank, world = dist_info()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} is not divisible by the {world} processes")
    device = device or default_device()
    is_main = rank == 0
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)

    nets = method.networks()
    for m in nets.values():
        m.to(device)
    opts = method.optimizers()
    for o in opts.values():           # the configured learning rate; survives optimiser state reloads
        for group in o.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def set_lr(step: int) -> None:
        for o in opts.values():
            for group in o.param_groups:
                group["lr"] = (cosine_lr(step, lr_horizon or steps, group["initial_lr"], lr_min) if lr_decay
                               else group["initial_lr"])

    # ---- resume
    start, elapsed0 = 0, 0.0     # elapsed0: training time spent before this call (from the checkpoint)
    ckpt = load_latest(run_dir, map_location=device)
    if ckpt is not None:
        _check_resumable(ckpt.get("config"), method.config, run_dir)
        start = int(ckpt["step"])
        if "opts" not in ckpt and start < steps:   # kept weights (checkpoint.keep_weights): a finished run only
            raise ValueError(f"{run_dir} holds kept weights of step {start} (restored from "
                             f"{ckpt.get('kept', {}).get('from', 'a kept file')}): no optimiser state, so it cannot be "
                             f"extended to {steps} steps; delete the folder to retrain from scratch")
        for k, m in nets.items():
            m.load_state_dict(ckpt["nets"][k])
        if "opts" in ckpt:
            for k, o in opts.items():
                o.load_state_dict(ckpt["opts"][k])
            set_rng_state(ckpt["rng"])
        elapsed0 = float(ckpt.get("elapsed_s", 0.0))
        if is_main:
            print(f"[semlib] resuming {run_dir} from step {start}", flush=True)
    log_path, eval_path = run_dir / "log.jsonl", run_dir / "eval.jsonl"
    if is_main:  # drop log lines written after the checkpoint we resume from
        for path in (log_path, eval_path):
            kept = []
            if path.exists():
                kept = [l for l in path.read_text().splitlines() if l.strip() and json.loads(l)["step"] <= start]
            if kept or path is log_path:
                path.write_text("".join(l + "\n" for l in kept))
            elif path.exists():
                path.unlink()
        (run_dir / "config.json").write_text(method.config.to_json())

    train_nets = {k: (DDP(m, device_ids=[device.index] if device.type == "cuda" else None)
                      if world > 1 else m) for k, m in method.trainable().items()}

    from .report import run_commit
    commit = run_commit()      # the code that trained it (kept weights say it: checkpoint.keep_weights)

    def state(step: int) -> dict[str, Any]:
        return {"nets": {k: m.state_dict() for k, m in nets.items()},
                "opts": {k: o.state_dict() for k, o in opts.items()},
                "rng": rng_state(), "step": step, "config": method.config.to_dict(),
                "elapsed_s": elapsed0 + time.time() - t0,
                "version": __version__, "commit": commit}

    def checkpoint(step: int) -> None:
        if is_main:
            for k, m in nets.items():
                if not _all_finite(m):
                    raise TrainingDiverged(f"weights of {k!r} are not finite at step {step}; "
                                           f"not saving. Last good checkpoint: {_last(run_dir)}")
            save_checkpoint(run_dir, step, state(step), keep=keep_ckpts)
        if world > 1:
            dist.barrier()

    t0, t_log = time.time(), time.time()
    pbar = progress.bar(steps, initial=start) if is_main and steps > start else None
    acc: dict[str, float] = {}     # loss sums since the last log line
    cnt: dict[str, int] = {}       # how many steps reported each loss (R1 is lazy)
    n_acc = 0
    step = start
    try:
        for step in range(start, steps):
            if stop_after is not None and step - start >= stop_after:
                return TrainResult(run_dir, step, start, time.time() - t0, log_path)
            idx = _batch_indices(len(dataset), batch_size, step, seed, rank, world)
            x0, y = dataset.get_batch(idx)
            x0, y = x0.to(device, non_blocking=True), y.to(device, non_blocking=True)
            for m in train_nets.values():
                m.train()
            set_lr(step)
            losses = method.training_step(x0, y, step, _step_generator(device, seed, step, rank), train_nets)
            vals = torch.stack([v.detach().float() for v in losses.values()])
            if not torch.isfinite(vals).all():
                bad = {k: float(v) for k, v in losses.items()}
                raise TrainingDiverged(f"non-finite loss at step {step + 1}: {bad}. Nothing was saved after it; "
                                       f"last good checkpoint: {_last(run_dir)}. Lower the learning rates, "
                                       f"raise r1_gamma or set grad_clip, then rerun to resume from it.")
            decay = min(ema_decay, (1.0 + step) / (10.0 + step)) if ema_warmup else ema_decay
            for ema_name, src in method.ema_pairs().items():
                ema_update(nets[ema_name], nets[src], decay)
            for k, v in zip(losses, vals.tolist()):
                acc[k] = acc.get(k, 0.0) + v
                cnt[k] = cnt.get(k, 0) + 1
            n_acc += 1
            done = step + 1
            if pbar is not None:
                pbar.update(1)
            if done % log_every == 0 or done == steps:
                mean = {k: acc[k] / cnt[k] for k in acc}
                if world > 1:
                    t = torch.tensor(list(mean.values()), device=device)
                    dist.all_reduce(t)
                    mean = dict(zip(mean, (t / world).tolist()))
                now = time.time()
                rec = {"step": done, **mean,
                       "lr": {k: o.param_groups[0]["lr"] for k, o in opts.items()},
                       "it_per_s": n_acc / max(now - t_log, 1e-9), "elapsed_s": elapsed0 + now - t0}
                if is_main:
                    with log_path.open("a") as f:
                        f.write(json.dumps(rec) + "\n")
                    if pbar is not None:         # a status point: the losses since the last one, drawn now
                        pbar.set_postfix_str(" ".join(f"{k} {v:.4f}" for k, v in mean.items()), refresh=False)
                        pbar.refresh()
                acc, cnt, n_acc, t_log = {}, {}, 0, now
            if eval_fn is not None and eval_every and (done % eval_every == 0 or done == steps):
                t_eval = time.time()
                if is_main:
                    rng = rng_state()            # the curve must not change the training's random streams
                    metrics = eval_fn(done)
                    set_rng_state(rng)
                    with eval_path.open("a") as f:
                        f.write(json.dumps({"step": done, **metrics, "eval_s": time.time() - t_eval}) + "\n")
                if world > 1:
                    dist.barrier()
                t_log += time.time() - t_eval    # it/s counts training only
            if done % ckpt_every == 0 or done == steps:
                checkpoint(done)
            if time_budget_s is not None and done < steps and _out_of_time(t0, time_budget_s, device, world):
                if done % ckpt_every:
                    checkpoint(done)
                raise TimeBudgetReached(f"stopped at step {done} of {steps} after the time budget of "
                                        f"{time_budget_s / 60:.1f} min; checkpoint saved in {run_dir}: rerun to resume")
    finally:
        if pbar is not None:
            pbar.close()
    return TrainResult(run_dir, max(step + 1, start) if steps > start else start, start,
                       time.time() - t0, log_path)


# fields that may differ between a checkpoint and the run that resumes it (run length and bookkeeping)
# (and the autoencoder's path: its fingerprint, autoencoder_sha, is what must not change)
RESUMABLE_CHANGES = frozenset({"steps", "log_every", "ckpt_every", "keep_ckpts", "n_eval", "eval_every", "autoencoder"})


def _out_of_time(t0: float, budget_s: float, device: torch.device, world: int) -> bool:
    """Whether this call has used its time budget; under DDP rank 0's clock decides for every rank."""
    out = time.time() - t0 >= budget_s
    if world > 1:
        flag = torch.tensor([float(out)], device=device)
        dist.broadcast(flag, 0)
        out = bool(flag.item())
    return out


def _check_resumable(saved: dict | None, config: Any, run_dir: Path) -> None:
    """Refuse to resume a checkpoint written under another config (other data, architecture, losses...)."""
    if saved is None or not hasattr(config, "to_dict"):
        return
    norm = lambda d: json.loads(json.dumps(d, default=str))  # noqa: E731  (tuples vs lists)
    saved, now = norm(saved), norm(config.to_dict())
    # a field added to the config after the checkpoint was written is no change when it holds its default
    # (defaults keep the earlier behaviour)
    defaults = norm(type(config)().to_dict()) if dataclasses.is_dataclass(config) else {}
    diff = sorted(k for k in set(saved) | set(now)
                  if k not in RESUMABLE_CHANGES and saved.get(k, "<absent>") != now.get(k, "<absent>")
                  and not (k not in saved and k in defaults and now.get(k) == defaults[k]))
    if diff:
        shown = ", ".join(f"{k}: {saved.get(k, '<absent>')!r} -> {now.get(k, '<absent>')!r}" for k in diff[:6])
        raise ValueError(f"{run_dir} holds a checkpoint of another config ({shown}{', ...' if len(diff) > 6 else ''}); "
                         f"use a new run folder, or delete this one to start over")


def _last(run_dir: Path) -> str:
    c = list_checkpoints(run_dir)
    return str(c[-1]) if c else "none (the run had not saved one yet)"


def fit(method: Method, dataset, run_dir: str | os.PathLike, **kw) -> TrainResult:
    """`train` with steps, batch size, seed, LR decay, EMA and checkpointing taken from method.config.
    The environment variable SEMLIB_TIME_BUDGET_MIN (set by `run_all.sh --time-budget`) gives every
    call a time budget unless time_budget_s is passed."""
    c = method.config
    budget = os.environ.get("SEMLIB_TIME_BUDGET_MIN")
    if budget and "time_budget_s" not in kw:
        kw["time_budget_s"] = float(budget) * 60.0
    args = dict(steps=c.steps, batch_size=c.batch_size, seed=c.seed, lr_decay=c.lr_decay, lr_min=c.lr_min,
                ema_decay=c.ema_decay, ema_warmup=getattr(c, "ema_warmup", False), log_every=c.log_every,
                ckpt_every=c.ckpt_every, keep_ckpts=c.keep_ckpts,
                eval_every=getattr(c, "eval_every", None) or 0)
    return train(method, dataset, run_dir, **{**args, **kw})


def read_log(run_dir: str | os.PathLike, name: str = "log") -> list[dict[str, Any]]:
    """The JSON-lines training log of a run (`name="eval"`: its learning curve, when one was recorded)."""
    p = Path(run_dir) / f"{name}.jsonl"
    return [json.loads(l) for l in p.read_text().splitlines() if l.strip()] if p.exists() else []


def set_threads(n: int | None) -> None:
    """Pin torch's CPU threads (bit-exact resumption on CPU needs the same count)."""
    if n:
        torch.set_num_threads(int(n))
