"""Generates notebooks/lddgan_ablation.ipynb (LDDGAN-T6 and LDDGAN-T7)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbgen import write  # noqa: E402

MD0 = r'''
# LDDGAN's ablations: the generator's loss (LDDGAN-T6), the autoencoder's KL term (LDDGAN-T7), the backbone (LDDGAN-T12)

**Table 6** (seed 004, Sec. 5.3.1) trains LDDGAN with three generator losses: the adversarial loss alone, plus an L1
reconstruction loss in latent space with a fixed weight (Eq. 8), and plus the reconstruction loss under Weighted
Learning (Eq. 9; we train the reference code's form, see LDDGAN-F2). The paper: FID 3.15 / 3.09 / 3.03 and recall
0.58 / 0.56 / 0.58 on CIFAR-10; the claim is that the fixed reconstruction term helps FID but costs diversity, and
Weighted Learning gets both. **Table 7** (Sec. 5.3.2) compares autoencoders trained with and without a KL penalty:
nearly equal reconstruction FID (1.33 / 1.32), reached after 525 vs 300 epochs, and LDDGAN on them at FID 3.15 / 3.03,
recall 0.58 / 0.58; the claim is that dropping the KL term makes the autoencoder converge faster and LDDGAN better.

**Table 12** replaces LDDGAN's CNN U-Net by a ViT-based one: the paper's ViT needs its largest size to match the CNN's
FID (2.97 vs 2.98) and is then slower (0.13 vs 0.08 s per 100 images); its smaller ones are worse (4.33, 3.21). Ours
is a U-ViT-style backbone from timm blocks (`semlib.nets.vit`) sized to about the CNN's parameters at this scale.

`table` picks the ablation. The systems are the study's entries at this scale (trained first when missing):
T6: `LDDGAN-T6-adv-<dataset>`, `LDDGAN-T6-fixed-<dataset>` and `LDDGAN-T3-lddgan-<dataset>` (Weighted Learning);
T7: the autoencoders `LDDGAN-T1-<dataset>` (no KL) and `LDDGAN-T7-kl-<dataset>` (their reconstruction FID_ssl from their results, their
training L1 from their logs) and LDDGAN on each (`LDDGAN-T3-lddgan-<dataset>`,
`LDDGAN-T7-lddgan-kl-<dataset>`); T12: `LDDGAN-T3-lddgan-<dataset>` (CNN) and `LDDGAN-T12-vit-<dataset>`. The LDDGAN systems are measured here with one protocol (FID / precision / recall
on the domain network `dom`, the sample counts and seeds of ddgan.ipynb) and timed (100 images, decoder included). Each system is one training run: differences
are judged against evaluation-seed spreads only, which understates the training-seed spread (said in the findings).

**Criteria, fixed before any number is read** (`semlib.study.judge_lddgan_t6`, `judge_lddgan_t7`). Learning bar: every
LDDGAN system passes DDGAN-BASE's bar (gap closed >= 0.7, recall >= 0.3) and, for T7, both autoencoders pass theirs
(reconstruction gap closed >= 0.8); otherwise `inconclusive (model did not learn)`.
T6 checks: (quality) Weighted Learning's FID below both others' by more than the spreads together; (diversity) its
recall at least the fixed-weight row's. T7 checks: (convergence) the autoencoder without KL reaches a training L1 within 10% of the lower of
the two final L1s in fewer steps than the KL one (or only it does; the reconstructions' FID_ssl sits at its floor from
the first curve point on, so it cannot time convergence); (quality) LDDGAN on it has the lower FID
(by more than the spreads) and a recall not lower by more than 0.05. T12 checks: (quality) the ViT's FID is not below the CNN's by more than the spreads; (speed)
the CNN samples at least as fast. Two checks: `reproduced`; one: `partly`; none:
`not reproduced`.
'''

PARAMS = r'''
# Parameters (papermill injects overrides below this cell; the defaults are the smoke run)
scale: str = "smoke"                       # the scale whose systems are read
table: str = "T6"                          # T6 (generator loss) | T7 (autoencoder with / without KL) | T12 (CNN vs ViT)
item_id: str = "LDDGAN-T6"                 # results/<scale>/<item_id>/
dataset: str = "synthfaces"
eval_seeds: list = [0, 1, 2]               # sampling seeds of FID / recall (as ddgan.ipynb)
'''

SETUP = r'''
import json, time
import torch
from IPython.display import Image, Markdown, display

from semlib import evaluation, load_dataset, recipes, report, study
from semlib.metrics import get_extractor
from semlib.train import default_device

device = default_device()
smoke = scale == "smoke"
if smoke:
    eval_seeds = eval_seeds[:2]
out = report.item_dir(scale, item_id)
if table == "T6":
    systems = {"AdvLoss": f"LDDGAN-T6-adv-{dataset}", "AdvLoss + RecLoss": f"LDDGAN-T6-fixed-{dataset}",
               "AdvLoss + RecLoss + WL": f"LDDGAN-T3-lddgan-{dataset}"}
elif table == "T12":
    systems = {"CNN UNet": f"LDDGAN-T3-lddgan-{dataset}", "ViT UNet": f"LDDGAN-T12-vit-{dataset}"}
elif table == "T7":
    systems = {"LDDGAN on AE with KL": f"LDDGAN-T7-lddgan-kl-{dataset}", "LDDGAN on AE without KL": f"LDDGAN-T3-lddgan-{dataset}"}
    aes = {"AE with KL": recipes.autoencoder_entry(dataset, "kl"), "AE without KL": recipes.autoencoder_entry(dataset, "vq")}
else:
    raise ValueError(f"table must be T6, T7 or T12, got {table!r}")
t0 = time.time()
models = {name: recipes.trained_ddgan(scale, e, device=device) for name, e in systems.items()}
for name, (m, step) in models.items():
    print(f"{name}: {systems[name]} | rec_loss {m.config.rec_loss} | {step} steps")
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
from semlib.metrics.cost import count_parameters, time_per_batch
g = torch.Generator(device=device)
for name, (m, _) in models.items():       # sampling time of 100 images (decoder included), all in this process
    t = time_per_batch(lambda m=m: m.sample(16 if smoke else 100, generator=g.manual_seed(0), device=device),
                       device=device, warmup=1, repeats=2 if smoke else 5)
    quality[name].update(time_s=t["median_s"], params_G=count_parameters(m.G_ema))
ae_stats = {}
if table == "T7":
    from semlib.train import read_log
    curves = {}
    for name, e in aes.items():
        ta = recipes.trained_autoencoder(scale, e, dataset=dataset, kind="kl" if "with KL" in name else "vq", device=device)
        mp = report.results_root() / scale / e / "metrics.json"
        ae_stats[name] = json.loads(mp.read_text()) if mp.exists() else {}
        curves[name] = [(r["step"], r["l1"]) for r in read_log(ta.run_dir) if "l1" in r]
    # convergence: the first logged step at which the training L1 (mean over log_every steps) comes within 10% of the
    # lower of the two final L1s (the test FID_ssl of the reconstructions is at its floor from the first curve point on)
    target = 1.1 * min(c[-1][1] for c in curves.values())
    for name, c in curves.items():
        ae_stats[name]["l1_final"] = c[-1][1]
        ae_stats[name]["steps_to_l1_target"] = next((s_ for s_, v_ in c if v_ <= target), None)
    ae_stats["l1_target"] = target
eval_seconds = time.time() - t0
'''

TABLE = r'''
paper = {}
for r in report.paper_numbers(f"LDDGAN-{table}"):
    if r["dataset"] == "CIFAR-10":
        paper.setdefault(r["system"], {})[r["metric"]] = float(r["value"])
pv = lambda s, k: f"{paper.get(s, {}).get(k):g}" if k in paper.get(s, {}) else "-"   # noqa: E731
n_t = 16 if smoke else 100
lines = [f"| system | FID_{ex} | recall_{ex} | precision_{ex} | gap closed | G params (M) | s / {n_t} images | paper FID | paper recall |",
         "|---|---|---|---|---|---|---|---|---|"]
for name, q in quality.items():
    lines.append(f"| {name} | {q['FID']:.2f} ± {q['FID_std']:.2f} | {q['recall']:.3f} | {q['precision']:.3f} | {q['gap']:.3f} | "
                 f"{q['params_G'] / 1e6:.2f} | {q['time_s']:.3f} | {pv(name, 'FID')} | {pv(name, 'Recall')} |")
if ae_stats:
    lines += ["", f"| autoencoder | reconstruction FID_ssl | gap closed | PSNR | final training L1 | steps to L1 <= {ae_stats['l1_target']:.4f} "
              "| trained steps | paper recon FID |", "|---|---|---|---|---|---|---|---|"]
    for name, s in ae_stats.items():
        if name == "l1_target":
            continue
        lines.append(f"| {name} | {s.get('FID_ssl', float('nan')):.2f} | {s.get('gap_closed', float('nan')):.3f} | "
                     f"{s.get('psnr_db', float('nan')):.1f} dB | {s['l1_final']:.4f} | {s['steps_to_l1_target'] or 'never'} | "
                     f"{s.get('train_steps', '-')} | {pv(name, 'AE_recon_FID')} |")
table_md = "\n".join(lines) + (f"\n\nFID_{ex}: {n} samples x {len(eval_seeds)} seeds against {n} training images (uniform noise "
                               f"{fid_noise:.1f}); an in-project network, not Inception. One training run per system.\n")
(out / "table.md").write_text(table_md)
display(Markdown(table_md))
report.save_grid(torch.cat([m.sample(8, generator=torch.Generator(device=device).manual_seed(1234), device=device).cpu()
                            for m, _ in models.values()]), out / "samples.png", nrow=8)
display(Image(str(out / "samples.png")))
print("sample rows:", list(models))
'''

VERDICT = r'''
if table == "T6":
    v, criteria, checks = study.judge_lddgan_t6(quality)
elif table == "T12":
    v, criteria, checks = study.judge_lddgan_t12(quality)
else:
    v, criteria, checks = study.judge_lddgan_t7(quality, ae_stats)
evidence = ("; ".join(f"{s}: FID_{ex} {q['FID']:.2f} ± {q['FID_std']:.2f}, recall {q['recall']:.3f}, gap {q['gap']:.3f}" for s, q in quality.items())
            + ("; " + "; ".join(f"{s}: recon gap {a.get('gap_closed', float('nan')):.3f}, steps to L1 <= {ae_stats['l1_target']:.4f}: "
                                f"{a['steps_to_l1_target'] or 'never'}" for s, a in ae_stats.items() if s != "l1_target") if ae_stats else "")
            + "; checks: " + ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in checks.items()))
verdict = study.write_verdict(out, v, evidence, criteria=criteria, scale=scale)
metrics = {"table": table, "quality": quality, "autoencoders": ae_stats, "checks": checks, f"FID_{ex}_noise": fid_noise,
           **{f"FID_{ex}_{s.replace(' ', '')}": q["FID"] for s, q in quality.items()},
           "headline": [f"FID_{ex}_{s.replace(' ', '')}" for s in quality]}
meta = report.make_meta(scale=scale, item=item_id, seed=0, device=device, extractor={ex: extractor.meta()},
                        systems=systems, autoencoders=aes if table == "T7" else None, eval_seeds=eval_seeds,
                        durations={"evaluate": eval_seconds})
report.write_item(out, metrics, meta)
study.write_ledger()
print(verdict["verdict"], "-", verdict["evidence"])
'''

SUMMARY = r'''
# NBVAL_CHECK_OUTPUT
print(f"item {item_id} | scale {scale} | table {table} | systems {list(systems)} | verdict: {verdict['verdict']}")
print("checks:", sorted(checks), "| autoencoders:", sorted(ae_stats))
print("figures:", sorted(p.name for p in out.glob("*.png")))
'''

write(Path(__file__).resolve().parents[2] / "notebooks" / "lddgan_ablation.ipynb",
      [("md", MD0), ("params", PARAMS), ("code", SETUP), ("md", "## Sample quality, one protocol"), ("code", QUALITY),
       ("md", "## The table (and samples: one row per system)"), ("code", TABLE),
       ("md", "## Verdict"), ("code", VERDICT), ("md", "## Summary (checked by nbval)"), ("code", SUMMARY)])
