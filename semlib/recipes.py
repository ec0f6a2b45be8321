"""Build-or-resume the trained models that several notebooks share.

The PDDGAN row notebook trains a Table 1 row into ``runs/<scale>/PDDGAN-T1-<row>/``; the notebooks that
*analyse* a trained row (attribute edits, Table 2) call the same recipe, so they load that checkpoint
when it exists and otherwise train the row the same way (a fresh clone, the CI scratch tree), resuming
from wherever it stopped.  One recipe means one definition of "the full model at scale cpu".
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import report
from .checkpoint import load_latest
from .config import DPMConfig, PDAEConfig, PDDGANConfig, dpm_preset, latent_dpm_preset, pdae_preset, pddgan_preset
from .methods import DPM, PDAE, PDDGAN, LatentDPM
from .train import TrainResult, default_device, fit, read_log

__all__ = ["TrainedPDDGAN", "pddgan_row", "pddgan_entry", "row_model", "row_entry", "row_results", "measured_with", "load_dpm", "dpm_base", "TrainedPDAE",
           "trained_pdae", "PDAEBar", "pdae_bar", "encode_dataset", "trained_latent_dpm", "text_image_model",
           "TrainedAsyrp", "trained_asyrp", "autoencoder_entry", "TrainedAutoencoder", "trained_autoencoder", "load_ddgan", "trained_ddgan", "find_autoencoder"]


def row_entry(row: str, seed: int = 0, suffix: str = "") -> str:
    """Entry id (results and run folder name) of a PDDGAN Table 1 row; training seeds other than 0 get -s<seed>.
    `suffix` names a variant of the rows trained alike on other data or another recipe (e.g. "-fashion-8k-constlr":
    "PDDGAN-T1-full-fashion-8k-constlr", its further seeds "...-fashion-8k-constlr-s1")."""
    return f"PDDGAN-T1-{row}{suffix}" + (f"-s{seed}" if seed else "")


def parse_row_entry(entry: str) -> tuple[str, int]:
    """(row, training seed) of a PDDGAN Table 1 row entry, the inverse of `row_entry`: "PDDGAN-T1-full-s1" ->
    ("full", 1), "PDDGAN-T1-full" -> ("full", 0).  One clear error for anything else."""
    import re

    m = re.fullmatch(r"PDDGAN-T1-([a-z]+)(?:-s([0-9]+))?", entry)
    if m is None:
        raise ValueError(f"{entry!r} is not a PDDGAN Table 1 row entry (PDDGAN-T1-<row> or PDDGAN-T1-<row>-s<seed>)")
    return m.group(1), int(m.group(2) or 0)


def row_folders(root: Path, row: str, suffix: str = "") -> list[tuple[int, Path]]:
    """(training seed, folder) of a row's entries under a results folder of one scale: seed 0's name whether or not it
    exists, then every existing exact seed folder (-s<n>, in seed order).  "PDDGAN-T1-full-s1" is a seed of the full
    row; "PDDGAN-T1-full-synthfaces" is not."""
    import re

    base = row_entry(row, suffix=suffix)
    seeded = {int(m.group(1)): d for d in Path(root).glob(f"{base}-s*")
              if (m := re.fullmatch(re.escape(base) + r"-s([0-9]+)", d.name))}
    return [(0, Path(root) / base), *sorted(seeded.items())]


def row_results(scale: str, row: str, suffix: str = "") -> list[dict]:
    """metrics.json of every finished training seed of a row (of the variant `suffix`, see `row_entry`) at a scale
    (seed 0 first), each with its `train_seed` and `entry` added; empty when the row has no finished result.  Only
    exact seed folders count: "PDDGAN-T1-full-s1" is a seed of the full row, "PDDGAN-T1-full-synthfaces" is not."""
    import json

    out = []
    for seed, d in row_folders(report.results_root() / scale, row, suffix):
        if (d / "meta.json").exists() and (d / "metrics.json").exists():
            m = json.loads((d / "metrics.json").read_text())
            meta = json.loads((d / "meta.json").read_text())
            net = m.get("eval_net", "dom")
            out.append({**m, "train_seed": seed, "entry": d.name, "eval_net_sha": _net_sha(meta, net),
                        "eval_net_weights_sha": _net_sha(meta, net, "weights_sha256")})
    return out


def _net_sha(meta: dict, name: str, field: str = "file_sha256") -> str | None:
    """A hash (`field`: "file_sha256", or "weights_sha256" for the weights alone) of the feature network `name`
    ("ssl", "dom") that a result's meta.json records (its feature_extractor entries are keyed "<name> (<what it
    measures>)"); None when it records none (weights hashes are recorded since 2026-12-02)."""
    for key, v in (meta.get("feature_extractor") or {}).items():
        if isinstance(v, dict) and key.split(" ")[0] == name and v.get(field):
            return v[field]
    return None


def shared_eval_net(results: list[dict], default: str = "ssl") -> str:
    """The one evaluation network (its name: "ssl", "dom") behind a set of row results (`row_results` dicts), so
    FIDs and PPLs read from different result folders can be compared.  Raises when the rows name different
    networks, or the same name with different weights (a network retrained after its cache was lost measures in
    other units: its FID is not comparable)."""
    names = sorted({m.get("eval_net", "dom") for m in results})
    if len(names) > 1:
        raise ValueError(f"the rows were measured with different networks {names}: rerun the older rows")
    # the weights' hash when every row records one (a retrain that reproduces the weights passes), else the files'
    field = "eval_net_weights_sha" if results and all(m.get("eval_net_weights_sha") for m in results) else "eval_net_sha"
    shas = {m["entry"]: m.get(field) for m in results}
    known = {s for s in shas.values() if s}
    if len(known) > 1:
        listed = ", ".join(f"{e}: {(s or 'unrecorded')[:10]}" for e, s in shas.items())
        what = "weights" if field == "eval_net_weights_sha" else "file"
        raise ValueError(f"the rows were measured with different weights of the {names[0]} network ({what} hashes "
                         f"{listed}): their FIDs are not comparable; rerun the older rows")
    return names[0] if names else default


def measured_with(results: list[dict], net) -> bool:
    """Whether row results (`row_results` dicts) were measured with the feature network `net` loaded here (its
    `name` and `info` hashes), by `shared_eval_net`'s rule: the weights' hash when every result records one, else
    the file's; a result that records neither passes on the name alone.  A FID measured now with `net` compares with
    theirs only then (a network retrained on another machine can have other weights)."""
    info = getattr(net, "info", None) or {}
    here = {"eval_net": net.name, "entry": "<this network>",
            "eval_net_sha": info.get("file_sha256"), "eval_net_weights_sha": info.get("weights_sha256")}
    try:
        return shared_eval_net([*results, here]) == net.name
    except ValueError:
        return False


def comparable_seeds(runs: dict[str, list[dict]]) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Split row results (row -> `row_results`) into the one group measured alike (the same evaluation network and
    weights, by `shared_eval_net`'s rule), which a table compares, and the rest (entry -> why), which it lists but
    cannot compare.  The group used is the one that covers the most rows, then the one with the most results, then
    the one holding the most seed-0 rows.  So a table stands on its seed-0 rows while further training seeds measured
    on a retrained network accumulate (they are set aside), and moves to those once they cover more rows, or as many
    rows with more seeds; the seed-0 rows are then the ones set aside."""
    results = [m for v in runs.values() for m in v]
    if not results:
        return runs, {}
    row_of = {id(m): row for row, v in runs.items() for m in v}

    def alike(group, m):   # the one rule of shared_eval_net, applied to a group and one more result
        try:
            shared_eval_net([*group, m])
            return True
        except ValueError:
            return False

    groups: list[list[dict]] = []
    for m in results:
        g = next((g for g in groups if alike(g, m)), None)
        if g is None:
            groups.append([m])
        else:
            g.append(m)
    ref = max(groups, key=lambda g: (len({row_of[id(m)] for m in g}), len(g), sum(m["train_seed"] == 0 for m in g)))
    ev, first = shared_eval_net(ref), ref[0]
    used = {id(m) for m in ref}
    kept, aside = {}, {}
    for row, rs in runs.items():
        kept[row] = [m for m in rs if id(m) in used]
        for m in rs:
            if id(m) in used:
                continue
            if m.get("eval_net", "dom") == ev:
                aside[m["entry"]] = (f"measured with other weights of the {ev} network than the compared rows (file hash "
                                     f"{(m.get('eval_net_sha') or 'unrecorded')[:10]} against "
                                     f"{(first.get('eval_net_sha') or 'unrecorded')[:10]}): its FID and PPL are not "
                                     f"comparable with theirs")
            else:
                aside[m["entry"]] = f"measured with the {m.get('eval_net', 'dom')} network, the compared rows with {ev}"
    return kept, aside


@dataclass
class TrainedPDDGAN:
    model: PDDGAN
    config: PDDGANConfig
    train_ds: Any
    test_ds: Any
    V: torch.nn.Module | None          # perceptual net of L_Sem (None when VGG16 was given by path)
    E: torch.nn.Module                 # attribute reader: dom, seed 1 (never the one L_Sem trains against)
    S: torch.nn.Module                 # FID / PPL network: ssl, self-supervised residual net (no loss shares its kind)
    result: TrainResult
    run_dir: Path
    train_seconds: float


def row_run_name(row: str, seed: int = 0, run_name: str | None = None) -> str:
    """The run folder name of a PDDGAN Table 1 row at a training seed: the seed's own entry (`row_entry`), so a
    further seed never resumes (or overwrites) seed 0's checkpoints, and its kept weights come from its own results."""
    return run_name or row_entry(row, seed)


def pddgan_row(scale: str, row: str = "full", *, dataset: str = "synthfaces", data_root: str | None = None,
               resolution: int = 32, seed: int = 0, steps: int | None = None, n_eval: int | None = None,
               vgg_path: str | None = None, overrides: dict | None = None, device=None,
               run_name: str | None = None, fit_prior: bool = True, space: str = "pixel",
               learning_curve: bool = False) -> TrainedPDDGAN:
    """The trained PDDGAN of one Table 1 row at one scale (trains or resumes it; returns at once when done).

    The run folder is ``runs/<scale>/PDDGAN-T1-<row>[-s<seed>]`` (``run_name`` overrides it: use a new name when you
    change the data, resolution, seed or any architecture field, since a checkpoint of another config
    cannot be resumed).  With ``fit_prior`` the Gaussian prior of z_2 is fitted on the same training
    subset the row notebook uses, so samples match the row's evaluation.  ``space="latent"`` trains the row on the
    scale's VQ autoencoder of the dataset (`trained_autoencoder`, trained first when missing); ``learning_curve`` logs
    FID_dom / recall / gap closed of 500 samples (E, the fitted prior) every ``eval_every`` steps into eval.jsonl.
    """
    from .data import load_dataset
    from .metrics import get_domain_extractor, get_ssl_extractor

    device = device or default_device()
    smoke = scale == "smoke"
    extra = {k: v for k, v in dict(steps=steps, n_eval=n_eval).items() if v is not None}
    if space == "latent":      # a latent PDDGAN (ours): on the scale's VQ autoencoder of the dataset (LDDGAN-T1-<dataset>)
        extra.update(space="latent", autoencoder=str(trained_autoencoder(scale, dataset=dataset, data_root=data_root,
                                                                         device=device).path))
    elif space != "pixel":
        raise ValueError(f"space={space!r}: a PDDGAN runs in 'pixel' or 'latent' space")
    cfg = pddgan_preset(scale, row, dataset=dataset, resolution=resolution, seed=seed, **extra, **(overrides or {}))
    dom_steps = {"steps": 30} if smoke else {}
    train_ds = load_dataset(dataset, root=data_root, resolution=resolution, split="train", n=cfg.n_train)
    test_ds = load_dataset(dataset, root=data_root, resolution=resolution, split="test")
    V = get_domain_extractor(dataset, resolution=resolution, seed=0, device=device, **dom_steps)
    E = get_domain_extractor(dataset, resolution=resolution, seed=1, device=device, **dom_steps)
    S = get_ssl_extractor(dataset, resolution=resolution, seed=0, device=device, **dom_steps)
    model = PDDGAN(cfg, in_ch=train_ds.channels, perceptual_net=None if vgg_path else V, vgg_weights=vgg_path)
    run_dir = report.trained_run_dir(scale, row_run_name(row, seed, run_name))
    curve = None
    if learning_curve and cfg.eval_every:   # FID_dom / recall of 500 samples every eval_every steps, as ddgan.ipynb's,
        from .evaluation import learning_curve_fn, reference_sets   # on E (dom seed 1: V, seed 0, is a loss of L_Sem)
        ref, floor, noise = reference_sets(train_ds, test_ds, cfg.n_eval)

        def draw(k, g):     # the fitted z_2 prior of the weights at this step (1000 training images), as the row samples
            if model.SE is not None:
                model.fit_latent_prior(train_ds, n=min(len(train_ds), 1000))
            return model.sample(k, generator=g, device=device)
        curve = learning_curve_fn(draw, ref, E.to(device), n=min(cfg.n_eval, 500), real_floor=floor, noise=noise)
    result = fit(model, train_ds, run_dir, device=device, eval_fn=curve)
    log = read_log(run_dir)
    if fit_prior and model.SE is not None:
        model.fit_latent_prior(train_ds, n=min(len(train_ds), 256 if smoke else 5000))
    return TrainedPDDGAN(model, cfg, train_ds, test_ds, None if vgg_path else V, E, S, result, run_dir,
                         log[-1]["elapsed_s"] if log else 0.0)


def pddgan_entry(scale: str, entry: str, *, data_root: str | None = None, device=None,
                 fit_prior: bool = True) -> TrainedPDDGAN:
    """The trained PDDGAN of a registered pddgan.ipynb entry (e.g. PDDGAN-T1-full-latent_zoom): `pddgan_row` with the
    entry's parameters at this scale (row, seed, dataset, space, steps, overrides) and its run folder, so an analysis
    reads exactly the model the row notebook trained (trained or resumed when missing).  One clear error otherwise."""
    from .study import REGISTRY

    e = next((x for x in REGISTRY if x.id == entry), None)
    if e is None or e.notebook != "notebooks/pddgan.ipynb":
        raise ValueError(f"{entry!r} is not a registered pddgan.ipynb entry")
    if scale not in e.scales:
        raise ValueError(f"{entry!r} does not run at scale {scale!r} (its scales: {e.scales})")
    p = {**e.params, **e.scale_params.get(scale, {})}
    known = {"row", "seed", "dataset", "resolution", "steps", "n_eval", "vgg_path", "overrides", "space", "learning_curve"}
    if set(p) - known:
        raise ValueError(f"{entry!r} has parameters pddgan_entry does not pass on: {sorted(set(p) - known)}")
    return pddgan_row(scale, p.get("row", "full"), dataset=p.get("dataset", "synthfaces"), data_root=data_root,
                      resolution=p.get("resolution", 32), seed=p.get("seed", 0), steps=p.get("steps"),
                      n_eval=p.get("n_eval"), vgg_path=p.get("vgg_path"), overrides=p.get("overrides"), device=device,
                      run_name=entry, fit_prior=fit_prior, space=p.get("space", "pixel"),
                      learning_curve=p.get("learning_curve", False))


def row_model(scale: str, entry: str, *, data_root: str | None = None, device=None,
              fit_prior: bool = True) -> TrainedPDDGAN:
    """The trained PDDGAN behind a row result folder (`row_results`' "entry"): the registered pddgan.ipynb entry of
    that name with its own parameters (`pddgan_entry`), else the plain Table 1 row and seed its name spells
    (`parse_row_entry`, `pddgan_row`), so the Table 2 and Figure 2 analyses load exactly the model a row variant
    (another dataset, steps or rate) trained."""
    from .study import REGISTRY

    e = next((x for x in REGISTRY if x.id == entry), None)
    if e is not None and e.notebook == "notebooks/pddgan.ipynb" and scale in e.scales:
        return pddgan_entry(scale, entry, data_root=data_root, device=device, fit_prior=fit_prior)
    row, seed = parse_row_entry(entry)
    return pddgan_row(scale, row, seed=seed, data_root=data_root, device=device, fit_prior=fit_prior)


# ------------------------------------------------------------------------------ the DPM base and PDAE (issue 8)
def load_dpm(path: str | Path, device=None) -> tuple[DPM, int]:
    """A trained DPM (config and weights of the last checkpoint) from its run folder or a checkpoint file;
    returns (dpm, step).  One clear error when there is no checkpoint or it is not a DPM's."""
    path = Path(path)
    if path.is_file():
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    elif path.is_dir():
        ckpt = load_latest(path)
    else:
        ckpt = None
    if ckpt is None:
        raise FileNotFoundError(f"no DPM checkpoint at {path}: train the DPM base first (./run_all.sh --scale <scale> "
                                f"--only 'DDPM-BASE-*'), or give the run folder / checkpoint file of a trained DPM")
    nets = ckpt.get("nets", {})
    if "net_ema" not in nets or "net" not in nets:
        raise ValueError(f"{path} is not a DPM checkpoint (its networks are {sorted(nets)}; a DPM's are net and net_ema)")
    cfg = find_autoencoder(DPMConfig.from_dict(ckpt["config"]))
    if cfg.space == "latent":
        from .methods.autoencoder import load_autoencoder
        in_ch = load_autoencoder(cfg.autoencoder).config.in_ch
    else:
        in_ch = int(nets["net"]["conv_in.weight"].shape[1])
    dpm = DPM(cfg, in_ch=in_ch)
    dpm.net.load_state_dict(nets["net"])
    dpm.net_ema.load_state_dict(nets["net_ema"])
    device = device or default_device()
    dpm.net.to(device), dpm.net_ema.to(device)
    return dpm, int(ckpt["step"])


def dpm_base(scale: str, entry: str = "DDPM-BASE-synthfaces", *, dataset: str = "synthfaces",
             data_root: str | None = None, resolution: int = 32, device=None, train_ds=None,
             overrides: dict | None = None) -> tuple[DPM, int]:
    """The DPM base of a scale, as its dpm.ipynb entry trains it (runs/<scale>/<entry>): loaded when that run
    is finished, otherwise trained or resumed the same way (the entry's preset; a registered entry with
    space = latent, e.g. LDM-BASE-synthfaces, on the scale's LDDGAN-T1 autoencoder; with `overrides`, e.g.
    {"num_classes": 10} for a class-conditional model).  Returns (dpm, step)."""
    from .data import load_dataset
    from .study import REGISTRY

    device = device or default_device()
    e = next((x for x in REGISTRY if x.id == entry), None)
    extra = {}
    if e is not None and e.params.get("space", "pixel") == "latent":    # an LDM entry: on the scale's autoencoder
        extra = dict(space="latent", autoencoder=str(trained_autoencoder(scale, dataset=dataset, data_root=data_root,
                                                                         device=device).path))
    cfg = dpm_preset(scale, dataset=dataset, resolution=resolution, **extra, **(overrides or {}))
    run_dir = report.trained_run_dir(scale, entry)
    ckpt = load_latest(run_dir) if run_dir.exists() else None
    if ckpt is None or int(ckpt["step"]) < cfg.steps:
        if train_ds is None:
            train_ds = load_dataset(dataset, root=data_root, resolution=resolution, split="train", n=cfg.n_train)
        dpm = DPM(cfg, in_ch=train_ds.channels)
        fit(dpm, train_ds, run_dir, device=device)
    return load_dpm(run_dir, device=device)


@dataclass
class TrainedPDAE:
    model: PDAE
    config: PDAEConfig
    dpm: DPM
    dpm_step: int
    result: TrainResult
    run_dir: Path
    train_seconds: float


def trained_pdae(scale: str, entry: str = "PDAE-T1", *, dataset: str = "synthfaces", data_root: str | None = None,
                 resolution: int = 32, seed: int = 0, steps: int | None = None, dpm_path: str | None = None,
                 overrides: dict | None = None, device=None, train_ds=None) -> TrainedPDAE:
    """PDAE trained (or resumed) into runs/<scale>/<entry> on the frozen DPM base of the scale (or the DPM at
    `dpm_path`: a run folder or checkpoint file; a missing one is an error, never retrained)."""
    from .data import load_dataset

    device = device or default_device()
    extra = {k: v for k, v in dict(steps=steps).items() if v is not None}
    cfg = pdae_preset(scale, dataset=dataset, resolution=resolution, seed=seed, **extra, **(overrides or {}))
    if train_ds is None:
        train_ds = load_dataset(dataset, root=data_root, resolution=resolution, split="train", n=cfg.n_train)
    if dpm_path is not None:
        dpm, dpm_step = load_dpm(dpm_path, device=device)
    else:
        dpm, dpm_step = dpm_base(scale, cfg.dpm_entry, dataset=dataset, data_root=data_root, resolution=resolution,
                                 device=device)
    model = PDAE(cfg, dpm, in_ch=train_ds.channels)
    run_dir = report.trained_run_dir(scale, entry)
    result = fit(model, train_ds, run_dir, device=device)
    log = read_log(run_dir)
    return TrainedPDAE(model, cfg, dpm, dpm_step, result, run_dir, log[-1]["elapsed_s"] if log else 0.0)



@dataclass
class PDAEBar:
    """PDAE's learning bar as every PDAE notebook reads it before its numbers: the posterior mean gap of the
    frozen DPM and of PDAE on held-out images at evenly spaced steps, the share of it PDAE removes, and whether
    the DPM base passed its own bar (study.base_learned)."""
    probe: list[int]                     # the probed steps
    gap: dict[str, torch.Tensor]         # PDAE.posterior_gap's output (per step and image; x_t and x_0 predictions)
    gap_dpm: list[float]                 # per step, mean over images
    gap_pdae: list[float]
    reduction: float                     # study.gap_reduction
    base_ok: bool
    base_line: str

    @property
    def learned(self) -> bool:
        from . import study
        return study.pdae_learned(self.base_ok, self.reduction)

    @property
    def line(self) -> str:
        from . import study
        return (f"gap removed {self.reduction:.1%} (bar {study.PDAE_GAP_BAR:.0%}) | {self.base_line} | "
                f"PDAE learning bar {'passed' if self.learned else 'not passed'}")


@torch.no_grad()
def pdae_bar(pdae: PDAE, x0: torch.Tensor, scale: str, *, dataset: str, gap_steps: int, dpm_path: str | None = None,
             z: torch.Tensor | None = None, seed: int = 0) -> PDAEBar:
    """PDAE's learning bar on the held-out images x0 (on pdae's device): the posterior mean gap at gap_steps evenly
    spaced steps of 1..T-1 (z: codes to use instead of encoding x0, e.g. class codes), and the DPM base's verdict
    (results/<scale>/DDPM-BASE-<dataset>), or "given" when the notebook was handed a DPM at dpm_path.  Step 0 is left
    out: its shift coefficient c_0 is zero (alpha_bar_{-1} = 1), so no G can move the mean there, and its gap (the
    largest of all) would only dilute the share PDAE removes."""
    from . import study

    T = pdae.process.T
    probe = torch.linspace(1, T - 1, gap_steps).round().long().tolist()
    gen = torch.Generator(device=x0.device).manual_seed(seed)
    gap = pdae.posterior_gap(x0, probe, z=z, generator=gen)
    gap_dpm, gap_pdae = gap["gap_dpm"].mean(1).tolist(), gap["gap_pdae"].mean(1).tolist()
    if dpm_path is None:
        base_ok, base_line = study.base_learned(scale, f"DDPM-BASE-{dataset}")
    else:
        base_ok, base_line = True, f"DPM given: {dpm_path}"
    return PDAEBar(probe, gap, gap_dpm, gap_pdae, study.gap_reduction(gap_dpm, gap_pdae), base_ok, base_line)


@torch.no_grad()
def encode_dataset(pdae: PDAE, ds, n: int | None = None, batch_size: int = 500, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """PDAE codes (EMA encoder) of the first n images of a dataset, with their labels, on the CPU."""
    device = device or default_device()
    n = len(ds) if n is None else min(n, len(ds))
    zs, ys = [], []
    for i in range(0, n, batch_size):
        x, y = ds.get_batch(torch.arange(i, min(i + batch_size, n)))
        zs.append(pdae.encode(x.to(device)).cpu())
        ys.append(y)
    return torch.cat(zs), torch.cat(ys)


def trained_latent_dpm(scale: str, codes: torch.Tensor, entry: str, *, overrides: dict | None = None,
                       device=None) -> tuple[LatentDPM, TrainResult]:
    """A latent DPM on `codes`, trained (or resumed) into runs/<scale>/<entry> with the scale's preset."""
    device = device or default_device()
    cfg = latent_dpm_preset(scale, **(overrides or {}))
    model = LatentDPM(cfg, codes)
    result = fit(model, model.dataset(), report.run_dir(scale, entry), device=device)
    model.net_ema.to(device), model.norm.to(device)
    return model, result



def text_image_model(scale: str, dataset: str = "synthfaces", *, seed: int = 0, resolution: int = 32, device=None):
    """The in-project text-image model of a scale (semlib.textimage, cached per seed): the Asyrp loss uses seed 0,
    its S_dir metric seed 1.  Smoke trains a 20-step model (plumbing only)."""
    from .textimage import get_text_image_model

    device = device or default_device()
    kw = dict(steps=20, train_kwargs={"batch_size": 32, "max_test": 256}) if scale == "smoke" else {}
    return get_text_image_model(dataset, resolution=resolution, seed=seed, device=device, **kw)


@dataclass
class TrainedAsyrp:
    model: Any                     # semlib.methods.Asyrp
    config: Any                    # AsyrpConfig
    dpm_step: int
    result: TrainResult
    run_dir: Path
    train_seconds: float


def trained_asyrp(scale: str, entry: str, attribute: str, *, present: bool = True, unseen: bool = False,
                  dataset: str = "synthfaces", data_root: str | None = None, resolution: int = 32, seed: int = 0,
                  dpm_path: str | None = None, overrides: dict | None = None, device=None) -> TrainedAsyrp:
    """An Asyrp editor for one attribute, trained (or resumed) into runs/<scale>/<entry> on the frozen DPM base of
    the scale (config.dpm_entry, pixel or latent; or the DPM at dpm_path; or, for dpm_entry PDDGAN-T1-<row>, that
    row's generator with `GANAsyrp`) with the scale's text-image model (seed config.clip_seed) in its loss.  Its
    training images are the first n_train of the training split, inverted by DDIM over the config's K steps."""
    from .config import asyrp_preset
    from .data import load_dataset
    from .methods.asyrp import Asyrp

    device = device or default_device()
    cfg = asyrp_preset(scale, dataset=dataset, resolution=resolution, attribute=attribute, present=present,
                       unseen=unseen, seed=seed, **(overrides or {}))
    ti = text_image_model(scale, dataset, seed=cfg.clip_seed, resolution=resolution, device=device)
    if dpm_path is None and cfg.dpm_entry.startswith("PDDGAN-T1-"):     # beyond the seeds: a PDDGAN generator's h-space
        from .methods.asyrp import GANAsyrp
        row, row_seed = parse_row_entry(cfg.dpm_entry)            # the full row, or one of its further seeds
        tp = pddgan_row(scale, row, seed=row_seed, dataset=dataset, data_root=data_root,
                        resolution=resolution, device=device, fit_prior=False)
        model, dpm_step = GANAsyrp(cfg, tp.model, ti), tp.result.step
    else:
        if dpm_path is not None:
            dpm, dpm_step = load_dpm(dpm_path, device=device)
        else:
            dpm, dpm_step = dpm_base(scale, cfg.dpm_entry, dataset=dataset, data_root=data_root, resolution=resolution,
                                     device=device)
        model = Asyrp(cfg, dpm, ti)
    ds = load_dataset(dataset, root=data_root, resolution=resolution, split="train", n=cfg.n_train)
    x0 = ds.get_batch(torch.arange(min(cfg.n_train, len(ds))))[0].to(device)
    run_dir = report.run_dir(scale, entry)
    result = fit(model, model.training_pairs(x0), run_dir, device=device)
    log = read_log(run_dir)
    return TrainedAsyrp(model, cfg, dpm_step, result, run_dir, log[-1]["elapsed_s"] if log else 0.0)


# ---------------------------------------------------------------------------- LDDGAN's first stage (004)
def autoencoder_entry(dataset: str = "synthfaces", kind: str = "vq") -> str:
    """Entry id (results and run folder) of the autoencoder of a dataset: LDDGAN-T1-<dataset> for the VQ one
    (004's claim), LDDGAN-T7-kl-<dataset> for the KL one."""
    return f"LDDGAN-T1-{dataset}" if kind == "vq" else f"LDDGAN-T7-{kind}-{dataset}"


@dataclass
class TrainedAutoencoder:
    net: Any                       # semlib.nets.autoencoder.AutoencoderNet, scale factor set
    config: Any                    # AutoencoderConfig
    path: Path                     # the saved autoencoder (what lddgan_preset(autoencoder=...) takes)
    result: TrainResult | None     # None when it was loaded, not trained, by this call
    run_dir: Path
    train_seconds: float


def trained_autoencoder(scale: str, entry: str | None = None, *, dataset: str = "synthfaces", kind: str = "vq",
                        data_root: str | None = None, resolution: int = 32, seed: int = 0,
                        perceptual_path: str | None = None, overrides: dict | None = None, device=None,
                        eval_fn=None) -> TrainedAutoencoder:
    """The autoencoder of a scale and dataset, trained (or resumed) into runs/<scale>/<entry> with the scale's preset;
    then its scale factor is measured on the training set and it is saved as <run>/autoencoder.pt.  Its perceptual
    network is the in-project domain network of the dataset (seed 0), or real weights from perceptual_path (a
    TorchScript file whose forward returns a list of feature maps)."""
    from .config import autoencoder_preset
    from .data import load_dataset
    from .methods.autoencoder import Autoencoder, load_autoencoder, save_autoencoder
    from .metrics import get_domain_extractor

    device = device or default_device()
    entry = entry or autoencoder_entry(dataset, kind)
    cfg = autoencoder_preset(scale, dataset=dataset, resolution=resolution, kind=kind, seed=seed, **(overrides or {}))
    run_dir = report.trained_run_dir(scale, entry)
    path = run_dir / "autoencoder.pt"
    ckpt = load_latest(run_dir) if run_dir.exists() else None
    done = ckpt is not None and int(ckpt["step"]) >= cfg.steps and path.exists()
    result = None
    if not done:
        ds = load_dataset(dataset, root=data_root, resolution=resolution, split="train", n=cfg.n_train)
        if ds.channels != cfg.in_ch:
            cfg = autoencoder_preset(scale, dataset=dataset, resolution=resolution, kind=kind, seed=seed,
                                     in_ch=ds.channels, **(overrides or {}))
        if perceptual_path is not None:
            V = torch.jit.load(str(perceptual_path), map_location=device)
            V.feature_maps = V.forward
        else:
            V = get_domain_extractor(dataset, resolution=resolution, device=device,
                                     **({"steps": 30} if scale == "smoke" else {}))
        ae = Autoencoder(cfg, perceptual_net=V.to(device) if hasattr(V, "to") else V)
        result = fit(ae, ds, run_dir, device=device, eval_fn=eval_fn(ae) if eval_fn is not None else None)
        ae.measure_scale_factor(ds)
        save_autoencoder(ae.net, path)
    net = load_autoencoder(path, map_location=device).to(device)
    from .methods.autoencoder import SCALE_RULE, measure_scale_factor
    if net.scale_rule != SCALE_RULE:          # saved under an earlier rule: re-measure (no retraining) and re-save
        measure_scale_factor(net, load_dataset(dataset, root=data_root, resolution=resolution, split="train", n=cfg.n_train))
        save_autoencoder(net, path)
        net = load_autoencoder(path, map_location=device).to(device)
    log = read_log(run_dir)
    return TrainedAutoencoder(net, net.config, path, result, run_dir, log[-1]["elapsed_s"] if log else 0.0)


def find_autoencoder(cfg):
    """A latent run's config with its autoencoder found.  The config names the autoencoder by the absolute path it
    had at training time (<checkout>/runs/<scale>/<entry>/autoencoder.pt); in another clone, on another machine or
    with another SEMLIB_RUNS that file is looked up as runs/<scale>/<entry>/autoencoder.pt of the runs tree in use,
    restored from the entry's kept weights when the repository has them.  The run's fingerprint (autoencoder_sha)
    still decides whether it is the same autoencoder.  One clear error when it is nowhere."""
    if getattr(cfg, "space", "pixel") != "latent" or not cfg.autoencoder or Path(cfg.autoencoder).exists():
        return cfg
    parts = Path(cfg.autoencoder).parts
    if "runs" in parts[:-1]:
        rest = parts[len(parts) - parts[::-1].index("runs"):]
        if len(rest) == 3:
            p = report.trained_run_dir(rest[0], rest[1]) / rest[2]
            if p.exists():
                return dataclasses.replace(cfg, autoencoder=str(p))
    raise FileNotFoundError(f"the autoencoder this latent run was trained with ({cfg.autoencoder}) is not there, and "
                            f"no runs/<scale>/<entry>/autoencoder.pt of it is in {report.shown(report.runs_root())} or kept "
                            f"under results/: train it again (its LDDGAN-T1 / -T7 entry) or set config.autoencoder")


def load_ddgan(path: str | Path, device=None):
    """A trained DDGAN, WDDGAN or LDDGAN (config and weights of the last checkpoint) from its run folder or a
    checkpoint file; returns (model, step).  A latent run loads the autoencoder its config names (and checks its
    fingerprint).  One clear error when there is no checkpoint or it is not a DDGAN's."""
    from .config import DDGANConfig
    from .methods import DDGAN

    path = Path(path)
    ckpt = torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else \
        load_latest(path) if path.is_dir() else None
    if ckpt is None:
        raise FileNotFoundError(f"no DDGAN checkpoint at {path}: train it first (its notebook entry, ./run_all.sh "
                                f"--only <entry>), or give the run folder / checkpoint file of a trained model")
    nets = ckpt.get("nets", {})
    if not {"G", "D", "G_ema"} <= set(nets):
        raise ValueError(f"{path} is not a DDGAN checkpoint (its networks are {sorted(nets)}; a DDGAN's are G, D, G_ema)")
    cfg = find_autoencoder(DDGANConfig.from_dict(ckpt["config"]))
    ch = int(nets["G"]["conv_in.weight"].shape[1])
    in_ch = ch // 4 if cfg.space == "wavelet" else ch
    if cfg.space == "latent":
        from .methods.autoencoder import load_autoencoder
        in_ch = load_autoencoder(cfg.autoencoder).config.in_ch
    model = DDGAN(cfg, in_ch=in_ch)
    for k in ("G", "D", "G_ema"):
        getattr(model, k).load_state_dict(nets[k])
    device = device or default_device()
    model.G_ema.to(device)
    if cfg.space == "latent":
        model.space.ae.to(device)
    return model, int(ckpt["step"])


def trained_ddgan(scale: str, entry: str, *, data_root: str | None = None, device=None):
    """The DDGAN / WDDGAN / LDDGAN of a registered ddgan.ipynb entry at a scale: loaded when its run is finished,
    otherwise trained or resumed with the entry's parameters (the config ddgan.ipynb builds; no learning curve,
    which never changes the training's random streams).  Returns (model, step)."""
    from .config import ddgan_preset, lddgan_preset, wddgan_preset
    from .data import load_dataset
    from .methods import DDGAN
    from .study import REGISTRY

    e = next((x for x in REGISTRY if x.id == entry), None)
    if e is None or e.notebook != "notebooks/ddgan.ipynb":
        raise ValueError(f"{entry!r} is not a registered ddgan.ipynb entry")
    p = {**e.params, **e.scale_params.get(scale, {})}
    device = device or default_device()
    dataset, method = p.get("dataset", "synthfaces"), p.get("method", "ddgan")
    extra = {k: p[k] for k in ("steps", "num_timesteps", "n_eval") if p.get(k) is not None}
    if method == "lddgan":
        extra["autoencoder"] = p.get("autoencoder_path") or str(trained_autoencoder(
            scale, dataset=dataset, kind=p.get("autoencoder_kind", "vq"), data_root=data_root, device=device).path)
    preset = {"ddgan": ddgan_preset, "wddgan": wddgan_preset, "lddgan": lddgan_preset}[method]
    cfg = preset(scale, dataset=dataset, resolution=p.get("resolution", 32), seed=p.get("seed", 0), **extra,
                 **p.get("overrides", {}))
    run_dir = report.trained_run_dir(scale, entry)
    ckpt = load_latest(run_dir) if run_dir.exists() else None
    if ckpt is None or int(ckpt["step"]) < cfg.steps:
        ds = load_dataset(dataset, root=data_root, resolution=cfg.resolution, split="train", n=cfg.n_train)
        model = DDGAN(cfg, in_ch=ds.channels)
        curve = None
        if cfg.eval_every:      # the learning curve ddgan.ipynb logs: the run folder is the same whoever trains it
            from .evaluation import learning_curve_fn, reference_sets
            from .metrics import get_extractor
            test_ds = load_dataset(dataset, root=data_root, resolution=cfg.resolution, split="test")
            extractor = get_extractor(dataset, resolution=cfg.resolution, device=device,
                                      **({"steps": 30} if scale == "smoke" else {}))
            ref, floor, noise = reference_sets(ds, test_ds, cfg.n_eval)
            curve = learning_curve_fn(lambda k, g: model.sample(k, generator=g, device=device), ref,
                                      extractor.to(device), n=min(cfg.n_eval, 500), real_floor=floor, noise=noise)
        fit(model, ds, run_dir, device=device, eval_fn=curve)
    return load_ddgan(run_dir, device=device)


# ---------------------------------------------------------------------------- LDDGAN's ablation tables (004)
def ablation_systems(table: str, dataset: str = "synthfaces", suffix: str = "", loss: str = "weighted",
                     train_seed: int = 0) -> dict[str, str]:
    """The systems of one of LDDGAN's ablation tables (lddgan_ablation.ipynb): row name -> the ddgan.ipynb entry that
    trains it, every one at T = 4.  The row under the lddgan preset's own loss (Weighted Learning, the VQ autoencoder,
    the U-Net) is LDDGAN-T3-lddgan-<dataset>-T4 in each table by default; `suffix` is appended to every entry name (e.g. "-8k"
    for rows trained 8000 steps).  `loss` is G's loss shared by every row of T7 and T12: "weighted" (the paper's, the
    default) or "adv" (adversarial only, where Weighted Learning does not learn at the budget; the common row is then
    LDDGAN-T6-adv-<dataset>, the others gain "-adv"); T6 compares the losses, so it takes only the default.
    `train_seed` k > 0 names each row's run with training seed k: its entry gains "-s<k>" after the suffix (the
    study's naming of a second training seed).  Unknown tables or losses and negative seeds raise ValueError."""
    if int(train_seed) != train_seed or train_seed < 0:
        raise ValueError(f"train_seed must be a non-negative integer, got {train_seed!r}")
    if loss not in ("weighted", "adv"):
        raise ValueError(f"loss must be 'weighted' or 'adv', got {loss!r}")
    if table == "T6" and loss != "weighted":
        raise ValueError("T6 compares G's losses: it takes no common loss")
    wl, adv = f"LDDGAN-T3-lddgan-{dataset}-T4{suffix}", f"LDDGAN-T6-adv-{dataset}{suffix}"
    base, tag = (wl, "") if loss == "weighted" else (adv, "-adv")
    tables = {"T6": {"AdvLoss": adv, "AdvLoss + RecLoss": f"LDDGAN-T6-fixed-{dataset}{suffix}", "AdvLoss + RecLoss + WL": wl},
              "T7": {"LDDGAN on AE with KL": f"LDDGAN-T7-lddgan-kl{tag}-{dataset}{suffix}", "LDDGAN on AE without KL": base},
              "T12": {"CNN UNet": base, "ViT UNet": f"LDDGAN-T12-vit{tag}-{dataset}{suffix}"}}
    if table not in tables:
        raise ValueError(f"table must be T6, T7 or T12, got {table!r}")
    tag = f"-s{int(train_seed)}" if train_seed else ""
    return {row: e + tag for row, e in tables[table].items()}
