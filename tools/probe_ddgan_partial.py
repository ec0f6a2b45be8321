"""Where a trained DDGAN loses the data's variety (issue 7): start its sampler from real test images noised to step k
(x_k ~ q(x_k | x_0)) and let G draw only the remaining k steps; k = T is the ordinary sampler from noise.

    .venv/bin/python tools/probe_ddgan_partial.py results/cpu/DDGAN-BASE-synthfaces-T4/weights.pt [n]

For each k it prints FID_dom, the gap closed, precision_dom and recall_dom of n such images against n training images
(the protocol of ddgan.ipynb, one evaluation seed).  If recall stays high while only the last steps are G's, those
steps keep the variety the real x_k carries and the loss is in the first, unconditional steps; if it falls already
at k = 1, the last (detail) step is where it is lost.  A diagnostic for the findings, not a result: it writes nothing.
"""
import sys

import torch

from semlib import load_dataset
from semlib.evaluation import reference_sets, sample_quality
from semlib.metrics import get_extractor
from semlib.samplers import ddgan_loop, draw_randomness
from semlib.study import gap_closed

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from attribute_coverage import load  # noqa: E402  (the same loader of a run folder or a kept weights.pt)


def scorer(dataset: str, resolution: int, n: int):
    """(score, floor, header): score(images) is the line FID_dom, gap closed, precision_dom and recall_dom of n images
    against n training images (one evaluation seed); floor the n real test images; header names the real-data floor
    and the noise FID the gap is measured between."""
    train = load_dataset(dataset, resolution=resolution, split="train")
    test = load_dataset(dataset, resolution=resolution, split="test")
    ref, floor, noise = reference_sets(train, test, n)
    E = get_extractor(dataset, resolution=resolution, device="cpu")
    name = E.name

    def q(images: torch.Tensor) -> dict:
        return sample_quality(lambda k, g: images[:k], ref, E, n=n, seeds=[0], progress=False)

    fid_floor, fid_noise = q(floor)[f"FID_{name}"], q(noise)[f"FID_{name}"]

    def score(images: torch.Tensor) -> str:
        r = q(images)
        fid = r[f"FID_{name}"]
        return (f"FID_{name} {fid:.2f}, gap closed {gap_closed(fid, fid_noise, fid_floor):.3f}, "
                f"precision {r[f'precision_{name}']:.3f}, recall {r[f'recall_{name}']:.3f}")

    return score, floor, f"extractor {name}; real floor FID {fid_floor:.2f}, noise FID {fid_noise:.1f}"


def main(path: str, n: int = 2000) -> None:
    torch.set_num_threads(1)
    m = load(path)
    c = m.config
    score, floor, header = scorer(c.dataset, c.resolution, n)
    P, T = m.process, m.process.T
    print(f"{path}: T = {T}, n = {n}, {header}")
    x0 = floor[:n]
    for k in range(1, T + 1):
        g = torch.Generator().manual_seed(0)
        x_k = P.q_sample(x0, torch.full((n,), k, dtype=torch.long), generator=g)
        zs, noises = draw_randomness(T, n, c.nz, tuple(x0.shape[1:]), generator=g, device="cpu")
        x = ddgan_loop(m.G_ema, P, x_k, zs, noises, start=k)      # G's remaining steps k-1 .. 0
        print(f"k = {k} ({'G draws every step' if k == T else f'real x_{k}, G draws the last {k} step(s)'}): "
              + score(x.clamp(-1, 1)))


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]))
