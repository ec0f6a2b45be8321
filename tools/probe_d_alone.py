"""Issue 7: can a trained DDGAN's D, or a fresh D of its design, separate real from fake pairs when G stands still?

Loads the run's last checkpoint (semlib.recipes.load_ddgan; a pixel-space run: D is fed images), freezes the raw G
and trains only D with its own d_step (semlib.diagnostics.d_alone_probe: the run's batch size and rates) for STEPS
steps, first the trained D, then a freshly initialised one.  Prints, at five points, D's loss and the separation (real
minus fake mean logit on the pairs of the first 64 training images, fixed noise) at every t.  A diagnostic for the
findings, not a result: it writes nothing.

    .venv/bin/python tools/probe_d_alone.py runs/cpu/DDGAN-BASE-synthfaces_zoom-T4-8k-constlr [steps] [threads]
"""
import sys

import torch

from semlib import load_dataset
from semlib.diagnostics import d_alone_probe, separation, use_discriminator
from semlib.methods import DDGAN
from semlib.recipes import load_ddgan


def main(run: str, steps: int = 200, threads: int = 2) -> None:
    torch.set_num_threads(threads)
    data = None
    for fresh in (False, True):
        torch.manual_seed(0)
        m, _ = load_ddgan(run, device="cpu")
        if m.config.space != "pixel":
            raise SystemExit(f"a {m.config.space} run's D sees transformed data: this probe feeds it images; "
                             f"give a pixel run")
        if fresh:
            use_discriminator(m, DDGAN(m.config, in_ch=m.G.conv_in.weight.shape[1]).D)
        if data is None:      # the same training images for both Ds
            data = load_dataset(m.config.dataset, resolution=m.config.resolution, split="train")
        for r in d_alone_probe(m, data, steps=steps, probe_every=max(1, steps // 4)):
            print("fresh D  " if fresh else "trained D", f"step {r['step']:4d}",
                  f"loss_d {r.get('loss_d', float('nan')):.3f}", " ".join(f"t{t} {separation(r, t):+.2f}" for t in range(m.process.T)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:4]))
