"""Is the content of the small parts gone after one 3x3 blur, or does the metric's network only not read it (issue 7)?

    .venv/bin/python tools/probe_reader_blur.py [synthfaces|synthfaces_zoom|synthfaces_easy]
    .venv/bin/python tools/probe_reader_blur.py synthfaces --score runs/cpu/DDGAN-BASE-synthfaces-dwide-r1 ...

The learning bar's domain networks are trained on sharp images.  Their attribute readings of blurred real images fall
(synthfaces: accuracy 0.999 -> 0.86), which alone cannot tell lost content from a network that meets an input unlike its
training data.  This trains a second network of the same design, steps and seed (1) on blurred training images and
reads blurred test images: if it reads them nearly as well as the sharp network reads sharp ones, the attributes are
still in the blurred images.  Prints the accuracy of both networks on sharp, blurred and 2x down-up test images, per
attribute for the blurred ones.

--score: the learning bar's protocol (n samples against n training images, one evaluation seed, k = 3) twice, for
real test copies and for DDGAN runs (a run directory or a kept weights.pt): as the bar reads it (the sharp network of
seed 0 on the images as they are) and at the level of content (a network of seed 0 trained on blurred images, every
set blurred once before it is read, so a model is not judged on pixel statistics finer than one 3x3 blur).  The gap
closed is measured between the noise and the real-data floor under the same protocol.  A diagnostic for the findings,
not a result: it writes nothing but the blur-trained networks' cache files.
"""
import copy
import sys
from pathlib import Path

import torch

from semlib import load_dataset
from semlib.evaluation import blur3, reference_sets
from semlib.metrics import evaluate_samples, get_domain_extractor
from semlib.metrics.extractors import domain_cache_path, load_domain_net, save_domain_net, train_domain_net
from semlib.study import gap_closed

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from attribute_coverage import load, readings  # noqa: E402
from probe_metric_sharpness import degraded  # noqa: E402  (the real test images, blurred and 2x down-up)


def blurred(ds):
    out = copy.copy(ds)
    out.images = blur3(ds.images)
    return out


def blur_net(dataset: str, seed: int, train=None, test=None):
    """The domain network of the metric's design trained on blurred images (cached beside the sharp ones)."""
    path = domain_cache_path(f"{dataset}-blur3", 32, seed)
    if path.exists():
        return load_domain_net(path)
    train = train or load_dataset(dataset, split="train")
    test = test or load_dataset(dataset, split="test")
    net = train_domain_net(blurred(train), blurred(test), seed=seed, device="cpu")
    save_domain_net(net, path)
    return load_domain_net(path)


def score(dataset: str, runs: list[str], n: int = 2000) -> None:
    train, test = load_dataset(dataset, split="train"), load_dataset(dataset, split="test")
    ref, floor, noise = reference_sets(train, test, n)
    sets = {k: v for k, v in degraded(floor).items() if k in ("real test", "blur 3x3", "2x down-up")}
    for run in runs:
        m = load(run)
        if m.config.dataset != dataset:
            raise SystemExit(f"{run} is a {m.config.dataset} model, not {dataset}")
        with torch.no_grad():
            name = Path(run).parent.name if run.endswith(".pt") else Path(run).name   # the entry of a weights.pt
            sets[name] = m.sample(n, generator=torch.Generator().manual_seed(0))
    protocols = {"as the bar reads it": (get_domain_extractor(dataset, resolution=32, seed=0), lambda x: x),
                 "content (blur-trained net, blurred)": (blur_net(dataset, 0, train, test), blur3)}
    print(f"{dataset}, n = {n}: gap closed / recall_dom / precision_dom, " + " | ".join(protocols))
    rows = {k: [] for k in sets}
    with torch.no_grad():
        for E, pre in protocols.values():
            r = pre(ref)
            fid = lambda x: evaluate_samples(pre(x), r, E)  # noqa: E731
            lo, hi = fid(floor)["FID_dom"], fid(noise)["FID_dom"]
            for k, x in sets.items():
                q = fid(x)
                rows[k].append(f"{gap_closed(q['FID_dom'], hi, lo):.3f} / {q['recall_dom']:.3f} / {q['precision_dom']:.3f}")
    for k, v in rows.items():
        print(f"  {k:42s} " + " | ".join(v), flush=True)


def accuracy(E, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (readings(E, x) == (y > 0.5).int()).float().mean(0)


def main(dataset: str = "synthfaces") -> None:
    train = load_dataset(dataset, split="train")
    test = load_dataset(dataset, split="test")
    sharp = get_domain_extractor(dataset, resolution=32, seed=1, device="cpu")
    blur_reader = blur_net(dataset, 1, train, test)
    x, y = test.images, test.targets
    copies = {("sharp" if k == "real test" else k): v for k, v in degraded(x).items()
              if k in ("real test", "blur 3x3", "2x down-up")}
    print(f"{dataset}: attribute accuracy on {len(x)} test images (network trained on sharp / on blurred images)")
    for name, xc in copies.items():
        a, b = accuracy(sharp, xc, y), accuracy(blur_reader, xc, y)
        print(f"  {name:11s} {a.mean():.3f} / {b.mean():.3f}")
    a, b = accuracy(sharp, copies["blur 3x3"], y), accuracy(blur_reader, copies["blur 3x3"], y)
    print("  blurred, per attribute: " + ", ".join(f"{n} {p:.2f}/{q:.2f}" for n, p, q in zip(test.attr_names, a, b)))


if __name__ == "__main__":
    if "--score" in sys.argv:
        i = sys.argv.index("--score")
        score(sys.argv[1] if i > 1 else "synthfaces", sys.argv[i + 1:])
    else:
        main(*sys.argv[1:])
