"""How the attribute readings of a trained DDGAN's samples cover the data's (issue 7): the frequency of each of
synthfaces' ten attributes as the domain network (seed 1) reads them, the number of distinct attribute combinations
and their entropy, for n real test images and n samples.  On a class-labelled dataset (e.g. Fashion-MNIST) it
reads classes instead: the share of each class (the domain network's top class), the total variation distance
between the samples' shares and the real images', and the classes whose share is below half the real one.

    .venv/bin/python tools/attribute_coverage.py results/cpu/DDGAN-BASE-synthfaces-T4/weights.pt [n]

Reads a run folder or a checkpoint (a kept weights.pt, which holds G_ema only, works too), or the id of a registered
PDDGAN row entry (e.g. PDDGAN-T1-full-latent_zoom: its `cpu` model, sampled with the fitted z_2 prior).  A diagnostic for the
findings, not a result: it writes nothing.  On unrecognisable samples the classifier's readings say what is missing
(e.g. no eyes drawn reads as eyes closed), not what is there.
"""
import collections
import sys
import tempfile
from pathlib import Path

import torch

from semlib import load_dataset
from semlib.metrics import get_domain_extractor
from semlib.recipes import load_ddgan


def readings(E, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([(E.predict(x[i:i + 500]) > 0) for i in range(0, len(x), 500)]).int()


def combinations(a: torch.Tensor) -> tuple[int, float]:
    """The number of distinct rows (attribute combinations) of binary readings a (N, A) and their entropy in bits."""
    combos = collections.Counter(map(tuple, a.tolist()))
    p = torch.tensor(list(combos.values()), dtype=torch.float) / len(a)
    return len(combos), float(-(p * p.log2()).sum())


def summary(tag: str, a: torch.Tensor) -> str:
    count, entropy = combinations(a)
    return (f"{tag:8s} " + " ".join(f"{f:.2f}" for f in a.float().mean(0).tolist())
            + f" | {count} distinct combinations, entropy {entropy:.2f} bits")


def class_shares(E, x: torch.Tensor) -> torch.Tensor:
    """The share of each class among x as the classifier E reads it (its top class), (K,)."""
    with torch.no_grad():
        top = torch.cat([E.predict(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    return torch.bincount(top, minlength=E.num_outputs).float() / len(x)


def class_coverage(names: list[str], real: torch.Tensor, fake: torch.Tensor) -> str:
    """A table of class shares, their total variation distance and the classes under half their real share."""
    lines = [f"{'class':12s} real  samples"] + [f"{c:12s} {r:.3f} {f:.3f}" for c, r, f in zip(names, real, fake)]
    under = [c for c, r, f in zip(names, real, fake) if f < 0.5 * r]
    lines.append(f"total variation distance {0.5 * float((real - fake).abs().sum()):.3f}; "
                 f"under half their real share: {', '.join(under) or 'none'}")
    return "\n".join(lines)


def load(path: str):
    p = Path(path)
    if not p.exists() and path.startswith("PDDGAN-"):
        from semlib.recipes import pddgan_entry
        return pddgan_entry("cpu", path, device="cpu").model
    if p.is_file():
        ck = torch.load(p, map_location="cpu", weights_only=False)
        ck["nets"].setdefault("G", ck["nets"]["G_ema"])      # a kept weights.pt has the EMA generator only
        with tempfile.TemporaryDirectory() as d:
            torch.save(ck, Path(d) / "ckpt.pt")
            return load_ddgan(Path(d) / "ckpt.pt", device="cpu")[0]
    return load_ddgan(p, device="cpu")[0]


def main(path: str, n: int = 2000) -> None:
    torch.set_num_threads(1)
    m = load(path)
    dataset = m.config.dataset
    E = get_domain_extractor(dataset, resolution=32, seed=1, device="cpu")
    x = load_dataset(dataset, resolution=32, split="test").get_batch(torch.arange(n))[0]
    names = E.meta()["config"].get("class_names")
    if not dataset.startswith("synthfaces"):
        if not names:
            raise SystemExit(f"{path} is a {dataset} model: its domain network reads neither attributes nor classes")
        samples = m.sample(n, generator=torch.Generator().manual_seed(0))
        print(class_coverage(names, class_shares(E, x), class_shares(E, samples)))
        return
    print("attributes:", ", ".join(E.meta()["config"]["attr_names"]))
    print(summary("real", readings(E, x)))
    print(summary("samples", readings(E, m.sample(n, generator=torch.Generator().manual_seed(0)))))


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
