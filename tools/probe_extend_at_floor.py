"""Does a finished DDGAN run keep improving past the end of its schedule (issue 7)?  Continue it at its floor rate.

    .venv/bin/python tools/probe_extend_at_floor.py runs/cpu/DDGAN-BASE-synthfaces-dwide-r1 runs/probe/dwide-r1-floor 1500 [minutes]

Copies the run's last checkpoint and logs into a new folder, then trains N more iterations there with the learning
rate held at the run's lr_min (the cosine keeps the original run's horizon, `lr_horizon` of `semlib.train`), and logs
the learning curve of ddgan.ipynb (EMA generator, min(n_eval, 500) samples, one seed, every eval_every iterations)
into the new folder's eval.jsonl.  The optional time budget (minutes) checkpoints and stops; a rerun resumes.
A diagnostic for the findings, not a result: the original folder is only read, nothing is written to results/.
"""
import shutil
import sys
from pathlib import Path

import torch

from semlib import DDGAN, load_dataset
from semlib.checkpoint import list_checkpoints
from semlib.config import DDGANConfig
from semlib.evaluation import learning_curve_fn, reference_sets
from semlib.metrics import get_extractor
from semlib.train import fit, read_log, set_threads


def main(src: str, dst: str, extra: int, minutes: float | None = None) -> None:
    src_dir, dst_dir = Path(src), Path(dst)
    if not list_checkpoints(dst_dir):
        last = list_checkpoints(src_dir)
        if not last:
            raise SystemExit(f"{src_dir} holds no checkpoint to continue")
        dst_dir.mkdir(parents=True, exist_ok=True)
        for f in (last[-1], src_dir / "log.jsonl", src_dir / "eval.jsonl", src_dir / "config.json"):
            if f.exists():
                shutil.copy2(f, dst_dir / f.name)
    ck = torch.load(list_checkpoints(dst_dir)[0], map_location="cpu", weights_only=False)
    cfg = DDGANConfig.from_dict(ck["config"])
    horizon = cfg.steps
    set_threads(cfg.threads)
    train_ds = load_dataset(cfg.dataset, resolution=cfg.resolution, split="train")
    test_ds = load_dataset(cfg.dataset, resolution=cfg.resolution, split="test")
    ddgan = DDGAN(cfg, in_ch=train_ds.channels)
    n = cfg.n_eval                       # the notebook's reference set, floor and noise, and its curve protocol
    ref, floor, noise = reference_sets(train_ds, test_ds, n)
    extractor = get_extractor(cfg.dataset, resolution=cfg.resolution, device="cpu")
    curve_fn = learning_curve_fn(lambda k, g: ddgan.sample(k, generator=g, device="cpu"), ref, extractor,
                                 n=min(n, 500), real_floor=floor, noise=noise)
    kw = {"time_budget_s": minutes * 60.0} if minutes else {}
    fit(ddgan, train_ds, dst_dir, device=torch.device("cpu"), steps=horizon + extra, lr_horizon=horizon,
        eval_fn=curve_fn, eval_every=cfg.eval_every or 250, **kw)
    ex = extractor.name
    for r in read_log(dst_dir, "eval"):
        print(f"step {r['step']}: gap closed {r['gap_closed']:.3f}, recall {r[f'recall_{ex}']:.3f}, "
              f"precision {r[f'precision_{ex}']:.3f}, FID_{ex} {r[f'FID_{ex}']:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *(float(a) for a in sys.argv[4:5]))
