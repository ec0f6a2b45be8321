"""Results on disk: item folders, meta.json, figures and paper-vs-ours tables.

Every artefact of an item lives in results/<scale>/<item-id>/; `meta.json` says which commit,
scale, seed, device and feature extractor produced the numbers beside it.
"""
from __future__ import annotations

import csv
import datetime as _dt
import json
import math
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def results_root() -> Path:
    """Where results are written and read.  The study runner (`./run_all.sh`, `python -m semlib.study`, which
    set SEMLIB_STUDY=1) writes the committed tree `results/`; a notebook run by hand (JupyterLab, papermill)
    writes `scratch/results/` (git-ignored), so it never overwrites a committed result.  SEMLIB_RESULTS
    overrides both (e.g. SEMLIB_RESULTS=results to read the committed results from a notebook)."""
    if "SEMLIB_RESULTS" in os.environ:
        return Path(os.environ["SEMLIB_RESULTS"])
    return ROOT / "results" if os.environ.get("SEMLIB_STUDY") == "1" else ROOT / "scratch" / "results"


def runs_root() -> Path:
    """Where checkpoints and logs live (not committed). SEMLIB_RUNS overrides it."""
    return Path(os.environ.get("SEMLIB_RUNS", ROOT / "runs"))


def item_dir(scale: str, item: str) -> Path:
    run_commit()   # pin the commit now, at the start of the run
    d = results_root() / scale / item
    d.mkdir(parents=True, exist_ok=True)
    return d


def run_dir(scale: str, item: str) -> Path:
    return runs_root() / scale / item


def kept_weights(scale: str, item: str) -> Path | None:
    """The kept weights of a finished run (results/<scale>/<item>/weights.pt, written by `python -m semlib.study
    keep`), looked up in the results tree in use and then in the committed one; None when neither has them."""
    from .checkpoint import KEPT_NAME
    for root in dict.fromkeys((results_root(), ROOT / "results")):
        p = root / scale / item / KEPT_NAME
        if p.is_file():
            return p
    return None


def trained_run_dir(scale: str, item: str) -> Path:
    """run_dir of a model that other items build on: a folder without a checkpoint is first seeded from the item's
    kept weights when the repository has them (a fresh clone then loads the committed model instead of training it
    again; `--force` on the item itself sets its result, and so its weights, aside and retrains)."""
    from .checkpoint import restore_kept
    d = run_dir(scale, item)
    kept = kept_weights(scale, item)
    if kept is not None and restore_kept(d, kept):
        print(f"[semlib] {shown(d)}: restored the kept weights {shown(kept)}", flush=True)
    return d


def shown(path: str | os.PathLike) -> str:
    """A path as a notebook prints it: relative to the repository root when it lies inside it (executed
    notebooks then carry no machine's absolute paths)."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(ROOT.resolve()))
    except ValueError:
        return str(p)


def git_commit() -> str:
    """The commit of the code that runs (with '-dirty' when tracked files differ from it)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "semlib",
                                "notebooks"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        return (sha or "unknown") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


_COMMIT_AT_IMPORT: str | None = None


def run_commit() -> str:
    """The commit of the code this process imported (taken at the first call, which notebooks make
    in their first cell), so later commits during a long run do not relabel its results."""
    global _COMMIT_AT_IMPORT
    if _COMMIT_AT_IMPORT is None:
        _COMMIT_AT_IMPORT = git_commit()
    return _COMMIT_AT_IMPORT


# the instruction sets that decide CPU timings here, best first (bf16 autocast is native only with the first two;
# without them it is emulated: 5-30x slower than float32 on the AVX2 machine of results/cpu/BENCH)
_ISA = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """The CPU model and the instruction sets of _ISA that a /proc/cpuinfo text lists (its first processor)."""
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return {"cpu_model": model, "isa": [f for f in _ISA if f in flags]}


def host_info() -> dict[str, Any]:
    """What the CPU timings of a result depend on: model, instruction sets, cores (recorded in every meta.json, since
    two sessions' machines can differ: a bf16 speed-up on an AVX512-BF16 CPU is a slow-down on an AVX2 one)."""
    try:
        info = parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:                          # not Linux
        info = {"cpu_model": None, "isa": []}
    info["cpu_model"] = info["cpu_model"] or platform.processor() or platform.machine()
    info["cpu_count"] = os.cpu_count()
    return info


def device_name(device: torch.device | str) -> str:
    """The device in words: the GPU's name, or the CPU's model, its best instruction set of _ISA and torch's threads."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    h = host_info()
    isa = f", {h['isa'][0]}" if h["isa"] else ""
    return f"cpu ({h['cpu_model']}{isa}, {torch.get_num_threads()} threads)"


def metric_sources() -> dict[str, str]:
    """Which code computes each metric (kept libraries with their versions, or semlib's own and why)."""
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg):
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "not installed"
    return {"FID": f"clean-fid {v('clean-fid')} frechet_distance on the named network's features",
            "precision_recall": "semlib.metrics.prdc (k-NN manifolds, k = 3, batched; tested equal to prdc "
                                f"{v('prdc')}, which needs dense N x N distances)",
            "PPL": "semlib.metrics.perceptual (perceptual distance on the named network's feature maps)",
            "SSIM": f"torchmetrics {v('torchmetrics')} structural_similarity_index_measure (Gaussian 11, sigma 1.5)",
            "LPIPS": "semlib.metrics.perceptual on the named network (LPIPS_<net>), unless real LPIPS weights are given"}


def make_meta(*, scale: str, item: str, seed: int, device, extractor: dict | None, config: dict | None = None,
              durations: dict | None = None, **extra) -> dict[str, Any]:
    from . import __version__
    return {"item": item, "scale": scale, "seed": seed, "commit": run_commit(), "semlib": __version__,
            "torch": torch.__version__, "device": device_name(device), "host": host_info(), "feature_extractor": extractor,
            "metric_sources": metric_sources(), "config": config, "durations_s": durations or {},
            "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **extra}


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")
    os.replace(tmp, path)


def write_item(out: Path, metrics: dict[str, Any], meta: dict[str, Any]) -> None:
    """metrics.json then meta.json (meta last: its presence marks the item finished)."""
    write_json(out / "metrics.json", metrics)
    write_json(out / "meta.json", {**meta, "finished": True})


# ------------------------------------------------------------------------- figures
def image_grid(images: torch.Tensor, nrow: int = 8, pad: int = 1) -> np.ndarray:
    """(N,C,H,W) in [-1,1] -> (H', W', 3) uint8 grid."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    grid = torch.full((3, nrows * (h + pad) + pad, ncol * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, q = divmod(i, ncol)
        grid[:, pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = x[i]
    return grid.permute(1, 2, 0).numpy()


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8, upscale: int = 2) -> np.ndarray:
    """Save a PNG grid (nearest upscaled for legibility) and return the array (tests check it)."""
    from PIL import Image
    arr = image_grid(images, nrow)
    img = Image.fromarray(arr)
    if upscale > 1:
        img = img.resize((arr.shape[1] * upscale, arr.shape[0] * upscale), Image.NEAREST)
    img.save(path)
    return arr


D_CHANCE = {"nonsaturating": (2 * math.log(2), "2 ln 2"), "hinge": (2.0, "2 (hinge)")}


def plot_training_curves(log: list[dict], path: Path, keys: Iterable[str] | None = None,
                         hlines: dict[str, float] | None = None, d_loss: str = "nonsaturating"):
    """One panel per logged loss against step (`hlines`: a dotted reference line per key, e.g. a learning
    bar); `loss_d` gets the value of a discriminator at chance (logit 0 everywhere) for its loss, `d_loss`:
    2 ln 2 for the non-saturating loss (DDGAN's), 2 for the hinge loss (the autoencoders' patch-GAN).
    Returns the figure."""
    if d_loss not in D_CHANCE:
        raise ValueError(f"d_loss must be one of {sorted(D_CHANCE)}, got {d_loss!r}")
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    keys = list(keys or [k for k in (log[0] if log else {}) if isinstance(log[0][k], (int, float))
                         and k not in ("step", "it_per_s", "elapsed_s")])
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(3.2 * max(1, len(keys)), 2.6), squeeze=False)
    steps = [r["step"] for r in log]
    for ax, k in zip(axes[0], keys):
        ax.plot(steps, [r.get(k, float("nan")) for r in log], lw=1.2)
        if k == "loss_d":   # a discriminator at chance (logit 0 everywhere)
            level, label = D_CHANCE[d_loss]
            ax.axhline(level, color="k", ls=":", lw=1, label=label)
            ax.legend(fontsize=7)
        if hlines and k in hlines:
            ax.axhline(hlines[k], color="k", ls=":", lw=1, label=f"bar {hlines[k]:g}")
            ax.legend(fontsize=7)
        ax.set_title(k)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig


# ------------------------------------------------------------------------- paper numbers
def paper_numbers(item: str | None = None) -> list[dict[str, str]]:
    """Rows of study/paper_numbers.csv (the papers' reported values), optionally for one item."""
    with (ROOT / "study" / "paper_numbers.csv").open() as f:
        rows = list(csv.DictReader(f))
    return [r for r in rows if item is None or r["item"] == item]


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:.4g}" if isinstance(x, (int, float)) else str(x)


def comparison_table(rows: list[tuple[str, float | None, float | None, bool]]) -> str:
    """Markdown `metric | paper | ours | delta`; rows are (name, paper, ours, comparable).

    delta is printed only for comparable rows (same quantity, same protocol); the metric name
    says what each side measured.
    """
    lines = ["| metric | paper | ours | delta |", "|---|---|---|---|"]
    for name, p, o, comparable in rows:
        ok = comparable and isinstance(p, (int, float)) and isinstance(o, (int, float))
        lines.append(f"| {name} | {_fmt(p)} | {_fmt(o)} | {f'{o - p:+.4g}' if ok else 'not comparable'} |")
    return "\n".join(lines) + "\n"


def write_table_csv(rows: list[tuple[str, float | None, float | None, bool]], path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "paper", "ours", "comparable"])
        for name, p, o, comparable in rows:
            w.writerow([name, "" if p is None else p, "" if o is None else o, comparable])
