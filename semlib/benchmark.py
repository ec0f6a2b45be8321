"""One benchmark for every system of the study (issue 11): sampling time, training throughput, parameters, FLOPs and
peak memory on one device in one process, plus the fast-path options of `semlib.fastpath` on DDGAN.

Cost is a property of the architecture, not of the weights, so every system is built untrained at a scale's preset
(the config the study trains at that scale); no trained run is needed and the numbers do not depend on one.  Timing
uses `metrics.cost.time_per_batch` (warm-up, CUDA synchronisation, median of repeats), the function every notebook
that reports a time uses (DDGAN-BASE, PDDGAN-T2, LDDGAN-T3 / -F3 through `evaluation.sampling_cost`).

    from semlib import benchmark
    systems = benchmark.build_systems("cpu", device="cpu")
    rows = [benchmark.measure_system(s, n=100, device="cpu") for s in systems]
    opts = benchmark.fast_path_table(benchmark.reference_ddgan("cpu"), n=100, device="cpu")
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn

from .metrics.cost import count_parameters, flops_per_image, peak_memory_info, time_per_batch

__all__ = ["System", "build_systems", "measure_system", "reference_ddgan", "fast_path_table", "REFERENCE_DDGAN",
           "study_systems", "system_sampler"]

# The configuration at which issue 11 compared our DDGAN generator with the reference code's (3.45 M parameters:
# ch 32, ch_mult 1 2 2, two residual blocks per level, attention at 16 px, nz 100, the reference's z embedding of
# 256 through 4 mapping layers, T = 4, 32 px).  The `gpu` / `paper` benchmark uses DDGAN's CIFAR-10 config instead.
REFERENCE_DDGAN = dict(ch=32, ch_mult=(1, 2, 2), num_res_blocks=2, attn_resolutions=(16,), nz=100, z_emb_dim=256,
                       n_mlp=4, num_timesteps=4)


@dataclass
class System:
    """A system to time: sample(n, generator) -> images, the sampling networks, NFE, and one training step."""
    name: str
    sample: Callable[[int, torch.Generator], torch.Tensor]
    nets: tuple[nn.Module, ...]                     # the networks sampling runs (counted as parameters)
    nfe: int
    train_step: Callable[[], None] | None           # one optimisation step on a random batch of the preset's size
    batch_size: int
    note: str = ""
    supports_fast: bool = False                     # sample(n, generator, fast=...) takes a semlib.fastpath option


def _train_step_fn(method, batch_size: int, in_ch: int, resolution: int, device) -> Callable[[], None]:
    """One optimisation step of a method (the Method protocol's training_step) on a fixed random batch; each call is
    the next step."""
    x = torch.randn(batch_size, in_ch, resolution, resolution, device=device).clamp(-1, 1)
    g = torch.Generator(device=device)
    step = [0]

    def train_step():
        method.training_step(x, None, step[0], g.manual_seed(step[0]), method.trainable())
        step[0] += 1
    return train_step


def _ddgan_system(name, model, device, note="", **sample_kw):
    """sample_kw: extra arguments of model.sample (PDDGAN's prior)."""
    model.G.to(device), model.D.to(device), model.G_ema.to(device)
    if model.config.space == "latent":
        model.space.ae.to(device)
    c = model.config
    nets = (model.G_ema,) + ((model.space.ae,) if c.space == "latent" else ())

    def sample(n, gen, fast=None):
        return model.sample(n, generator=gen, device=device, fast=fast, **sample_kw)

    return System(name, sample, nets, model.nfe, _train_step_fn(model, c.batch_size, model.in_ch, c.resolution, device),
                  c.batch_size, note, supports_fast=True)


def build_systems(scale: str, *, dataset: str = "synthfaces", resolution: int = 32, device="cpu",
                  dpm_k: tuple[int, ...] = (10, 50), pdae_k: int = 10) -> list[System]:
    """Every system of the study, untrained at the scale's preset: DDGAN, PDDGAN (full row), WDDGAN, LDDGAN (with its
    decoder), DDIM of the DPM base at each K in dpm_k (K = 1000 is DDPM's count), PDAE decoding with K steps."""
    from .config import (autoencoder_preset, ddgan_preset, dpm_preset, lddgan_preset, pdae_preset, pddgan_preset,
                         wddgan_preset)
    from .methods import DDGAN, DPM, PDAE, PDDGAN
    from .metrics.extractors import DomainNet
    from .nets.autoencoder import AutoencoderNet
    from .spaces import LatentSpace

    kw = dict(dataset=dataset, resolution=resolution)
    out = [_ddgan_system("DDGAN", DDGAN(ddgan_preset(scale, **kw), in_ch=3), device)]
    V = DomainNet(3, 10, input_size=resolution)          # PDDGAN's feature term runs V: an untrained one costs the same
    out.append(_ddgan_system("PDDGAN", PDDGAN(pddgan_preset(scale, "full", **kw), in_ch=3, perceptual_net=V.to(device)),
                             device, note="full row; z_2 from N(0, I) (the fitted prior costs the same)", prior="standard"))
    out.append(_ddgan_system("WDDGAN", DDGAN(wddgan_preset(scale, **kw), in_ch=3), device))
    ae = AutoencoderNet(autoencoder_preset(scale, **kw))
    ae.set_scale_factor(1.0)
    out.append(_ddgan_system("LDDGAN", DDGAN(lddgan_preset(scale, **kw), in_ch=3, space=LatentSpace(ae)), device,
                             note="decoder included"))

    dpm = DPM(dpm_preset(scale, **kw), in_ch=3)
    dpm.net.to(device), dpm.net_ema.to(device)
    dc = dpm.config
    dpm_train = _train_step_fn(dpm, dc.batch_size, 3, resolution, device)

    for k in dpm_k:
        name = "DDPM" if k == dc.num_timesteps else f"DDIM K={k}"
        out.append(System(name, (lambda n, gen, k=k: dpm.sample(n, k=k, generator=gen, device=device,
                                                                  sampler="ddpm" if k == dc.num_timesteps else "ddim")),
                          (dpm.net_ema,), k, dpm_train, dc.batch_size,
                          note="one training step of the DPM base (shared by every K)"))

    pdae = PDAE(pdae_preset(scale, **kw), dpm, in_ch=3)
    for m in pdae.networks().values():
        m.to(device)
    pc = pdae.config
    pdae_train = _train_step_fn(pdae, pc.batch_size, 3, resolution, device)

    def pdae_sample(n, gen):
        x = torch.randn(n, 3, resolution, resolution, generator=gen, device=device).clamp(-1, 1)
        return pdae.decode(pdae.encode(x), k=pdae_k, generator=gen)

    nets_p = (pdae.E_ema, pdae.G_ema, pdae.unet)
    out.append(System(f"PDAE K={pdae_k}", pdae_sample, nets_p, pdae_k, pdae_train,
                      pc.batch_size, note="encode + decode (autoencoding) with K DDIM steps; each step runs the "
                                          "frozen U-Net and the shift predictor"))
    return out


def measure_system(s: System, *, n: int = 100, device="cpu", warmup: int = 1, repeats: int = 3,
                   train_repeats: int = 3, fast=None) -> dict:
    """Time to sample n images (median of repeats; `fast` for the DDGAN family), training images per second (one
    optimisation step on a random batch of the preset's size), parameters of the sampling networks, FLOPs of drawing
    one image (every NFE and any decoder: FlopCounterMode, 2 x multiply-adds of convs and matmuls) and the peak
    memory of sampling 16 images."""
    if fast is not None and not s.supports_fast:
        raise ValueError(f"{s.name} has no fast path (semlib.fastpath covers the DDGAN family)")
    g = torch.Generator(device=device)
    draw = (lambda k: s.sample(k, g.manual_seed(0), fast=fast)) if fast is not None else (lambda k: s.sample(k, g.manual_seed(0)))
    t = time_per_batch(lambda: draw(n), device=device, warmup=warmup, repeats=repeats)
    mem = peak_memory_info(lambda: draw(min(n, 16)), device=device)
    row = {"system": s.name, "NFE": s.nfe, "params_M": sum(count_parameters(m) for m in s.nets) / 1e6,
           "GFLOPs_image": flops_per_image(lambda k: s.sample(k, g.manual_seed(0)), 1, batch_size=1) / 1e9,
           f"time_s_per_{n}": t["median_s"], f"time_s_per_{n}_std": t["std_s"], "repeats": t["repeats"],
           "memory_MB_per_image": _per_image_mb(mem, min(n, 16)),
           "memory_measure": mem.get("measure")}
    if s.train_step is not None:
        tt = time_per_batch(s.train_step, device=device, warmup=1, repeats=train_repeats)
        row.update(train_images_per_s=s.batch_size / tt["median_s"], train_batch=s.batch_size)
    row["note"] = s.note
    return row


def _per_image_mb(mem: dict, n: int) -> float:
    v = next((v for k, v in mem.items() if k.startswith("peak")), None)
    return float("nan") if v is None else v / n / 2**20


def reference_ddgan(scale: str, *, device="cpu", resolution: int = 32):
    """The DDGAN whose fast paths are timed: issue 11's reference configuration at smoke and cpu, DDGAN's CIFAR-10
    config (paper preset) at gpu and paper."""
    from .config import ddgan_preset
    from .methods import DDGAN
    if scale in ("gpu", "paper"):
        cfg = ddgan_preset("paper", resolution=resolution)
    elif scale == "smoke":
        cfg = ddgan_preset("smoke", resolution=resolution)
    else:
        cfg = ddgan_preset("cpu", resolution=resolution, **REFERENCE_DDGAN)
    m = DDGAN(cfg, in_ch=3)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():                    # live weights in the zero-initialised layers, so outputs can differ
        for mod in m.G_ema.modules():
            if getattr(mod, "zero_init", False):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * 0.05)
    for net in (m.G, m.D, m.G_ema):
        net.to(device)
    return m


def fast_path_table(model, options: dict, *, n: int = 100, device="cpu", warmup: int = 2, repeats: int = 5) -> list[dict]:
    """Each fast-path option against eager on one model: median time for n images, speed-up, the first call's time
    (compilation / graph capture) and the largest deviation from eager's images."""
    g = torch.Generator(device=device)
    ref = model.sample(n, generator=g.manual_seed(0), device=device)
    rows = []
    for name, fast in options.items():
        t0 = time.perf_counter()
        first = model.sample(n, generator=g.manual_seed(0), device=device, fast=fast)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)
        first_s = time.perf_counter() - t0
        t = time_per_batch(lambda: model.sample(n, generator=g.manual_seed(0), device=device, fast=fast),
                           device=device, warmup=warmup, repeats=repeats)
        rows.append({"option": name, f"time_s_per_{n}": t["median_s"], f"time_s_per_{n}_std": t["std_s"],
                     "first_call_s": first_s, "max_abs_diff": float((first - ref).abs().max()),
                     "mean_abs_diff": float((first - ref).abs().mean())})
    base = next((r for r in rows if r["option"] == "eager"), rows[0])[f"time_s_per_{n}"]
    for r in rows:
        r["speedup"] = base / r[f"time_s_per_{n}"]
    return rows


# ------------------------------------------------------------------ every trained system of the study (LDDGAN-F3)
_FAMILY_NOTEBOOKS = {"notebooks/ddgan.ipynb": "ddgan", "notebooks/dpm.ipynb": "dpm", "notebooks/pddgan.ipynb": "pddgan"}
_SAME_NET_KEYS = ("name", "kind", "dataset", "seed", "steps", "resolution", "config")


def _net_id(meta: dict) -> dict | None:
    """What identifies a result's FID network (its meta's feature_extractor 'dom' entry): a network retrained after
    its cache was lost keeps these, so its FIDs still compare; None when the result measured FID_dom elsewhere."""
    fe = (meta.get("feature_extractor") or {}).get("dom")
    return {k: fe.get(k) for k in _SAME_NET_KEYS} if isinstance(fe, dict) else None


def study_systems(scale: str, dataset: str, extractor_meta: dict, *, exclude=(), results=None) -> tuple[list[dict], dict]:
    """Every trained generative system of the study at a scale on a dataset whose result reports FID on the network
    `extractor_meta` describes (the `dom` extractor's meta()): the DDGAN family of notebooks/ddgan.ipynb (DDGAN, WDDGAN,
    LDDGAN, any backbone or ablation) and the DPMs of notebooks/dpm.ipynb (one row per DDIM K they measured); PDDGAN's
    rows (notebooks/pddgan.ipynb) are listed among the skipped, with the reason.
    Returns (rows, skipped): rows {entry, system, family, nfe, k, FID, FID_std, recall, gap, config}; skipped:
    entry -> why it is not a row (another FID network, no result)."""
    import json

    from . import report
    from .study import REGISTRY
    root = results or report.results_root()
    want = {k: extractor_meta.get(k) for k in _SAME_NET_KEYS}
    rows, skipped = [], {}
    for e in REGISTRY:
        fam = _FAMILY_NOTEBOOKS.get(e.notebook)
        d = root / scale / e.id
        if fam is None or e.id in exclude or scale not in e.scales or e.params.get("dataset", "synthfaces") != dataset:
            continue
        if not (d / "metrics.json").exists() or not (d / "meta.json").exists():
            skipped[e.id] = "no result at this scale"
            continue
        meta, m = json.loads((d / "meta.json").read_text()), json.loads((d / "metrics.json").read_text())
        if _net_id(meta) != want:
            skipped[e.id] = "FID measured on another network"
            continue
        if fam == "pddgan":     # its notebook reports FID per prior of z_2 (FID_dom@fitted); BENCH times its architecture
            skipped[e.id] = "a PDDGAN row: its FID per prior of z_2 is not placed here (BENCH times its architecture)"
            continue
        cfg = meta.get("config") or {}
        space = cfg.get("space") or "pixel"
        if fam == "ddgan":
            system = {"pixel": "DDGAN", "wavelet": "WDDGAN", "latent": "LDDGAN"}[space]
            if cfg.get("backbone", "unet") != "unet":
                system += f" ({cfg['backbone']})"
            rows.append({"entry": e.id, "system": system, "family": system.split(" ")[0], "nfe": int(m["NFE"]), "k": None,
                         "FID": m["FID_dom"], "FID_std": m.get("FID_dom_std", float("nan")),
                         "recall": m.get("recall_dom", float("nan")), "gap": m.get("gap_closed", float("nan")),
                         "config": cfg})
        else:
            system = "LDM" if space == "latent" else "DDPM"
            for k, q in sorted((m.get("per_k") or {}).items(), key=lambda kv: int(kv[0])):
                rows.append({"entry": e.id, "system": f"{system} DDIM K={k}", "family": system, "nfe": int(k), "k": int(k),
                             "FID": q["FID_dom"], "FID_std": q.get("FID_dom_std", float("nan")),
                             "recall": q.get("recall_dom", float("nan")), "gap": float("nan"), "config": cfg})
    return rows, skipped


def system_sampler(row: dict, *, in_ch: int, device="cpu") -> Callable[[int, torch.Generator], torch.Tensor]:
    """sample(n, generator) of a study_systems row's architecture, untrained (time does not depend on the weights),
    built from its result's config; a latent system loads the autoencoder its config names (decoder included).
    FileNotFoundError when that autoencoder is nowhere (recipes.find_autoencoder)."""
    from .config import DDGANConfig, DPMConfig
    from .methods import DDGAN, DPM
    from .methods.autoencoder import load_autoencoder
    from .recipes import find_autoencoder

    gan = row["k"] is None
    Config, Method = (DDGANConfig, DDGAN) if gan else (DPMConfig, DPM)
    # the fingerprint guards trained weights; an untrained architecture is timed with the autoencoder now at that path
    # (the same architecture, perhaps retrained since)
    cfg = find_autoencoder(Config.from_dict({**row["config"], "autoencoder_sha": None}))
    latent = cfg.space == "latent"
    m = Method(cfg, in_ch=load_autoencoder(cfg.autoencoder).config.in_ch if latent else in_ch)
    (m.G_ema if gan else m.net_ema).to(device)
    if latent:
        m.space.ae.to(device)
    kw = {} if gan else {"k": row["k"]}
    return lambda n, g: m.sample(n, generator=g, device=device, **kw)
