"""How much fine detail do FID_dom / recall_dom ask for (issue 7)?  The learning bar's metrics on real test images
degraded in ways that keep their content (pixel noise, a light blur, a 2x down-and-up resize), next to a trained
DDGAN's samples, and the attribute readings of each set, which measure variety by content.

    .venv/bin/python tools/probe_metric_sharpness.py synthfaces_easy [runs/cpu/DDGAN-BASE-synthfaces_easy-dwide-r1] [n]

Each line: the edge energy (mean absolute difference of horizontal neighbours, 'tv'), FID_dom, the gap closed,
precision_dom and recall_dom of n images against n training images (the protocol of ddgan.ipynb, one evaluation
seed), then the attribute readings of the dataset's domain network of seed 1 (a second network, not the metric's):
the largest gap between an attribute's frequency and the real images', the number of distinct combinations of the
ten readings and their entropy.  If a degraded copy of the real data that a person reads as the same images fails the
bar, the bar reacts to that change; whether the content went with it, tools/probe_reader_blur.py tells (for the 3x3
blur it did not: a network trained on blurred images reads every attribute).  A diagnostic for the findings, not a
result: it writes nothing.
"""
import os
import sys

import torch
import torch.nn.functional as F

from semlib import load_dataset
from semlib.evaluation import blur3
from semlib.metrics import get_domain_extractor

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from attribute_coverage import combinations, load, readings  # noqa: E402
from probe_ddgan_partial import scorer  # noqa: E402
from probe_ddgan_per_t import hf as edge_energy  # noqa: E402  (mean |difference| of horizontal neighbours)


def degraded(x: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {"real test": x}
    for s in (0.05, 0.1):
        out[f"+ noise N(0, {s})"] = (x + s * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    b = blur3(x)
    for a in (0.25, 0.5):
        out[f"blur, {a:g} mix"] = (1 - a) * x + a * b
    out["blur 3x3"] = b
    out["2x down-up"] = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="bilinear", align_corners=False)
    return out


def attribute_line(a: torch.Tensor, real: torch.Tensor) -> str:
    count, entropy = combinations(a)
    dev = (a.float().mean(0) - real.float().mean(0)).abs().max().item()
    return f"attributes: max freq gap {dev:.2f}, {count} combos, entropy {entropy:.2f} bits"


def main(dataset: str, run: str | None = None, n: int = 2000) -> None:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 2)))
    # both networks are trained (and cached) on first use, so outside no_grad: the metric's (seed 0) and the second
    get_domain_extractor(dataset, resolution=32, seed=0, device="cpu")
    E = get_domain_extractor(dataset, resolution=32, seed=1, device="cpu") if dataset.startswith("synthfaces") else None
    with torch.no_grad():
        report(dataset, run, n, E)


def report(dataset: str, run: str | None, n: int, E) -> None:
    score, floor, header = scorer(dataset, 32, n)
    x = floor[:n]
    sets = degraded(x)
    if run is not None:
        m = load(run)
        if m.config.dataset != dataset:
            raise SystemExit(f"{run} is a {m.config.dataset} model, not {dataset}")
        sets["samples"] = m.sample(n, generator=torch.Generator().manual_seed(0))
    print(f"{dataset}, n = {n}, {header}", flush=True)
    attrs = None
    if E is not None:
        attrs = {k: readings(E, v) for k, v in sets.items()}
        y = load_dataset(dataset, resolution=32, split="test").get_batch(torch.arange(n))[1]
        acc = {k: (attrs[k] == (y > 0).int()).float().mean().item() for k in sets if k != "samples"}
        print("reading accuracy against the labels: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    for k, v in sets.items():
        extra = f" | {attribute_line(attrs[k], attrs['real test'])}" if attrs is not None else ""
        print(f"{k:18s} tv {edge_energy(v):.4f} | {score(v)}{extra}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1] if len(args) > 1 and not args[1].isdigit() else None,
         *(int(a) for a in args[1:] if a.isdigit()))
