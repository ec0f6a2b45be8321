"""Evaluation of a trained generator, shared by every method's notebook.

`sample_quality` gives FID / precision / recall on a named feature extractor over several
evaluation seeds (mean and spread), plus the real-vs-real floor of the same protocol; `detail_calibration` the same
protocol on a blurred copy of the real images (how strongly a bar on these metrics reacts to pixel statistics that
leave the content intact);
`sampling_cost` gives NFE, time per 100 images, parameters, FLOPs per image and peak memory.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .metrics import (count_parameters, evaluate_samples, flops_per_image, lerp, peak_memory_info,
                      perceptual_path_length, slerp, time_per_batch)


def _mean_std(vals: list[dict], keys: list[str]) -> dict[str, float]:
    out = {}
    for k in keys:
        a = np.array([v[k] for v in vals], dtype=np.float64)
        out[k] = float(a.mean())
        out[k + "_std"] = float(a.std(ddof=1)) if len(a) > 1 else 0.0
    return out


@torch.no_grad()
def sample_quality(sample_fn: Callable[[int, torch.Generator], torch.Tensor], real: torch.Tensor,
                   extractor, *, n: int, seeds: list[int], real_floor: torch.Tensor | None = None,
                   k: int = 3, progress: bool | None = None) -> dict[str, float]:
    """FID_<name>, precision_<name>, recall_<name> of `n` samples per seed against `real`.

    `real_floor` (held-out real images) gives the same metrics for real data against `real`:
    the best value this protocol can reach at this sample size (FID is biased upwards at small n).
    progress: a bar over the seeds (semlib.progress; default: when there are several seeds).
    """
    from . import progress as _progress

    name = extractor.name
    keys = [f"FID_{name}", f"precision_{name}", f"recall_{name}"]
    per_seed = []
    show = len(seeds) > 1 if progress is None else progress
    pbar = _progress.bar(len(seeds), desc=f"[semlib] evaluating {n} samples x seed", unit="seed") if show else None
    for s in seeds:
        fake = sample_fn(n, torch.Generator().manual_seed(int(s))).cpu()
        per_seed.append(evaluate_samples(fake, real, extractor, k=k))
        if pbar is not None:
            pbar.update(1)
            pbar.set_postfix_str(f"seed {s}: FID_{name} {per_seed[-1][f'FID_{name}']:.2f}", refresh=True)
    if pbar is not None:
        pbar.close()
    out = _mean_std(per_seed, keys)
    out["n_samples"] = n
    out["n_real"] = len(real)
    out["eval_seeds"] = list(seeds)
    if real_floor is not None:
        fl = evaluate_samples(real_floor[:n], real, extractor, k=k)
        out.update({f"{kk}_real_floor": fl[kk] for kk in keys})
    return out


def blur3(x: torch.Tensor) -> torch.Tensor:
    """One 3x3 binomial blur ([1 2 1]^T [1 2 1] / 16) of images (B, C, H, W), per channel, edges replicated: the
    degradation of `detail_calibration`."""
    k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    k = (k[:, None] * k[None, :] / 16).expand(x.shape[1], 1, 3, 3).contiguous()
    return torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), k, groups=x.shape[1])


@torch.no_grad()
def detail_calibration(real: torch.Tensor, real_floor: torch.Tensor, extractor, *, n: int, k: int = 3) -> dict[str, float]:
    """What the sample-quality protocol reads on the held-out real images after one 3x3 blur (`blur3`): the same
    images to a person, and to a network trained on blurred images, which reads every synthfaces attribute from them
    (tools/probe_reader_blur.py).  Shown beside a model's numbers it says how strongly a learning bar on FID / recall
    reacts to a change of low-level image statistics that keeps the content (issue 7: on synthfaces at 32 px the
    blurred copy fails the DDGAN bar).  Keys: FID_<name>_real_blur, precision_<name>_real_blur, recall_<name>_real_blur."""
    name = extractor.name
    r = evaluate_samples(blur3(real_floor[:n]), real, extractor, k=k)
    return {f"{key}_real_blur": r[key] for key in (f"FID_{name}", f"precision_{name}", f"recall_{name}")}


def learning_curve_fn(sample_fn: Callable[[int, torch.Generator], torch.Tensor], real: torch.Tensor, extractor, *,
                      n: int, real_floor: torch.Tensor, noise: torch.Tensor, seed: int = 0) -> Callable[[int], dict]:
    """An `eval_fn` for `semlib.train.train`: FID / precision / recall of n samples (one fixed seed) and the
    fraction of the noise-to-real FID gap closed, for a learning curve logged during training.  The real-data
    floor and the noise FID are computed once, here, with the same n."""
    from .study import gap_closed
    name = extractor.name
    floor = sample_quality(lambda k, g: real_floor[:k], real, extractor, n=n, seeds=[0], progress=False)[f"FID_{name}"]
    fid_noise = sample_quality(lambda k, g: noise[:k], real, extractor, n=n, seeds=[0], progress=False)[f"FID_{name}"]

    def fn(step: int) -> dict[str, float]:
        q = sample_quality(sample_fn, real, extractor, n=n, seeds=[seed], progress=False)
        return {f"FID_{name}": q[f"FID_{name}"], f"precision_{name}": q[f"precision_{name}"],
                f"recall_{name}": q[f"recall_{name}"], "gap_closed": gap_closed(q[f"FID_{name}"], fid_noise, floor),
                "n": n}
    return fn


def sampling_cost(sample_fn: Callable[[int, torch.Generator], torch.Tensor], net: torch.nn.Module,
                  net_input: tuple, *, nfe: int, device, n: int = 100, warmup: int = 2,
                  repeats: int = 5, extra_nets: tuple[torch.nn.Module, ...] = ()) -> dict[str, float]:
    """NFE, wall time to sample n images (warm-up, synchronisation, median of repeats), parameters
    of the sampling networks, FLOPs per image (FlopCounterMode: 2 x multiply-adds, all NFE steps)
    and peak memory of one batch of n."""
    g = torch.Generator(device=device)
    fn = lambda: sample_fn(n, g.manual_seed(0))  # noqa: E731
    timing = time_per_batch(fn, device=device, warmup=warmup, repeats=repeats)
    mem = peak_memory_info(fn, device=device)
    flops_one = flops_per_image(lambda *a: net(*a), net_input)
    return {"NFE": nfe, f"time_s_per_{n}": timing["median_s"], f"time_s_per_{n}_std": timing["std_s"],
            "timing_repeats": timing["repeats"],
            "params": int(count_parameters(net) + sum(count_parameters(m) for m in extra_nets)),
            "flops_per_image": int(flops_one * nfe),
            **{f"memory_{k}": v for k, v in mem.items()}}


def _two_step_draws(model, prior: str, device) -> dict[str, Callable]:
    """Samplers (n, generator) -> tensor for the inputs of a two-step (PD)DGAN: x_2, z_2, z_1, noise1."""
    # x_2 and noise1 live in the space G sees (a DDGAN-family model's data_ch x data_res^2; else the images')
    c, r = getattr(model, "data_ch", model.in_ch), getattr(model, "data_res", model.config.resolution)
    nz = model.config.nz
    return {"x2": lambda b, g: torch.randn(b, c, r, r, generator=g, device=device),
            "z2": model._prior_sampler(prior, device),
            "z1": lambda b, g: torch.randn(b, nz, generator=g, device=device),
            "noise1": lambda b, g: torch.randn(b, c, r, r, generator=g, device=device)}


@torch.no_grad()
def ppl_of_input(model, variable: str, distance, *, n: int, eps: float = 1e-4, seed: int = 0,
                 prior: str = "fitted", batch_size: int = 64, device="cpu") -> float:
    """PPL of one input (x2, z2 or z1) of a two-step model, the other inputs fixed per pair (000 Sec. 3.1:
    epsilon 1e-4, distance divided by epsilon^2). Gaussian inputs are slerped, the fitted z_2 is lerped."""
    draws = _two_step_draws(model, prior, device)
    g_other = torch.Generator(device=device).manual_seed(10_000 + seed)

    def gen_fn(lat: torch.Tensor) -> torch.Tensor:
        b = lat.shape[0] // 2          # rows [:b] are z(t), rows [b:] are z(t + eps): same other inputs
        vals = {k: f(b, g_other) for k, f in draws.items() if k != variable}
        vals = {k: torch.cat([v, v]) for k, v in vals.items()}
        vals[variable] = lat
        return model.generate(vals["x2"], vals["z2"], vals["z1"], vals["noise1"])

    fitted_z2 = variable == "z2" and prior == "fitted" and getattr(model, "SE", None) is not None
    return float(perceptual_path_length(gen_fn, draws[variable], distance, n=n, eps=eps, batch_size=batch_size,
                                        generator=torch.Generator(device=device).manual_seed(seed),
                                        interpolation="lerp" if fitted_z2 else "slerp"))


@torch.no_grad()
def interpolation_row(model, variable: str, *, steps: int = 8, seed: int = 0, prior: str = "fitted",
                      device="cpu") -> torch.Tensor:
    """`steps` images moving one input from one draw to another, the other inputs fixed (000 Fig. 2)."""
    draws = _two_step_draws(model, prior, device)
    g = torch.Generator(device=device).manual_seed(seed)
    vals = {k: f(1, g) for k, f in draws.items()}
    a, b = vals[variable], draws[variable](1, g)
    t = torch.linspace(0, 1, steps, device=device, dtype=torch.float64)
    fitted_z2 = variable == "z2" and prior == "fitted" and getattr(model, "SE", None) is not None
    moving = (lerp if fitted_z2 else slerp)(a.repeat(steps, *[1] * (a.dim() - 1)),
                                            b.repeat(steps, *[1] * (b.dim() - 1)), t)
    rep = {k: v.repeat(steps, *[1] * (v.dim() - 1)) for k, v in vals.items()}
    rep[variable] = moving
    return model.generate(rep["x2"], rep["z2"], rep["z1"], rep["noise1"])


@torch.no_grad()
def attribute_change(model, variable: str, classify: Callable[[torch.Tensor], torch.Tensor], *, n: int,
                     seed: int = 0, prior: str = "fitted", batch_size: int = 250, device="cpu") -> dict:
    """How much of the *semantics* one input controls (000 Fig. 2, made measurable).

    Draw n pairs of samples that differ only in `variable` (x2, z2 or z1; the other inputs shared; or noise1, the
    posterior noise of x_1, which 000's Figure 2 keeps fixed: a control of how much the last step alone decides),
    read both with a classifier (classify(images) -> (b, A) readings: A binary attributes as bool, or one column of
    class indices for a dataset with classes) and count the readings that differ. Returns the mean fraction over
    pairs and readings, its std over pairs, and per reading; and the readings themselves ("readings": (a, b), each
    (n, A), pair i being a[i] and b[i]) for a closer look at which readings change (tools/probe_f2_class_flips.py).
    """
    if variable not in ("x2", "z2", "z1", "noise1"):
        raise ValueError(f"variable must be x2, z2, z1 or noise1, got {variable!r}")
    draws = _two_step_draws(model, prior, device)
    g = torch.Generator(device=device).manual_seed(20_000 + seed)
    changed, read_a, read_b = [], [], []
    for i in range(0, n, batch_size):
        b = min(batch_size, n - i)
        vals = {k: f(b, g) for k, f in draws.items()}
        other = draws[variable](b, g)
        ya = classify(model.generate(vals["x2"], vals["z2"], vals["z1"], vals["noise1"]))
        vals[variable] = other
        yb = classify(model.generate(vals["x2"], vals["z2"], vals["z1"], vals["noise1"]))
        if ya.is_floating_point() or yb.is_floating_point():
            raise TypeError("classify must return readings (bool attributes or integer class indices), not scores")
        changed.append((ya != yb).float().cpu())
        read_a.append(ya.cpu())
        read_b.append(yb.cpu())
    c = torch.cat(changed)
    return {"mean": float(c.mean()), "std_over_pairs": float(c.mean(1).std()) if len(c) > 1 else 0.0,
            "per_attribute": c.mean(0).tolist(), "n": len(c), "readings": (torch.cat(read_a), torch.cat(read_b))}


def reconstruction_metrics(x: torch.Tensor, rec: torch.Tensor, perceptual=None) -> dict[str, torch.Tensor]:
    """Per-image reconstruction errors of images in [-1, 1], both mapped to [0, 1] first (as PDAE's Table 1):
    SSIM (torchmetrics: Gaussian window 11, sigma 1.5, data range 1), MSE, and, with a
    `semlib.metrics.PerceptualDistance`, LPIPS_<its network's name> (an in-project network: not AlexNet LPIPS)."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    if x.shape != rec.shape:
        raise ValueError(f"image shapes differ: {tuple(x.shape)} vs {tuple(rec.shape)}")
    a, b = (x.float().clamp(-1, 1) + 1) / 2, (rec.float().clamp(-1, 1) + 1) / 2
    out = {"SSIM": ssim(b, a, data_range=1.0, reduction="none"),
           "MSE": (a - b).pow(2).flatten(1).mean(1)}
    if perceptual is not None:
        with torch.no_grad():
            out[f"LPIPS_{perceptual.name}"] = perceptual(x.float(), rec.float())
    return out


def reference_sets(train_ds, test_ds, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three image sets every FID protocol of the study uses: n random training images (the reference), the first
    n test images (the real-data floor) and n images of uniform noise (for scale), all in [-1, 1]."""
    ref = train_ds.get_batch(torch.randperm(len(train_ds), generator=torch.Generator().manual_seed(seed))[:n])[0]
    floor = test_ds.get_batch(torch.arange(min(n, len(test_ds))))[0]
    r = train_ds.get_batch(torch.arange(1))[0].shape[-1]
    noise = torch.rand(n, train_ds.channels, r, r, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    return ref, floor, noise


def systems_quality(models: dict, ref: torch.Tensor, extractor, *, n: int, seeds: list[int], floor: torch.Tensor,
                    noise: torch.Tensor, device=None) -> tuple[dict[str, dict[str, float]], float]:
    """FID / recall / precision / gap closed of several samplers (name -> model with .sample) under one protocol;
    returns ({name: {FID, FID_std, recall, precision, gap, floor}}, FID of uniform noise)."""
    from .study import gap_closed
    name = extractor.name
    fid_noise = sample_quality(lambda k, g: noise[:k], ref, extractor, n=n, seeds=[0])[f"FID_{name}"]
    out = {}
    for s, m in models.items():
        q = sample_quality(lambda k, g, m=m: m.sample(k, generator=g, device=device), ref, extractor, n=n,
                           seeds=seeds, real_floor=floor)
        out[s] = {"FID": q[f"FID_{name}"], "FID_std": q[f"FID_{name}_std"], "recall": q[f"recall_{name}"],
                  "precision": q[f"precision_{name}"], "floor": q[f"FID_{name}_real_floor"],
                  "gap": gap_closed(q[f"FID_{name}"], fid_noise, q[f"FID_{name}_real_floor"])}
    return out, fid_noise
