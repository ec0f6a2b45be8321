"""Generates notebooks/lddgan_cost.ipynb (LDDGAN-T2)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbgen import write  # noqa: E402

MD0 = r'''
# Parameters, FLOPs and memory of DDGAN, WDDGAN and LDDGAN (LDDGAN-T2)

LDDGAN (seed 004, Table 2) compares the cost of sampling of its three systems on CIFAR-10: DDGAN 48.43 M parameters,
7.05 GFLOPs, 0.31 GB; WDDGAN 33.37 M, 1.67 GFLOPs, 0.16 GB; LDDGAN (its decoder included) 41.97 M, 1.72 GFLOPs,
0.18 GB. The claim behind the table: diffusing in a smaller space (wavelet coefficients, autoencoder latents) makes
each denoising step several times cheaper than in pixel space, even with the decoder counted.

Cost is a property of the architecture, not of the weights, so this notebook builds the three systems untrained at
two configurations: **the papers' CIFAR-10 configs** (`*_preset("paper")`: DDGAN 128 ch, ch_mult 1 2 2 2, attention
at 16; WDDGAN and LDDGAN ch_mult 1 2 2 without attention on 16 x 16 inputs; LDDGAN's autoencoder f = 2, 16 x 16 x 4)
and **this scale's configs**, the ones the study trains. For each it counts the sampling networks' parameters (G, plus
the decoder for LDDGAN; the Haar transform has none), the FLOPs of one generator forward and of drawing one whole
image (T forwards plus the inverse transform or the decoder; `torch.utils.flop_counter`, FLOPs = 2 x multiply-adds;
the paper's tool is not named and may count multiply-adds) and the peak memory of sampling a batch (CUDA: allocated
bytes; CPU: the rise of the resident set, a coarser measure). Timing and quality are LDDGAN-T3's.

**Criteria, fixed before any number is read** (`semlib.study.judge_cost_ratio`), on the papers' configs: LDDGAN's and
WDDGAN's FLOPs per image (decoder / inverse transform included) are each at most half of DDGAN's: both `reproduced`;
one: `partly`; none: `not reproduced`. The numbers of this scale's configs are shown beside, not judged.
'''

PARAMS = r'''
# Parameters (papermill injects overrides below this cell)
scale: str = "smoke"                       # smoke | cpu | gpu | paper: the second column of configs
item_id: str = "LDDGAN-T2"                 # results/<scale>/<item_id>/
dataset: str = "synthfaces"                # only its channels and resolution matter here
resolution: int = 32                       # image side (the papers' CIFAR-10: 32)
batch: int = 16                            # images per sampling call for the memory measure (smoke: 4)
'''

CODE = r'''
import json, time
import torch
from IPython.display import Markdown, display

from semlib import DDGAN, autoencoder_preset, ddgan_preset, lddgan_preset, report, study, wddgan_preset
from semlib.metrics.cost import count_parameters, flops_per_image, peak_memory_info
from semlib.nets.autoencoder import AutoencoderNet
from semlib.spaces import LatentSpace
from semlib.train import default_device

device = default_device()
out = report.item_dir(scale, item_id)
t0 = time.time()
if scale == "smoke":
    batch = min(batch, 4)


def build(which: str, cfg_scale: str):
    """An untrained system at a scale's config (weights do not change cost)."""
    kw = dict(dataset=dataset, resolution=resolution)
    if which == "DDGAN":
        return DDGAN(ddgan_preset(cfg_scale, **kw), in_ch=3)
    if which == "WDDGAN":
        return DDGAN(wddgan_preset(cfg_scale, **kw), in_ch=3)
    ae = AutoencoderNet(autoencoder_preset(cfg_scale, **kw))
    ae.set_scale_factor(1.0)
    return DDGAN(lddgan_preset(cfg_scale, **kw), in_ch=3, space=LatentSpace(ae))


@torch.no_grad()
def cost(m) -> dict:
    m.G_ema.to(device).eval()
    dec = (m.space.ae.to(device),) if m.config.space == "latent" else ()
    x = torch.randn(1, m.data_ch, m.data_res, m.data_res, device=device)
    t = torch.zeros(1, dtype=torch.long, device=device)
    z = torch.randn(1, m.config.nz, device=device)
    g = torch.Generator(device=device)
    per_forward = flops_per_image(m.G_ema, (x, t, z))
    per_image = flops_per_image(lambda n: m.sample(n, generator=g.manual_seed(0), device=device), 1, batch_size=1)
    mem = peak_memory_info(lambda: m.sample(batch, generator=g.manual_seed(0), device=device), device=device)
    key = next(k for k in mem if k.startswith("peak"))
    return {"params_M": (count_parameters(m.G_ema) + sum(count_parameters(d) for d in dec)) / 1e6,
            "params_G_M": count_parameters(m.G_ema) / 1e6, "GFLOPs_forward": per_forward / 1e9,
            "GFLOPs_image": per_image / 1e9, "NFE": m.nfe, "space": f"{m.data_ch}x{m.data_res}x{m.data_res}",
            "memory_MB_per_image": (mem[key] / batch / 2**20) if mem[key] is not None else float("nan"),
            "memory_measure": mem.get("measure", key)}


systems = ("DDGAN", "WDDGAN", "LDDGAN")
configs = ("paper",) + (() if scale == "paper" else (scale,))
res = {(c, s): cost(build(s, c)) for c in configs for s in systems}
print(f"measured in {time.time() - t0:.0f} s on {report.device_name(device)}")
'''

TABLE = r'''
paper = {(r["system"].split(" ")[0], r["metric"]): float(r["value"]) for r in report.paper_numbers("LDDGAN-T2")
         if r["dataset"] == "CIFAR-10"}
lines = ["| config | system | space (C x H x W) | NFE | params (M) | paper params (M) | GFLOPs / forward | "
         "GMACs / forward | GFLOPs / image | paper GFLOPs | memory / image (MB) | paper memory (GB) |", "|---|" * 1 + "---|" * 11]
for (c, s), r in res.items():
    pp = lambda k: f"{paper[(s, k)]:g}" if c == "paper" and (s, k) in paper else "-"   # noqa: E731
    lines.append(f"| {c} | {s} | {r['space']} | {r['NFE']} | {r['params_M']:.2f} | {pp('params_M')} | "
                 f"{r['GFLOPs_forward']:.3f} | {r['GFLOPs_forward'] / 2:.3f} | {r['GFLOPs_image']:.3f} | {pp('GFLOPs')} | {r['memory_MB_per_image']:.2f} | {pp('mem_GB')} |")
note = (f"Params: the sampling networks (G's EMA; LDDGAN adds its decoder). GFLOPs / image: all NFE forwards plus the inverse "
        f"transform or decoder. Memory: {res[(configs[0], 'DDGAN')]['memory_measure']}, for a batch of {batch}, per image; "
        f"the paper's is GPU memory. GMACs / forward = GFLOPs / forward / 2: the unit the paper's column matches.")
table = "\n".join(lines) + "\n\n" + note + "\n"
(out / "table.md").write_text(table)
display(Markdown(table))
'''

VERDICT = r'''
ratios = {s: res[("paper", "DDGAN")]["GFLOPs_image"] / res[("paper", s)]["GFLOPs_image"] for s in ("WDDGAN", "LDDGAN")}
v, criteria = study.judge_cost_ratio(ratios)
evidence = ("papers' CIFAR-10 configs, FLOPs per image (all NFE + inverse transform / decoder): DDGAN "
            f"{res[('paper', 'DDGAN')]['GFLOPs_image']:.2f} G, WDDGAN {res[('paper', 'WDDGAN')]['GFLOPs_image']:.2f} G "
            f"({ratios['WDDGAN']:.1f}x fewer), LDDGAN {res[('paper', 'LDDGAN')]['GFLOPs_image']:.2f} G ({ratios['LDDGAN']:.1f}x fewer); "
            f"params DDGAN {res[('paper', 'DDGAN')]['params_M']:.1f} M (paper 48.43), WDDGAN {res[('paper', 'WDDGAN')]['params_M']:.1f} M "
            f"(33.37), LDDGAN {res[('paper', 'LDDGAN')]['params_M']:.1f} M (41.97)")
verdict = study.write_verdict(out, v, evidence, criteria=criteria, scale=scale)
metrics = {f"{c}/{s}": {k: v_ for k, v_ in r.items() if k != "memory_measure"} for (c, s), r in res.items()}
metrics.update({f"flops_ratio_DDGAN_over_{s}": r for s, r in ratios.items()},
               headline=["flops_ratio_DDGAN_over_WDDGAN", "flops_ratio_DDGAN_over_LDDGAN"])
meta = report.make_meta(scale=scale, item=item_id, seed=0, device=device, extractor={"note": "no network: cost only"},
                        configs={c: {s: build(s, c).config.to_dict() for s in systems} for c in configs},
                        durations={"measure": time.time() - t0})
report.write_item(out, metrics, meta)
study.write_ledger()
print(verdict["verdict"], "-", verdict["evidence"])
'''

SUMMARY = r'''
# NBVAL_CHECK_OUTPUT
print(f"item {item_id} | scale {scale} | configs {list(configs)} | verdict: {verdict['verdict']}")
print("paper-config params (M):", {s: round(res[('paper', s)]['params_M'], 1) for s in systems})
print("paper-config GFLOPs per image:", {s: round(res[('paper', s)]['GFLOPs_image'], 2) for s in systems})
print("table columns:", [c.strip() for c in table.splitlines()[0].strip("|").split("|")])
'''

write(Path(__file__).resolve().parents[2] / "notebooks" / "lddgan_cost.ipynb",
      [("md", MD0), ("params", PARAMS), ("code", CODE), ("md", "## The table"), ("code", TABLE),
       ("md", "## Verdict"), ("code", VERDICT), ("md", "## Summary (checked by nbval)"), ("code", SUMMARY)])
