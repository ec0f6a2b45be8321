"""Which classes flip in PDDGAN Figure 2's class reading (issue 7; Fashion-MNIST): for pairs of samples of a two-step
model that differ in one input only (x2, z2, z1, and, as a control that the paper does not treat as semantic, noise1:
the posterior noise of the last step), the share of pairs whose top class (the domain network, seed 1) differs, split
into flips within a family of look-alike classes (tops: T-shirt/top, pullover, coat, shirt; shoes: sandal, sneaker,
ankle boot) and flips across families, with the most frequent flipped pairs.  The same pairs as the notebook's first
evaluation seed (`evaluation.attribute_change`'s pairs and readings, seed 0).

    .venv/bin/python tools/probe_f2_class_flips.py PDDGAN-T1-full-fashion-8k-constlr [PDDGAN-T1-baseline-...] [--n 250]

A diagnostic for the findings, not a result: it writes nothing and changes no verdict (Figure 2's rule counts every
flip).  Reads registered cpu row entries (`recipes.pddgan_entry`).
"""
import argparse
import collections

from semlib.evaluation import attribute_change
from semlib.metrics import get_domain_extractor
from semlib.recipes import pddgan_entry

FAMILIES = {"tops": ("T-shirt/top", "Pullover", "Coat", "Shirt"), "shoes": ("Sandal", "Sneaker", "Ankle boot")}


def flips(model, E, variable: str, n: int, seed: int = 0) -> list[tuple[int, int]]:
    """(class of a, class of b) for n pairs that differ in `variable` only: `attribute_change`'s own pairs."""
    a, b = attribute_change(model, variable, lambda x: E.predict(x).argmax(1, keepdim=True), n=n, seed=seed)["readings"]
    return list(zip(a[:, 0].tolist(), b[:, 0].tolist()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("entries", nargs="+")
    ap.add_argument("--n", type=int, default=250)
    a = ap.parse_args()
    E = None
    for entry in a.entries:
        m = pddgan_entry("cpu", entry, device="cpu").model
        E = E or get_domain_extractor(m.config.dataset, resolution=32, seed=1, device="cpu")
        names = E.meta()["config"].get("class_names")
        if not names:
            raise SystemExit(f"{m.config.dataset}: the domain network reads attributes, not classes")
        family = {names.index(c): f for f, cs in FAMILIES.items() for c in cs if c in names}
        print(f"== {entry} ({a.n} pairs per input, top class of dom seed 1)")
        for var in ("x2", "z2", "z1", "noise1"):
            pairs = flips(m, E, var, a.n)
            flipped = [(p, q) for p, q in pairs if p != q]
            within = [(p, q) for p, q in flipped if family.get(p) is not None and family.get(p) == family.get(q)]
            top = collections.Counter(tuple(sorted((names[p], names[q]))) for p, q in flipped).most_common(4)
            print(f"{var:7s} flipped {len(flipped) / len(pairs):.3f} | within a family {len(within) / len(pairs):.3f} | "
                  f"across {(len(flipped) - len(within)) / len(pairs):.3f} | most: "
                  + "; ".join(f"{p}-{q} {c}" for (p, q), c in top))


if __name__ == "__main__":
    main()
