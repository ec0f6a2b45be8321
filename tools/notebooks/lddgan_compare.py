"""Generates notebooks/lddgan_compare.ipynb (LDDGAN-T3 and LDDGAN-F3)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbgen import write  # noqa: E402

MD0 = r'''
# LDDGAN, WDDGAN, DDGAN and DDPM / DDIM side by side (LDDGAN-T3) and the FID-time trade-off (LDDGAN-F3)

LDDGAN (seed 004, Table 3) reports on CIFAR-10: LDDGAN FID 2.98, recall 0.58, 0.08 s per 100 images (its decoder
included); WDDGAN 4.01 / 0.55 / 0.08 s; DDGAN 3.75 / 0.57 / 0.21 s; DDPM 3.21 / 0.57 / 80.5 s (1000 steps); DDIM
4.67 / 0.53 / 4.01 s (50 steps); Figure 3 plots FID against sampling time. The claim: LDDGAN has the best FID and
recall of the DDGAN family and samples as fast as the fastest of them, far faster than many-step models.

This notebook takes the trained systems of this scale (the entries `DDGAN-BASE-<dataset>`,
`LDDGAN-T3-wddgan-<dataset>`, `LDDGAN-T3-lddgan-<dataset>` and `DDPM-BASE-<dataset>`; a missing one is trained
first) and, **in one process with one protocol**, measures the GAN systems' FID / precision / recall on the domain
network (`dom`, the same network and sample counts as their own notebooks) and times sampling of 100 images for every
system (warm-up, median of repeats; DDPM's 1000 steps are timed on `ddpm_n` images and scaled to 100, said so in the
table). The DDIM rows' FID and recall are read from the DDPM-BASE result (same network and protocol). Times are
comparable with each other, not with the paper's A100 seconds; FID_dom is an in-project network, not Inception.

**Criteria, fixed before any number is read** (`semlib.study.judge_lddgan_t3`). Learning bar: each of DDGAN, WDDGAN
and LDDGAN must pass DDGAN-BASE's bar (gap closed >= 0.7, recall >= 0.3); otherwise `inconclusive (model did not
learn)`. Then three checks: (quality) LDDGAN's FID_dom below DDGAN's and WDDGAN's by more than the spreads together;
(diversity) LDDGAN's recall not below either by more than 0.05; (speed) LDDGAN's time per 100 images at most 0.6 of
DDGAN's and at most 1.25 of WDDGAN's. All three: `reproduced`; one or two: `partly`; none: `not reproduced`.
'''

PARAMS = r'''
# Parameters (papermill injects overrides below this cell; the defaults are the smoke run)
from typing import Optional   # papermill reads Optional[...] annotations, not "X | None"
scale: str = "smoke"                       # the scale whose systems are read and timed
item_id: str = "LDDGAN-T3"                 # results/<scale>/<item_id>/
dataset: str = "synthfaces"
ddgan_entry: Optional[str] = None          # None: DDGAN-BASE-<dataset>
wddgan_entry: Optional[str] = None         # None: LDDGAN-T3-wddgan-<dataset>
lddgan_entry: Optional[str] = None         # None: LDDGAN-T3-lddgan-<dataset>
dpm_entry: Optional[str] = None            # None: DDPM-BASE-<dataset>
ddim_k: list = [10, 20, 50, 100]           # DDIM rows (their FID from the DDPM-BASE result, when it measured that K)
eval_seeds: list = [0, 1, 2]               # sampling seeds of the GAN systems' FID (as their notebooks)
n_time: int = 100                          # images per timed call (the paper's unit)
ddpm_n: int = 10                           # images per timed DDPM call (1000 steps), scaled to n_time
repeats: Optional[int] = None              # timed repeats (None: 2 at smoke, 5 otherwise)
threads: Optional[int] = None              # torch CPU threads (None: torch's default)
'''

SETUP = r'''
import json, time
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch
from IPython.display import Image, Markdown, display

from semlib import evaluation, load_dataset, recipes, report, study
from semlib.metrics import get_extractor
from semlib.metrics.cost import time_per_batch
from semlib.train import default_device, set_threads

set_threads(threads)
device = default_device()
smoke = scale == "smoke"
repeats = repeats or (2 if smoke else 5)
if smoke:
    eval_seeds, ddim_k, n_time, ddpm_n = eval_seeds[:2], [5], 16, 1
out = report.item_dir(scale, item_id)
entries = {"DDGAN": ddgan_entry or f"DDGAN-BASE-{dataset}", "WDDGAN": wddgan_entry or f"LDDGAN-T3-wddgan-{dataset}",
           "LDDGAN": lddgan_entry or f"LDDGAN-T3-lddgan-{dataset}"}
dpm_entry = dpm_entry or f"DDPM-BASE-{dataset}"
t0 = time.time()
models = {name: recipes.trained_ddgan(scale, e, device=device) for name, e in entries.items()}
dpm, dpm_step = recipes.dpm_base(scale, dpm_entry, dataset=dataset, device=device)
for name, (m, step) in models.items():
    print(f"{name}: {entries[name]} | {m.config.space} space {m.data_ch}x{m.data_res}x{m.data_res} | T = {m.nfe} | {step} steps")
print(f"DDPM / DDIM: {dpm_entry} | {dpm_step} steps")
'''

QUALITY = r'''
train_ds = load_dataset(dataset, resolution=32, split="train")
test_ds = load_dataset(dataset, resolution=32, split="test")
extractor = get_extractor(dataset, resolution=32, device=device, **({"steps": 30} if smoke else {}))
ex = extractor.name
n = next(iter(models.values()))[0].config.n_eval
ref, floor, noise = evaluation.reference_sets(train_ds, test_ds, n)
quality, fid_noise = evaluation.systems_quality({s: m for s, (m, _) in models.items()}, ref, extractor, n=n,
                                                seeds=eval_seeds, floor=floor, noise=noise, device=device)
dpm_metrics = report.results_root() / scale / dpm_entry / "metrics.json"
per_k = json.loads(dpm_metrics.read_text())["per_k"] if dpm_metrics.exists() else {}
for k in ddim_k:
    if str(k) in per_k:
        q = per_k[str(k)]
        quality[f"DDIM K={k}"] = {"FID": q[f"FID_{ex}"], "FID_std": q.get(f"FID_{ex}_std", float("nan")),
                                  "recall": q[f"recall_{ex}"], "precision": q[f"precision_{ex}"], "gap": float("nan"),
                                  "floor": q.get(f"FID_{ex}_real_floor", float("nan"))}
print(json.dumps({k: {a: round(b, 3) for a, b in v.items()} for k, v in quality.items()}, indent=1))
'''

TIMING = r'''
g = torch.Generator(device=device)
timers = {name: (lambda m=m: m.sample(n_time, generator=g.manual_seed(0), device=device)) for name, (m, _) in models.items()}
for k in ddim_k:
    timers[f"DDIM K={k}"] = lambda k=k: dpm.sample(n_time, k=k, generator=g.manual_seed(0), device=device)
timing = {name: time_per_batch(fn, device=device, warmup=1, repeats=repeats) for name, fn in timers.items()}
t_ddpm = time_per_batch(lambda: dpm.sample(ddpm_n, sampler="ddpm", generator=g.manual_seed(0), device=device),
                        device=device, warmup=0, repeats=1)
timing["DDPM (1000 steps)"] = {"median_s": t_ddpm["median_s"] * n_time / ddpm_n, "std_s": float("nan"), "scaled_from": ddpm_n}
nfe = {**{name: m.nfe for name, (m, _) in models.items()}, **{f"DDIM K={k}": k for k in ddim_k}, "DDPM (1000 steps)": dpm.config.num_timesteps}
eval_seconds = time.time() - t0
'''

TABLE = r'''
paper = {}
for r in report.paper_numbers("LDDGAN-T3"):
    paper.setdefault(r["system"], {})[r["metric"]] = float(r["value"])
paper_name = lambda s: "DDIM" if s.startswith("DDIM") else "DDPM" if s.startswith("DDPM") else s   # noqa: E731
pv = lambda s, k: f"{paper.get(paper_name(s), {}).get(k):g}" if k in paper.get(paper_name(s), {}) else "-"   # noqa: E731
lines = [f"| system | NFE | FID_{ex} | recall_{ex} | gap closed | s / {n_time} images | paper FID | paper recall | paper NFE | paper s / 100 (A100) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for name in timing:
    q = quality.get(name)
    t = timing[name]
    fid = f"{q['FID']:.2f} ± {q['FID_std']:.2f}" if q else "not measured"
    lines.append(f"| {name} | {nfe[name]} | {fid} | {q['recall']:.3f} | {q['gap']:.3f} | " if q else f"| {name} | {nfe[name]} | {fid} | - | - | ")
    lines[-1] += (f"{t['median_s']:.3f}" + (f" (from {t['scaled_from']} images)" if "scaled_from" in t else "") +
                  f" | {pv(name, 'FID')} | {pv(name, 'Recall')} | {pv(name, 'NFE')} | {pv(name, 'time_s_per_100')} |")
table = "\n".join(lines) + (f"\n\nAll times in this process on {report.device_name(device)}, {repeats} repeats after a warm-up "
                            f"(LDDGAN's include its decoder). FID_{ex}: {n} samples x {len(eval_seeds)} seeds against {n} "
                            f"training images (real-data floor {quality['DDGAN']['floor']:.2f}, uniform noise {fid_noise:.1f}); "
                            f"the DDIM rows' from the {dpm_entry} result. An in-project network, not Inception.\n")
(out / "table.md").write_text(table)
display(Markdown(table))
'''

FIG = r'''
sns.set_theme(style="whitegrid", context="notebook")
df = pd.DataFrame([{"system": name, "seconds": timing[name]["median_s"], "FID": q["FID"], "FID_std": q["FID_std"],
                    "family": "DPM (DDIM / DDPM)" if name.startswith(("DDIM", "DDPM")) else "DDGAN family"}
                   for name, q in quality.items() if name in timing])
fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.errorbar(df["seconds"], df["FID"], yerr=df["FID_std"], fmt="none", ecolor="grey", lw=0.8, zorder=1)
sns.scatterplot(data=df, x="seconds", y="FID", hue="family", style="family", s=70, ax=ax, zorder=2)
for r in df.itertuples():
    ax.annotate(r.system, (r.seconds, r.FID), textcoords="offset points", xytext=(5, 4), fontsize=8)
ax.set(xscale="log", xlabel=f"seconds per {n_time} images ({report.device_name(device)}, log)", ylabel=f"FID_{ex} (lower is better; bars: seed spread)",
       title="sample quality against sampling time (LDDGAN-F3)")
ax.axhline(quality["DDGAN"]["floor"], color="grey", ls=":", lw=0.8)
fig.tight_layout()
fig.savefig(out / "fid_vs_time.png", dpi=120)
plt.close(fig)
display(Image(str(out / "fid_vs_time.png")))
report.save_grid(torch.cat([models[s][0].sample(8, generator=g.manual_seed(1234), device=device).cpu() for s in models]),
                 out / "samples.png", nrow=8)
display(Image(str(out / "samples.png")))
print("rows: " + ", ".join(models))
'''

VERDICT = r'''
v, criteria, checks = study.judge_lddgan_t3(quality, {k: t["median_s"] for k, t in timing.items()})
evidence = ("; ".join(f"{s}: FID_{ex} {quality[s]['FID']:.2f}, recall {quality[s]['recall']:.3f}, gap {quality[s]['gap']:.3f}, "
                      f"{timing[s]['median_s']:.3f} s/{n_time}" for s in models)
            + "; checks: " + ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in checks.items()))
verdict = study.write_verdict(out, v, evidence, criteria=criteria, scale=scale)
metrics = {"quality": quality, "timing": {k: {a: b for a, b in t.items() if a != "times_s"} for k, t in timing.items()},
           "nfe": nfe, f"FID_{ex}_noise": fid_noise, "checks": checks,
           **{f"FID_{ex}_{s}": quality[s]["FID"] for s in models}, **{f"time_{s}": timing[s]["median_s"] for s in models},
           "headline": [f"FID_{ex}_LDDGAN", f"FID_{ex}_DDGAN", "time_LDDGAN", "time_DDGAN"]}
meta = report.make_meta(scale=scale, item=item_id, seed=0, device=device, extractor={ex: extractor.meta()},
                        systems={**entries, "DDPM/DDIM": dpm_entry}, eval_seeds=eval_seeds,
                        durations={"evaluate": eval_seconds})
report.write_item(out, metrics, meta)
study.write_ledger()
print(verdict["verdict"], "-", verdict["evidence"])
'''

SUMMARY = r'''
# NBVAL_CHECK_OUTPUT
print(f"item {item_id} | scale {scale} | systems {list(timing)} | verdict: {verdict['verdict']}")
print("table columns:", [c.strip() for c in table.splitlines()[0].strip("|").split("|")])
print("checks:", sorted(checks), "| figures:", sorted(p.name for p in out.glob("*.png")))
'''

write(Path(__file__).resolve().parents[2] / "notebooks" / "lddgan_compare.ipynb",
      [("md", MD0), ("params", PARAMS), ("code", SETUP), ("md", "## Sample quality, one protocol"), ("code", QUALITY),
       ("md", "## Sampling time, one process"), ("code", TIMING), ("md", "## Table 3"), ("code", TABLE),
       ("md", "## Figure 3: FID against sampling time, and samples (rows: DDGAN, WDDGAN, LDDGAN)"), ("code", FIG),
       ("md", "## Verdict"), ("code", VERDICT), ("md", "## Summary (checked by nbval)"), ("code", SUMMARY)])
