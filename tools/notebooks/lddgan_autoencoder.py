"""Generates notebooks/lddgan_autoencoder.ipynb (LDDGAN-T1 and the autoencoders of LDDGAN-T7)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbgen import write  # noqa: E402

MD0 = r'''
# LDDGAN's first stage: the autoencoder (LDDGAN-T1; the KL variant of LDDGAN-T7)

Latent DDGAN (seed 004) runs DDGAN on the latents of a pre-trained autoencoder. The paper's autoencoders are
"VQGAN-style with the quantiser absorbed into the decoder" and no KL term (004 Sec. 4.2; its Table 1 gives the
downsampling factor f, the latent size and the reconstruction FID: 1.32 for CIFAR-10 at f = 2, 16 x 16 x 4). The
reference repository ships only a KL autoencoder and no training code (`IMPLEMENTATION_NOTES.md`), so the study trains
its own (`semlib.methods.autoencoder`): `kind = "vq"` is the paper's, `kind = "kl"` the variant of Table 7.

This notebook trains (or resumes) one autoencoder on the training split with L1 + a perceptual feature L1 (the
in-project domain network, seed 0, or real weights from `perceptual_path`) + a patch-GAN hinge term after
`disc_start`, then measures its scale factor (twice the std of the encoded training set: LDDGAN divides latents by it, which
gives them a std of 0.5, and clamps them to [-1, 1]) and
reconstructs held-out test images. Reconstruction FID is measured on `ssl`, a self-supervised network that no loss
of the autoencoder shares in kind (its perceptual term uses the label-trained domain network); FID_dom on a second
domain network (seed 1) is beside it. Both are in-project networks, not the paper's Inception FID. The defaults are
the `smoke` run: never a claim.

**Learning bar and criteria, fixed before any number is read** (`semlib.study.judge_autoencoder`): the
reconstructions of test images must close >= 0.8 of the FID gap between uniform noise and the real-data floor (below:
`inconclusive (model did not learn)`). Then gap closed >= 0.95 and PSNR >= 24 dB: `reproduced`; one of the two:
`partly`; neither: `not reproduced`.
'''

PARAMS = r'''
# Parameters (papermill injects overrides below this cell; the defaults are the smoke run)
from typing import Optional   # papermill reads Optional[...] annotations, not "X | None"
scale: str = "smoke"                       # smoke | cpu | gpu | paper: the preset of semlib.config (autoencoder_preset)
item_id: str = "LDDGAN-T1-synthfaces"      # results/<scale>/<item_id>/ and runs/<scale>/<item_id>/ (autoencoder.pt)
dataset: str = "synthfaces"                # synthfaces | fashion | mnist5k | cifar10 | celebahq | folder
data_root: Optional[str] = None            # root of a real dataset on disk (nothing is downloaded)
resolution: int = 32                       # image side in pixels
kind: str = "vq"                           # vq (quantiser in the decoder, no KL: 004's) | kl (KL-regularised: Table 7)
steps: Optional[int] = None                # training iterations (None: the preset's)
seed: int = 0                              # training seed
n_eval: Optional[int] = None               # test images reconstructed for FID (None: the preset's)
perceptual_path: Optional[str] = None      # real perceptual weights (TorchScript returning feature maps); None: domain net
overrides: dict = {}                       # any other AutoencoderConfig field, e.g. {"z_ch": 8}
threads: Optional[int] = None              # torch CPU threads (None: torch's default)
'''

SETUP = r'''
import json, time
import torch
from IPython.display import Image, Markdown, display

from semlib import autoencoder_preset, evaluation, load_dataset, recipes, report, study
from semlib.metrics import get_domain_extractor, get_ssl_extractor
from semlib.train import default_device, read_log, set_threads

set_threads(threads)
device = default_device()
out = report.item_dir(scale, item_id)
smoke = scale == "smoke"
extra = {k: v for k, v in dict(steps=steps, n_eval=n_eval).items() if v is not None}
cfg0 = autoencoder_preset(scale, dataset=dataset, resolution=resolution, kind=kind, seed=seed, **extra, **overrides)
print(f"{item_id} at scale {scale} on {report.device_name(device)}; results -> {report.shown(out)}")
print(cfg0.summary())
train_ds = load_dataset(dataset, root=data_root, resolution=resolution, split="train", n=cfg0.n_train)
test_ds = load_dataset(dataset, root=data_root, resolution=resolution, split="test")
print(f"train {len(train_ds)} / test {len(test_ds)} images, {train_ds.channels} channel(s), {resolution}px")
# evaluation networks: ssl (no loss shares its kind) for the FID of record, a second domain network beside it
net_kw = {"steps": 30} if smoke else {}
S = get_ssl_extractor(dataset, resolution=resolution, seed=0, device=device, **net_kw)
E = get_domain_extractor(dataset, resolution=resolution, seed=1, device=device, **net_kw)
n = cfg0.n_eval
ref = train_ds.get_batch(torch.randperm(len(train_ds), generator=torch.Generator().manual_seed(0))[:n])[0]
test_x = test_ds.get_batch(torch.arange(min(n, len(test_ds))))[0]
noise = torch.rand(len(test_x), train_ds.channels, resolution, resolution, generator=torch.Generator().manual_seed(0)) * 2 - 1
'''

TRAIN = r'''
# the learning curve: FID_ssl of the reconstructions of min(n, 500) test images every eval_every steps
def curve(ae):
    @torch.no_grad()
    def rec(k, gen):
        return torch.cat([ae.net(test_x[i:i + 250].to(device)).cpu() for i in range(0, k, 250)])
    return evaluation.learning_curve_fn(rec, ref, S.to(device), n=min(len(test_x), 500), real_floor=test_x, noise=noise)

ta = recipes.trained_autoencoder(scale, item_id, dataset=dataset, kind=kind, data_root=data_root, resolution=resolution,
                                 seed=seed, perceptual_path=perceptual_path, overrides={**extra, **overrides},
                                 device=device, eval_fn=curve)
net, cfg = ta.net, ta.config
log = read_log(ta.run_dir)
train_seconds = ta.train_seconds
status = "trained" if ta.result is not None else "loaded"
print(f"{status}: {ta.path} | {len(log) and log[-1]['step']} steps, {train_seconds / 60:.1f} min of training | "
      f"f = {cfg.f}, latent {cfg.z_ch} x {net.latent_side} x {net.latent_side}, scale factor {net.scale_factor:.4f}")
'''

CURVES = r'''
keys = [k for k in ("l1", "perceptual", "reg", "loss_g", "loss_d", "perplexity", "kl") if log and any(k in r for r in log)]
report.plot_training_curves(log, out / "training_curve.png", keys=keys)
display(Image(str(out / "training_curve.png")))
lc = read_log(ta.run_dir, "eval")
if lc:
    report.plot_training_curves(lc, out / "learning_curve.png", keys=[f"FID_{S.name}", "gap_closed"],
                                hlines={"gap_closed": study.AE_CLAIM_BAR["gap_closed"]})
    display(Image(str(out / "learning_curve.png")))
'''

RECON = r'''
t0 = time.time()
with torch.no_grad():
    h = torch.cat([net.encode(test_x[i:i + 250].to(device)).cpu() for i in range(0, len(test_x), 250)])
    rec = torch.cat([net.decode(h[i:i + 250].to(device)).cpu() for i in range(0, len(h), 250)])
report.save_grid(torch.cat([test_x[:16], rec[:16]]), out / "reconstruction.png", nrow=16)
display(Image(str(out / "reconstruction.png")))
print("top: held-out test images; bottom: their reconstructions")
'''

EVAL = r'''
quality = {}
for X in (S, E):
    q = evaluation.sample_quality(lambda k, g: rec[:k], ref, X, n=len(rec), seeds=[0], real_floor=test_x)
    fid_noise = evaluation.sample_quality(lambda k, g: noise[:k], ref, X, n=len(rec), seeds=[0])[f"FID_{X.name}"]
    quality[X.name] = {"FID": q[f"FID_{X.name}"], "floor": q[f"FID_{X.name}_real_floor"], "noise": fid_noise,
                       "gap": study.gap_closed(q[f"FID_{X.name}"], fid_noise, q[f"FID_{X.name}_real_floor"]),
                       "recall": q[f"recall_{X.name}"]}
rm = evaluation.reconstruction_metrics(test_x, rec)
psnr = float((10 * torch.log10(1.0 / rm["MSE"].clamp(min=1e-12))).mean())     # images mapped to [0, 1]
ssim = float(rm["SSIM"].mean())
usage = {}
if cfg.kind == "vq":
    with torch.no_grad():
        _, _, usage = net.quantizer.eval()(h[:1000].to(device))
    usage = {k: float(v) for k, v in usage.items()}
n_enc, n_dec = (sum(p.numel() for p in m.parameters()) for m in (net.encoder, net.decoder))
first = next((r["step"] for r in lc if r["gap_closed"] >= study.AE_CLAIM_BAR["gap_closed"]), None) if lc else None
s = quality[S.name]
lines = ["| autoencoder | f | latent | scale factor | params (enc / dec) | " + f"rec. FID_{S.name} (floor, noise) | gap closed | "
         f"rec. FID_{E.name} | PSNR | SSIM | codes used |", "|---|---|---|---|---|---|---|---|---|---|---|"]
lines.append(f"| {cfg.kind} | {cfg.f} | {cfg.z_ch} x {net.latent_side} x {net.latent_side} | {net.scale_factor:.4f} | "
             f"{n_enc / 1e6:.2f} M / {n_dec / 1e6:.2f} M | {s['FID']:.2f} ({s['floor']:.2f}, {s['noise']:.1f}) | {s['gap']:.3f} | "
             f"{quality[E.name]['FID']:.2f} | {psnr:.1f} dB | {ssim:.3f} | "
             f"{int(usage['codes_used']) if usage else '-'} |")
table = "\n".join(lines) + (f"\n\n{len(rec)} test images against {len(ref)} training images; in-project networks, not the "
                            f"paper's Inception FID (004 Table 1: 1.32 on CIFAR-10). Steps until the learning curve first "
                            f"closed >= {study.AE_CLAIM_BAR['gap_closed']} of the gap: {first if first is not None else 'never'}.\n")
(out / "table.md").write_text(table)
display(Markdown(table))
eval_seconds = time.time() - t0
'''

VERDICT = r'''
v, criteria = study.judge_autoencoder(s["gap"], psnr)
evidence = (f"{dataset} {resolution}px, {cfg.kind} autoencoder f={cfg.f} ({cfg.z_ch}x{net.latent_side}x{net.latent_side}), "
            f"{len(log) and log[-1]['step']} steps: reconstruction FID_{S.name} {s['FID']:.2f} (floor {s['floor']:.2f}, "
            f"noise {s['noise']:.1f}, gap closed {s['gap']:.3f}), PSNR {psnr:.1f} dB, SSIM {ssim:.3f}")
verdict = study.write_verdict(out, v, evidence, criteria=criteria, scale=scale)
metrics = {"kind": cfg.kind, "f": cfg.f, "latent_shape": [cfg.z_ch, net.latent_side, net.latent_side],
           "scale_factor": net.scale_factor, "params_encoder": n_enc, "params_decoder": n_dec,
           f"FID_{S.name}": s["FID"], f"FID_{S.name}_floor": s["floor"], f"FID_{S.name}_noise": s["noise"],
           "gap_closed": s["gap"], f"FID_{E.name}": quality[E.name]["FID"], f"gap_closed_{E.name}": quality[E.name]["gap"],
           "psnr_db": psnr, "ssim": ssim, **{f"vq_{k}": v_ for k, v_ in usage.items()},
           "steps_to_claim_bar": first, "train_steps": log[-1]["step"] if log else 0, "autoencoder_path": str(ta.path),
           "headline": [f"FID_{S.name}", "gap_closed", "psnr_db", "scale_factor"]}
meta = report.make_meta(scale=scale, item=item_id, seed=seed, device=device,
                        extractor={"ssl (reconstruction FID)": S.meta(), "dom (FID_dom, seed 1)": E.meta(),
                                   "perceptual net of the loss": perceptual_path or "domain net, seed 0"},
                        config=cfg.to_dict(), durations={"train": train_seconds, "evaluate": eval_seconds})
report.write_item(out, metrics, meta)
study.write_ledger()
print(verdict["verdict"], "-", verdict["evidence"])
'''

SUMMARY = r'''
# NBVAL_CHECK_OUTPUT
print(f"item {item_id} | scale {scale} | dataset {dataset} | kind {cfg.kind} | f {cfg.f} | latent {metrics['latent_shape']}")
print(f"verdict: {verdict['verdict']} | scale factor set: {net.scale_factor is not None and net.scale_factor > 0}")
print("table columns:", [c.strip() for c in table.splitlines()[0].strip("|").split("|")])
print("figures:", sorted(p.name for p in out.glob("*.png")), "| headline:", metrics["headline"])
print("reconstruction finite and in range:", bool(torch.isfinite(rec).all() and rec.abs().max() <= 1))
'''

write(Path(__file__).resolve().parents[2] / "notebooks" / "lddgan_autoencoder.ipynb",
      [("md", MD0), ("params", PARAMS), ("code", SETUP), ("code", TRAIN), ("code", CURVES),
       ("md", "## Reconstructions of held-out images"), ("code", RECON),
       ("md", "## Reconstruction quality (LDDGAN-T1's columns)"), ("code", EVAL), ("code", VERDICT),
       ("md", "## Summary (checked by nbval)"), ("code", SUMMARY)])
