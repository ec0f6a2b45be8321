"""Generates notebooks/lddgan_weighting.ipynb (LDDGAN-F2)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbgen import write  # noqa: E402

MD0 = r'''
# Weighted Learning: the weight of the reconstruction loss over training (LDDGAN-F2)

LDDGAN (seed 004, Sec. 4.3.2, Eq. 9 and Figure 2) adds an L1 reconstruction loss to the generator's adversarial loss
with a weight that changes over training: lambda = 1 - sigmoid(phi). The text says lambda stays near 1 early, is then
reduced to give the adversarial loss priority, and finally "approaches zero". Eq. 9 writes
phi = -delta + delta * epoch / num_epochs, which ends at phi = 0, i.e. lambda = 0.5; the reference code uses
phi = linspace(-delta, +delta, E + 1)[epoch], which ends at lambda = sigmoid(-delta) = 0.0025 for its delta = 6
(`IMPLEMENTATION_NOTES.md`). `semlib.losses.weighted_learning_lambda` implements both (`form = "code" | "paper"`); the
study trains LDDGAN with the code's form (our choice: it is the one whose curve matches the text and the released
models).

The figure needs no training: it is the schedule itself, so every scale draws the same curve. **Criteria, fixed
before any number is read** (`semlib.study.judge_weighted_learning`): each form must start at lambda >= 0.95, never
increase, and end at lambda <= 0.05 (the text's "approaches zero"); both forms: `reproduced`; one: `partly`;
none: `not reproduced`.
'''

PARAMS = r'''
# Parameters (papermill injects overrides below this cell)
scale: str = "smoke"                       # smoke | cpu | gpu | paper (the curve does not depend on it)
item_id: str = "LDDGAN-F2"                 # results/<scale>/<item_id>/
delta: float = 6.0                         # the reference code's delta
deltas: list = [2.0, 4.0, 6.0, 8.0]        # other deltas, for the shape (code's form)
n_points: int = 201                        # grid of training progress 0..1
'''

CODE = r'''
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from semlib import report, study
from semlib.losses import weighted_learning_lambda

out = report.item_dir(scale, item_id)
grid = [i / (n_points - 1) for i in range(n_points)]
curves = {form: [weighted_learning_lambda(p, delta, form) for p in grid] for form in ("code", "paper")}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for form, style in (("code", "-"), ("paper", "--")):
    axes[0].plot(grid, curves[form], style, label=f"{form}: phi from -{delta:g} to {'+' + format(delta, 'g') if form == 'code' else '0'}")
axes[0].set(xlabel="training progress (epoch / num_epochs)", ylabel="lambda", title=f"the two forms, delta = {delta:g}", ylim=(-0.02, 1.02))
axes[0].axhline(0.5, color="grey", lw=0.5)
axes[0].legend()
for d in deltas:
    axes[1].plot(grid, [weighted_learning_lambda(p, d, "code") for p in grid], label=f"delta = {d:g}")
axes[1].set(xlabel="training progress", ylabel="lambda", title="the code's form for several delta", ylim=(-0.02, 1.02))
axes[1].legend()
fig.tight_layout()
fig.savefig(out / "weighted_learning.png", dpi=120)
plt.close(fig)
display(Image(str(out / "weighted_learning.png")))
'''

TABLE = r'''
marks = [0.0, 0.25, 0.5, 0.75, 1.0]
lines = ["| form | " + " | ".join(f"lambda at {m:g}" for m in marks) + " |", "|---|" + "---|" * len(marks)]
for form in ("code", "paper"):
    lines.append(f"| {form} | " + " | ".join(f"{weighted_learning_lambda(m, delta, form):.4f}" for m in marks) + " |")
table = "\n".join(lines) + f"\n\ndelta = {delta:g}; training progress is epoch / num_epochs (ours: step / steps).\n"
(out / "table.md").write_text(table)
display(Markdown(table))
v, criteria, checks = study.judge_weighted_learning(curves)
evidence = ("; ".join(f"{form}: lambda {curves[form][0]:.4f} -> {curves[form][len(grid) // 2]:.4f} -> {curves[form][-1]:.4f} "
                      f"({', '.join(k for k, ok in c.items() if not ok) or 'all checks pass'})" for form, c in checks.items())
            + "; the paper's Eq. 9 ends at 0.5, its text and the reference code at ~0")
verdict = study.write_verdict(out, v, evidence, criteria=criteria, scale=scale)
metrics = {"delta": delta, **{f"lambda_{form}_end": curves[form][-1] for form in curves},
           **{f"lambda_{form}_start": curves[form][0] for form in curves}, "checks": checks,
           "headline": ["lambda_code_end", "lambda_paper_end"]}
meta = report.make_meta(scale=scale, item=item_id, seed=0, device="cpu", extractor={"note": "no network: a schedule"})
report.write_item(out, metrics, meta)
study.write_ledger()
print(verdict["verdict"], "-", verdict["evidence"])
'''

SUMMARY = r'''
# NBVAL_CHECK_OUTPUT
print(f"item {item_id} | scale {scale} | delta {delta:g} | verdict: {verdict['verdict']}")
print("lambda code start/end:", round(curves["code"][0], 4), round(curves["code"][-1], 4),
      "| paper start/end:", round(curves["paper"][0], 4), round(curves["paper"][-1], 4))
print("checks:", {f: [k for k, ok in c.items() if ok] for f, c in checks.items()})
print("figures:", sorted(p.name for p in out.glob("*.png")))
'''

write(Path(__file__).resolve().parents[2] / "notebooks" / "lddgan_weighting.ipynb",
      [("md", MD0), ("params", PARAMS), ("code", CODE), ("md", "## Values along training, and the verdict"),
       ("code", TABLE), ("md", "## Summary (checked by nbval)"), ("code", SUMMARY)])
