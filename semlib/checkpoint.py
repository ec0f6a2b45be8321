"""Atomic checkpoints: a dict of state_dicts plus step, RNG states, config and package version."""
from __future__ import annotations

import hashlib
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

_PAT = re.compile(r"^ckpt-(\d{8})\.pt$")


def sha256_weights(state_dict: dict, *extra: bytes) -> str:
    """A fingerprint of a network's weights alone: SHA-256 over every tensor's name and bytes in key order, then
    `extra` (e.g. an autoencoder's scale factor).  Two files of the same weights agree here even when their other
    contents differ (a cached feature network's file also stores its training time)."""
    h = hashlib.sha256()
    for k, v in sorted(state_dict.items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    for e in extra:
        h.update(e)
    return h.hexdigest()


def rng_state() -> dict[str, Any]:
    """Global RNG states (torch CPU, CUDA, numpy, python) as tensors/lists loadable with weights_only."""
    st: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    np_state = np.random.get_state()
    st["numpy"] = [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]
    py = random.getstate()
    st["python"] = [py[0], list(py[1]), py[2]]
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])
    if "numpy" in st:
        a = st["numpy"]
        np.random.set_state((a[0], a[1].numpy().astype(np.uint32), *a[2:]))
    if "python" in st:
        p = st["python"]
        random.setstate((p[0], tuple(p[1]), p[2]))


def save_checkpoint(run_dir: str | os.PathLike, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write run_dir/ckpt-<step>.pt atomically (temp file then os.replace); keep the newest `keep`."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"ckpt-{step:08d}.pt"
    _save_atomic(state, path)
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return path


def _save_atomic(obj: Any, path: Path) -> None:
    """torch.save to a temp file beside `path`, then os.replace: a reader never sees a half-written file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted((p for p in run_dir.iterdir() if _PAT.match(p.name)), key=_step)


def _step(path: Path) -> int:
    return int(_PAT.match(path.name)[1])


def latest_step(run_dir: str | os.PathLike) -> int | None:
    """The step of run_dir's newest checkpoint, read from its file name (None if there is none)."""
    ckpts = list_checkpoints(run_dir)
    return _step(ckpts[-1]) if ckpts else None


def load_latest(run_dir: str | os.PathLike, map_location="cpu") -> dict[str, Any] | None:
    """The newest checkpoint in run_dir (None if there is none), loaded with weights_only=True."""
    ckpts = list_checkpoints(run_dir)
    if not ckpts:
        return None
    return torch.load(ckpts[-1], map_location=map_location, weights_only=True)


# ------------------------------------------------------------------ kept weights (committed beside a result)
KEPT_NAME = "weights.pt"
_KEPT_LOGS = ("log.jsonl", "eval.jsonl", "config.json")


def keep_weights(run_dir: str | os.PathLike, dest: str | os.PathLike, *, commit: str | None = None,
                 steps: int | None = None) -> dict[str, Any]:
    """Write the final weights of a finished run to `dest` (atomically), small enough to commit beside its result:
    the newest checkpoint without optimiser and RNG states, and of each EMA pair (`X_ema` beside `X`) only the EMA
    copy, which every sampler and downstream method reads.  The run's logs and its other `.pt` files (an
    autoencoder's autoencoder.pt) travel with it.  With `steps`, a run
    that has not reached it is refused.  `commit`, when given, names the code that trained the run; else the commit
    its checkpoint records (the training loop writes it) is used.  Returns the file's description (step, commit, per-network
    SHA-256)."""
    run_dir = Path(run_dir)
    ckpt = load_latest(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir}: nothing to keep")
    if steps is not None and int(ckpt["step"]) < steps:
        raise ValueError(f"{run_dir} stopped at step {ckpt['step']} of {steps}: keep the weights of finished runs only")
    nets = dict(ckpt["nets"])
    ema_of = {k[:-4]: k for k in nets if k.endswith("_ema") and k[:-4] in nets}
    for src in ema_of:
        del nets[src]
    info = {"step": int(ckpt["step"]), "commit": commit or ckpt.get("commit"), "elapsed_s": float(ckpt.get("elapsed_s", 0.0)),
            "version": ckpt.get("version"), "ema_only": sorted(ema_of),
            "sha256": {k: sha256_weights(v) for k, v in sorted(nets.items())}}
    kept = {"nets": nets, "ema_of": ema_of, "step": int(ckpt["step"]), "config": ckpt.get("config"),
            "elapsed_s": info["elapsed_s"], "version": ckpt.get("version"), "kept": info,
            "logs": {n: (run_dir / n).read_text() for n in _KEPT_LOGS if (run_dir / n).exists()},
            # other files of the run that its users load (an autoencoder's autoencoder.pt), byte for byte
            "files": {f.name: torch.frombuffer(bytearray(f.read_bytes()), dtype=torch.uint8)
                      for f in sorted(run_dir.glob("*.pt")) if not _PAT.match(f.name)}}
    info["files"] = sorted(kept["files"])
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _save_atomic(kept, dest)
    return info


def restore_kept(run_dir: str | os.PathLike, kept_path: str | os.PathLike) -> bool:
    """Seed an empty run folder with kept weights (`keep_weights`): a checkpoint at the kept step whose raw networks
    are copies of their EMA, with no optimiser state (so the run counts as finished and cannot be extended), and the
    run's logs.  Does nothing and returns False when the folder already holds a checkpoint or nothing is kept."""
    run_dir, kept_path = Path(run_dir), Path(kept_path)
    if list_checkpoints(run_dir) or not kept_path.is_file():
        return False
    kept = torch.load(kept_path, map_location="cpu", weights_only=True)
    nets = dict(kept["nets"])
    for src, ema in kept.get("ema_of", {}).items():
        nets[src] = {k: v.clone() for k, v in nets[ema].items()}
    state = {"nets": nets, "step": int(kept["step"]), "config": kept.get("config"),
             "elapsed_s": float(kept.get("elapsed_s", 0.0)), "version": kept.get("version"),
             "kept": {**kept.get("kept", {}), "from": str(kept_path)}}
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, text in kept.get("logs", {}).items():
        (run_dir / name).write_text(text)
    for name, data in kept.get("files", {}).items():
        (run_dir / name).write_bytes(data.numpy().tobytes())
    save_checkpoint(run_dir, int(kept["step"]), state)
    return True
