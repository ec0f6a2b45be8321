"""Training LDDGAN's first stage (004, Sec. 4.2): an image autoencoder with a perceptual and a patch-GAN loss.

    net = get_domain_extractor(cfg.dataset, resolution=cfg.resolution)        # perceptual net ("dom"), or real weights
    ae = Autoencoder(autoencoder_preset("cpu"), perceptual_net=net)
    train(ae, dataset, run_dir, ...)                                            # the shared loop
    ae.measure_scale_factor(dataset)                                            # std of the encoded training set
    save_autoencoder(ae.net, path); net = load_autoencoder(path)                # what LDDGAN's config points to

The loss of the autoencoder (one step): L1(x, x') + perceptual_weight * sum_l mean |V_l(x) - V_l(x')|
+ (vq) codebook + commitment, or (kl) kl_weight * KL, + disc_weight * (-D(x')) once step >= disc_start; the patch
discriminator D takes a hinge loss from then on.  VQGAN's adaptive discriminator weight is not used: a fixed weight
is simpler to reason about at small scale (our choice).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import AutoencoderConfig
from ..nets.autoencoder import AutoencoderNet, PatchDiscriminator


SCALE_RULE = "std/0.5"        # how the scale factor is measured (saved with the autoencoder; an older file is re-measured)
LATENT_STD = 0.5              # the std of the scaled latents: about that of images in [-1, 1]


class Autoencoder:
    """Method protocol of semlib.train for the autoencoder; the trained model is `self.net` (AutoencoderNet)."""

    def __init__(self, config: AutoencoderConfig, perceptual_net: nn.Module | None = None, seed: int | None = None):
        self.config = config
        torch.manual_seed(config.seed if seed is None else seed)
        self.net = AutoencoderNet(config)
        self.D = PatchDiscriminator(config.in_ch, config.d_ch, config.d_layers)
        if config.perceptual_weight > 0 and perceptual_net is None:
            raise ValueError("perceptual_weight > 0 needs a perceptual network with feature_maps(x): "
                             "semlib.metrics.get_domain_extractor(dataset, resolution=...) or real weights by path; "
                             "or set perceptual_weight=0")
        self.V = perceptual_net.eval().requires_grad_(False) if perceptual_net is not None else None
        self._opts: dict[str, torch.optim.Optimizer] | None = None

    # ---------------------------------------------------------------- Method protocol
    def networks(self) -> dict[str, nn.Module]:
        return {"AE": self.net, "D": self.D}

    def trainable(self) -> dict[str, nn.Module]:
        return {"AE": self.net, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self._opts is None:
            c = self.config
            self._opts = {"AE": torch.optim.Adam(self.net.parameters(), lr=c.lr, betas=(c.beta1, c.beta2)),
                          "D": torch.optim.Adam(self.D.parameters(), lr=c.lr_d, betas=(c.beta1, c.beta2))}
        return self._opts

    def ema_pairs(self) -> dict[str, str]:
        return {}

    def _perceptual(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        V = self.V.to(fake.device)
        with torch.no_grad():
            target = V.feature_maps(real)
        return sum(F.l1_loss(f, r) for f, r in zip(V.feature_maps(fake), target))

    def reconstruct(self, x: torch.Tensor, net: nn.Module, generator: torch.Generator | None = None):
        """x' and the regulariser (codebook + commitment, or KL) with its logged extras."""
        c = self.config
        inner = net.module if hasattr(net, "module") else net
        if c.kind == "vq":
            h = inner.encoder(x)
            hq, reg, extra = inner.quantizer(h)
            return inner.decoder(hq), reg, extra
        mean, logvar = inner.posterior(x)
        h = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator, device=mean.device)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1).mean()
        return inner.decoder(h), c.kl_weight * kl, {"kl": kl.detach()}

    def training_step(self, x0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        c = self.config
        opt = self.optimizers()
        gan_on = step >= c.disc_start and c.disc_weight > 0
        # autoencoder
        self.D.requires_grad_(False)
        opt["AE"].zero_grad(set_to_none=True)
        x_rec, reg, extra = self.reconstruct(x0, nets["AE"], generator)
        l1 = (x_rec - x0).abs().mean()
        loss = l1 + reg
        out = {"l1": l1.detach(), "reg": reg.detach(), **extra}
        if self.V is not None and c.perceptual_weight > 0:
            per = self._perceptual(x_rec, x0)
            loss = loss + c.perceptual_weight * per
            out["perceptual"] = per.detach()
        if gan_on:
            g = -self.D(x_rec).mean()
            loss = loss + c.disc_weight * g
            out["loss_g"] = g.detach()
        loss.backward()
        opt["AE"].step()
        self.D.requires_grad_(True)
        # patch discriminator (hinge), once it has joined
        if gan_on:
            opt["D"].zero_grad(set_to_none=True)
            d_real, d_fake = nets["D"](x0), nets["D"](x_rec.detach())
            loss_d = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
            loss_d.backward()
            opt["D"].step()
            out["loss_d"] = loss_d.detach()
        return out

    # ---------------------------------------------------------------- after training
    def measure_scale_factor(self, dataset, n: int = 5000, batch_size: int = 500, seed: int = 0) -> float:
        """See `measure_scale_factor` (module level): sets self.net's scale factor and returns it."""
        return measure_scale_factor(self.net, dataset, n=n, batch_size=batch_size, seed=seed)


@torch.no_grad()
def measure_scale_factor(net: AutoencoderNet, dataset, n: int = 5000, batch_size: int = 500, seed: int = 0) -> float:
    """The std of the encoded training latents (n random images) over LATENT_STD (SCALE_RULE).  LDDGAN divides latents
    by it, so they have a std of 0.5, about that of images in [-1, 1], and LatentSpace clamps them to [-1, 1] (the
    generator ends in tanh; about 6% of our synthfaces latents, which costs 0.2 dB of reconstruction PSNR).  Two rules
    failed first, at `cpu` scale: a unit std (LDM's) left a third of the values beyond +-1, where G cannot follow, and
    D won at once; the 99.9th percentile of |h| gave a std of 0.19, and D sat at 2 ln 2 for 950 steps (inputs too small
    against the schedule's noise).  With std 0.5, D leaves chance within 200 steps (see the findings).  The reference
    fixes the factor per dataset (105 for CIFAR-10) without saying how.  Stored in the net (saved with its weights)."""
    net.eval()
    n = min(n, len(dataset))
    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    dev = next(net.parameters()).device
    h = torch.cat([net.encode(dataset.get_batch(idx[i:i + batch_size])[0].to(dev)).cpu().flatten()
                   for i in range(0, n, batch_size)])
    s = float(h.double().std()) / LATENT_STD
    net.set_scale_factor(s)
    return s


def save_autoencoder(net: AutoencoderNet, path: str | Path) -> Path:
    """Weights, config and scale factor in one file (what DDGANConfig.autoencoder points to)."""
    if net.scale_factor is None:
        raise ValueError("measure the scale factor first (Autoencoder.measure_scale_factor): LDDGAN needs it")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": net.config.to_dict(), "state": net.state_dict(), "kind": "semlib-autoencoder",
                "scale_rule": SCALE_RULE}, path)
    return path


def load_autoencoder(path: str | Path, map_location="cpu") -> AutoencoderNet:
    """The autoencoder saved by save_autoencoder, with a clear error for anything else."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no autoencoder at {path}: train one first (the LDDGAN-T1 notebook, or "
                                f"semlib.recipes.trained_autoencoder)")
    blob = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(blob, dict) or blob.get("kind") != "semlib-autoencoder":
        raise ValueError(f"{path} is not an autoencoder saved by semlib.methods.autoencoder.save_autoencoder")
    net = AutoencoderNet(AutoencoderConfig.from_dict(blob["config"]))
    net.scale_rule = blob.get("scale_rule", "std")     # files written before the rule changed measured the std
    try:
        net.load_state_dict(blob["state"])
    except RuntimeError as e:
        raise ValueError(f"{path}: its weights do not fit its own config (a corrupted or hand-edited file): {e}") from e
    return net.eval()
