"""Issue 7: the last denoising step alone as a conditional GAN, to compare discriminator settings in minutes.

tools/probe_ddgan_partial.py found that a trained DDGAN (the cpu preset at T = 4) loses about half of the FID_dom gap
and most of recall_dom already in its last step, drawn from a real x_1.  This script trains DDGAN's own method and
loop (semlib.train.fit) on pairs at t = 0 only (x_0 real, x_1 ~ q(x_1 | x_0)), for the cpu preset at T = 4 with
config overrides, then scores G's x_0 from real test x_1 as that probe's k = 1 does (FID_dom, gap closed, precision,
recall; n test images, one seed).  A diagnostic for the findings, not a result: it trains into scratch/ and commits
nothing.

    .venv/bin/python tools/probe_last_step.py NAME [steps] [key=value ...]   # e.g. dwide 800 d_ch=32 r1_gamma=2
"""
import json
import sys

import torch

from semlib import load_dataset
from semlib.config import ddgan_preset
from semlib.methods.ddgan import DDGAN
from semlib.train import fit, read_log

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from probe_ddgan_partial import scorer  # noqa: E402  (the same protocol as that probe's k = 1)


class LastStepDDGAN(DDGAN):
    """DDGAN trained on the pairs of its last step only (t = 0)."""

    def training_t(self, step, n, device, generator):
        return torch.zeros(n, dtype=torch.long, device=device)


def main(name: str, steps: int = 800, *pairs: str) -> None:
    torch.set_num_threads(1)
    over = {k: json.loads(v) for k, v in (p.split("=", 1) for p in pairs)}
    cfg = ddgan_preset("cpu", dataset="synthfaces", num_timesteps=4, steps=steps, eval_every=None, ema_decay=0.99,
                       ckpt_every=steps, **over)
    m = LastStepDDGAN(cfg, in_ch=3)
    log = fit(m, load_dataset("synthfaces", resolution=32, split="train"), f"scratch/last_step/{name}")
    score, floor, _ = scorer("synthfaces", 32, 2000)
    n = len(floor)
    g = torch.Generator().manual_seed(0)
    t0 = torch.zeros(n, dtype=torch.long)
    x_1 = m.process.q_sample(floor, t0 + 1, generator=g)
    z = torch.randn(n, cfg.nz, generator=g)
    with torch.no_grad():
        for tag, G in (("G_ema", m.G_ema), ("G", m.G)):
            G.eval()
            x0 = torch.cat([G(x_1[i:i + 500], t0[i:i + 500], z[i:i + 500]) for i in range(0, n, 500)]).clamp(-1, 1)
            print(f"{name} ({steps} steps, {over}) {tag}: " + score(x0), flush=True)
    tail = read_log(log.run_dir)[-5:]
    print(f"{name}: last {len(tail)} log lines: loss_d " + ", ".join(f"{l['loss_d']:.3f}" for l in tail)
          + "; d_real - d_fake " + ", ".join(f"{l['d_real'] - l['d_fake']:.2f}" for l in tail)
          + "; gnorm_d " + ", ".join(f"{l['gnorm_d']:.1f}" for l in tail), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:3]), *sys.argv[3:])
