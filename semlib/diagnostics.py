"""Diagnostics of the adversarial game of DDGAN-type methods (notebooks/ddgan_diagnosis.ipynb).

    trace = game_trace(DDGAN(cfg), dataset, steps=200, probe_every=25)   # joint training, probed
    alone = d_alone_probe(DDGAN(cfg), dataset, steps=60)                 # D against a frozen G

A *trace* is a list of dicts, one per probe: the step, the mean losses and gradient norms since the
last probe, and the mean D logit on real and on fake pairs of a fixed probe batch at every index t.
A discriminator that takes part in the game keeps real and fake logits apart; one stuck at chance
shows loss_d = 2 ln 2 and logits near 0 for both.

`LegacyPairDiscriminator` is the discriminator semlib had before the diagnosis (kept here only so
the diagnosis can be rerun; no method uses it).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .nets.layers import MinibatchStd, TimeEmbedding
from .train import _batch_indices, _step_generator

CHANCE_LOSS_D = 2.0 * math.log(2.0)      # loss_d of a discriminator that outputs 0 everywhere


# ------------------------------------------------------------------ the discriminator before the fix
class _LegacyBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, down: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.temb = nn.Linear(temb_dim, out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.down = down

    def forward(self, x, temb):
        h = self.conv1(F.leaky_relu(x, 0.2)) + self.temb(temb)[:, :, None, None]
        h = self.conv2(F.leaky_relu(h, 0.2))          # conv2 before the downsampling
        s = self.skip(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return (h + s) / math.sqrt(2.0)


class LegacyPairDiscriminator(nn.Module):
    """semlib's D up to commit d2db0e6: conv_in to ch, blocks ch * (1, 2, 2, 2) that all downsample by
    average pooling, conv2 at the full resolution of the block, PyTorch's default initialisation."""

    def __init__(self, *, resolution: int = 32, in_ch: int = 3, ch: int = 32,
                 ch_mult: tuple[int, ...] = (1, 2, 2, 2), t_emb_dim: int = 64):
        super().__init__()
        self.time_embed = TimeEmbedding(t_emb_dim, t_emb_dim, act=lambda: nn.LeakyReLU(0.2))
        self.conv_in = nn.Conv2d(2 * in_ch, ch, 1)
        blocks, cur = [], ch
        for i, m in enumerate(ch_mult):
            blocks.append(_LegacyBlock(cur, ch * m, t_emb_dim, down=(resolution >> i) > 4))
            cur = ch * m
        self.blocks = nn.ModuleList(blocks)
        self.mbstd = MinibatchStd(group_size=4, num_features=1)
        self.conv_out = nn.Conv2d(cur + 1, cur, 3, padding=1)
        self.head = nn.Linear(cur, 1)

    def forward(self, x_t, t, x_tp1):
        temb = F.leaky_relu(self.time_embed(t), 0.2)
        h = self.conv_in(torch.cat([x_t, x_tp1], dim=1))
        for b in self.blocks:
            h = b(h, temb)
        h = F.leaky_relu(self.conv_out(self.mbstd(h)), 0.2)
        return self.head(h.sum(dim=[2, 3])).squeeze(1)


def use_discriminator(method, D: nn.Module):
    """Put another discriminator into a DDGAN-type method (before any training step)."""
    method.D = D
    method._opts = None
    return method


# ------------------------------------------------------------------ probes
@torch.no_grad()
def probe_logits(method, x0: torch.Tensor, seed: int = 12345) -> dict[str, list[float]]:
    """Mean D logit on real and on fake pairs of the batch x0 at every index t (fixed noise; G, not EMA)."""
    T = method.process.T
    real, fake = [], []
    was = method.G.training, method.D.training
    method.G.eval(), method.D.eval()
    for i in range(T):
        g = torch.Generator(device=x0.device).manual_seed(seed + i)
        t = torch.full((x0.shape[0],), i, dtype=torch.long, device=x0.device)
        x_t, x_tp1 = method.process.q_sample_pairs(x0, t, g)
        x0_fake = method.G(x_tp1, t, method.generator_latent(x0, t, g))
        x_t_fake = method.process.sample_posterior(x0_fake, x_tp1, t, g)
        real.append(method.D(x_t, t, x_tp1).mean().item())
        fake.append(method.D(x_t_fake, t, x_tp1).mean().item())
    method.G.train(was[0]), method.D.train(was[1])
    return {"real": real, "fake": fake}


def game_trace(method, dataset, *, steps: int, probe_every: int = 25, batch_size: int | None = None,
               seed: int = 0, n_probe: int = 64) -> list[dict]:
    """Train `method` jointly (its own training_step, constant learning rates) for `steps` and probe
    it every `probe_every` steps; see the module docstring for what each record holds."""
    batch_size = batch_size or method.config.batch_size
    nets = method.trainable()
    x_probe = dataset.get_batch(torch.arange(min(n_probe, len(dataset))))[0]
    trace = [{"step": 0, **_logits_record(method, x_probe)}]
    acc: dict[str, float] = {}
    for step in range(steps):
        x0, y = dataset.get_batch(_batch_indices(len(dataset), batch_size, step, seed, 0, 1))
        out = method.training_step(x0, y, step, _step_generator(x0.device, seed, step, 0), nets)
        for k, v in out.items():
            if k != "r1":
                acc[k] = acc.get(k, 0.0) + float(v)
        if (step + 1) % probe_every == 0 or step + 1 == steps:
            n = (step % probe_every) + 1
            trace.append({"step": step + 1, **{k: v / n for k, v in acc.items()},
                          **_logits_record(method, x_probe)})
            acc = {}
    return trace


def _logits_record(method, x_probe) -> dict:
    p = probe_logits(method, x_probe)
    return {"real_t": p["real"], "fake_t": p["fake"]}


def d_alone_probe(method, dataset, *, steps: int = 60, batch_size: int | None = None, seed: int = 0,
                  n_probe: int = 64, probe_every: int = 10) -> list[dict]:
    """Train only D (its own d_step) against the method's current G, frozen: can D separate the pairs?"""
    batch_size = batch_size or method.config.batch_size
    x_probe = dataset.get_batch(torch.arange(min(n_probe, len(dataset))))[0]
    method.G.requires_grad_(False)
    trace = [{"step": 0, **_logits_record(method, x_probe)}]
    try:
        for step in range(steps):
            x0, _ = dataset.get_batch(_batch_indices(len(dataset), batch_size, step, seed, 0, 1))
            out = method.d_step(x0, step, _step_generator(x0.device, seed, step, 0), method.G, method.D)
            if (step + 1) % probe_every == 0 or step + 1 == steps:
                trace.append({"step": step + 1, "loss_d": float(out["loss_d"]), **_logits_record(method, x_probe)})
    finally:
        method.G.requires_grad_(True)
    return trace


def separation(record: dict, t: int = 0) -> float:
    """Real minus fake mean logit at index t: > 0 when D tells them apart."""
    return record["real_t"][t] - record["fake_t"][t]


# ------------------------------------------------------------------ one change at a time
# name -> (what changes, DDGANConfig overrides, use the legacy D).  "reference" is the new default
# design at the scale's preset; every other row changes one thing from it, except "before", which is
# the landed setup that stalled (legacy D, PyTorch init, box resampling, the old learning rates).
VARIANTS: dict[str, tuple[str, dict, bool]] = {
    "before": ("legacy D (0.29 M at cpu), PyTorch init, box filters, lr_d 1.25e-4 / lr_g 2e-4",
               dict(init="torch", resample_filter="box", lr_d=1.25e-4, lr_g=2e-4), True),
    "reference": ("the scale's preset (reference D design and init)", {}, False),
    "d_narrow": ("D at half width (ngf / 2)", {"d_ch": "half"}, False),
    "d_wide": ("D at double width (ngf x 2)", {"d_ch": "double"}, False),
    "init_torch": ("PyTorch's default init instead of the reference's", dict(init="torch"), False),
    "box_filter": ("average-pool / nearest resampling instead of FIR", dict(resample_filter="box"), False),
    "lr_d_old": ("the landed lr_d 1.25e-4 (below lr_g)", dict(lr_d=1.25e-4), False),
    "lr_ttur": ("D 3x faster than G: lr_d 4e-4, lr_g 1.25e-4", dict(lr_d=4e-4, lr_g=1.25e-4), False),
    "r1_off": ("no R1 penalty", dict(r1_gamma=0.0), False),
    "T2": ("T = 2 instead of 4", dict(num_timesteps=2), False),
}


def variant_config(cfg, name: str):
    """cfg with the changes of VARIANTS[name] applied (width changes are relative to cfg.d_ch)."""
    from .config import with_overrides
    _, changes, _ = VARIANTS[name]
    changes = dict(changes)
    if changes.get("d_ch") == "half":
        changes["d_ch"] = max(1, cfg.d_ch // 2)
    elif changes.get("d_ch") == "double":
        changes["d_ch"] = cfg.d_ch * 2
    return with_overrides(cfg, **changes)


# the legacy D's width and time-embedding size in the presets before the fix (d_ch, t_emb_dim)
LEGACY_D = {"smoke": (16, 32), "cpu": (32, 64), "gpu": (64, 128), "paper": (64, 128)}


def build_variant(cfg, name: str, in_ch: int, scale: str):
    """A DDGAN of variant `name` (the legacy D of that scale put in where the variant asks for it)."""
    from .methods import DDGAN
    m = DDGAN(variant_config(cfg, name), in_ch=in_ch)
    if VARIANTS[name][2]:
        torch.manual_seed(cfg.seed)
        ch, temb = LEGACY_D[scale]
        use_discriminator(m, LegacyPairDiscriminator(resolution=cfg.resolution, in_ch=in_ch, ch=ch, t_emb_dim=temb))
    return m


def summarise(trace: list[dict], tail: float = 0.5) -> dict[str, float]:
    """Numbers of one trace over its last `tail` fraction of probes: mean loss_d, its distance from
    2 ln 2, the mean real-minus-fake logit at t = 0, the largest one seen, and mean gradient norms."""
    recs = [r for r in trace if "loss_d" in r]
    last = recs[-max(1, int(round(len(recs) * tail))):]
    mean = lambda k, rs=last: sum(r[k] for r in rs) / len(rs)   # noqa: E731
    return {"loss_d": mean("loss_d"), "loss_d_minus_chance": mean("loss_d") - CHANCE_LOSS_D,
            "sep_t0": sum(separation(r) for r in last) / len(last),
            "sep_t0_max": max(separation(r) for r in recs),
            "gnorm_d": mean("gnorm_d"), "gnorm_g": mean("gnorm_g")}


def plot_traces(traces: dict[str, list[dict]], path, T: int):
    """Per variant: loss_d against 2 ln 2, and the real (solid) / fake (dashed) logits at every t."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    names = list(traces)
    fig, axes = plt.subplots(2, len(names), figsize=(2.9 * len(names), 5.2), squeeze=False, sharex=True)
    colours = plt.cm.viridis([i / max(1, T - 1) for i in range(T)])
    for j, name in enumerate(names):
        tr = traces[name]
        recs = [r for r in tr if "loss_d" in r]
        ax = axes[0, j]
        ax.plot([r["step"] for r in recs], [r["loss_d"] for r in recs], lw=1.2)
        ax.axhline(CHANCE_LOSS_D, color="k", ls=":", lw=1)
        ax.set_title(name, fontsize=9)
        ax.set_ylim(0.6, 1.9)
        ax = axes[1, j]
        steps = [r["step"] for r in tr]
        for t in range(len(tr[0]["real_t"])):
            ax.plot(steps, [r["real_t"][t] for r in tr], color=colours[t % len(colours)], lw=1.1, label=f"t={t}")
            ax.plot(steps, [r["fake_t"][t] for r in tr], color=colours[t % len(colours)], lw=1.1, ls="--")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("step")
    axes[0, 0].set_ylabel("loss_d (dotted: 2 ln 2)")
    axes[1, 0].set_ylabel("D logit: real -, fake --")
    axes[1, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def describe(summary: dict[str, dict[str, float]], sep_alone: float) -> str:
    """The finding in numbers: the landed setup against the reference one, what each single change does
    to the game (t = 0 separation and loss_d, relative to `reference`), and the D-alone probe."""
    out = []
    for name in ("before", "reference"):
        if name in summary:
            s = summary[name]
            out.append(f"- **{name}**: loss_d {s['loss_d']:.3f} ({s['loss_d_minus_chance']:+.3f} from 2 ln 2), "
                       f"real-minus-fake logit at t = 0 {s['sep_t0']:+.2f} (largest {s['sep_t0_max']:+.2f}), "
                       f"gradient norm of D {s['gnorm_d']:.2f}.")
    ref = summary.get("reference")
    if ref is not None:
        for name, s in summary.items():
            if name in ("before", "reference"):
                continue
            out.append(f"- {name} ({VARIANTS[name][0]}): t = 0 separation {s['sep_t0']:+.2f} "
                       f"({s['sep_t0'] - ref['sep_t0']:+.2f} against reference), loss_d {s['loss_d']:.3f}.")
    out.append(f"- D alone against the frozen G of the landed setup: t = 0 separation {sep_alone:+.2f} logits "
               f"at the end of the probe ({'it separates the pairs' if sep_alone > 1 else 'it does not separate them'}).")
    return "\n".join(out)
