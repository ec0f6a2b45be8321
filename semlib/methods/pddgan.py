"""Progressive DDGAN (seed 000, Yang et al.): a two-step DDGAN whose first-step latent z_2 is semantic.

    net = get_domain_extractor(cfg.dataset, resolution=cfg.resolution, device=device)  # V, "dom"
    pddgan = PDDGAN(pddgan_preset("cpu", "full"), in_ch=3, perceptual_net=net)
    fit(pddgan, dataset, run_dir)                      # the one shared loop (semlib.train)
    pddgan.fit_latent_prior(dataset)                   # Gaussian over SE(x_0) for unconditional samples
    x = pddgan.sample(100, generator=g)                # NFE = 2
    x = pddgan.generate(x2, pddgan.encode(x0), z1, noise1)  # deterministic, for PPL / interpolation

Index convention (semlib.diffusion.DDGANProcess): G(x_{t+1}, t, z) gets the index t of its target, so
the paper's step "t = 2" (x_2 -> x_0, semantics generation) is index 1 and its "t = 1" (x_1 -> x_0,
detail refinement) is index 0.  Everything else - schedule, U-Net, discriminator, R1, sampler,
training loop - is DDGAN's; this class only fills DDGAN's hooks:

* generator_latent: z = SE(x_0) at index 1 (z_2), random at index 0 (z_1); z_2 goes through G's
  ordinary z path (mapping network + adaptive group norm).
* generator_extra_losses: L_Sem (000 Eq. 1) on index-1 samples, L_Per (000 Eq. 2) on index-0 samples.
* training_t: the progressive schedule (000 Eq. 3).

Choices the paper leaves open (each is a documented default, not a claim about the authors' code):
* L_Per's target x~_0 = G(x_2, SE(x_0), 1) with x_2 drawn from the batch's x_1 by the forward step is
  computed without gradients (a fixed target): Eq. 2 takes an expectation over p_theta(x_{t+1:T}) and
  does not say whether x~_0 carries gradients; detaching keeps L_Per a refinement-stage loss only.
* Eq. 3 counts epochs; we count optimisation steps, n_e / N_e = step / config.steps (a smooth version
  of the same linear decay; N_e is config.steps, which `fit` also trains for).
* Each L1 term is a mean over the samples of its index (a Monte Carlo estimate of its expectation),
  so its weight does not drift with the progressive fraction P.
* The feature term sums, over V's layers, the mean absolute difference of the feature maps.
* Unconditional sampling needs a z_2 without an image: by default a Gaussian with the mean and full
  covariance of SE(x_0) over training images (fit_latent_prior), or N(0, I) (prior="standard").

In another space (ours, not 000's: config.space = "latent", LDDGAN's first stage as the space) the whole
two-step game runs on the autoencoder's scaled latents, as DDGAN's does (semlib.methods.ddgan): x_2, x_1, x_0, G,
D and SE see latents; encode() and fit_latent_prior() take images and encode them first; samples and generate()
are decoded.  L_Sem's first term and L_Per are L1 distances between latents (as LDDGAN's reconstruction term),
and L_Sem's feature term compares V's features of the decoded prediction and the decoded x_0 (the decoder is
frozen; gradients pass through it to G).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import PDDGANConfig
from ..ema import make_ema
from ..nets import ConvEncoder
from .ddgan import DDGAN

# ImageNet statistics of torchvision's VGG16 weights.
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_VGG16_TAPS = {3: "relu1_2", 8: "relu2_2", 15: "relu3_3"}   # indices in torchvision vgg16().features


class VGG16Features(nn.Module):
    """relu1_2, relu2_2 and relu3_3 of VGG16, from a LOCAL torchvision state dict (never downloaded).

    feature_maps(x) takes images in [-1, 1] (1 or 3 channels, any size), maps them to ImageNet
    statistics and resizes images smaller than `min_size` up to it (VGG needs room to downsample).
    """

    name = "vgg16"

    def __init__(self, weights_path: str | Path, min_size: int = 64):
        super().__init__()
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"VGG16 weights not found at '{path}'. semlib never downloads weights: put torchvision's "
                f"VGG16 state dict (e.g. vgg16-397923af.pth) at that path, or pass perceptual_net= "
                f"(e.g. semlib.metrics.get_domain_extractor(...)) instead of vgg_weights=.")
        import torchvision

        vgg = torchvision.models.vgg16(weights=None)
        try:
            vgg.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as e:  # noqa: BLE001 - one clear message instead of a deep traceback
            raise ValueError(f"'{path}' is not a torchvision VGG16 state dict ({e})") from e
        self.features = vgg.features[:max(_VGG16_TAPS) + 1]
        for m in self.features:          # tapped activations must not be overwritten in place
            if isinstance(m, nn.ReLU):
                m.inplace = False
        self.min_size = min_size
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if min(x.shape[-2:]) < self.min_size:
            s = self.min_size / min(x.shape[-2:])
            x = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)
        h = ((x + 1) / 2 - self.mean) / self.std
        maps = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in _VGG16_TAPS:
                maps.append(h)
        return maps


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean()


class PDDGAN(DDGAN):
    """DDGAN (T = 2) + semantic encoder SE, L_Sem, L_Per and progressive t-sampling (000 Sec. 2)."""

    def __init__(self, config: PDDGANConfig, in_ch: int = 3, seed: int | None = None, *,
                 perceptual_net: nn.Module | None = None,     # V with feature_maps(x in [-1, 1]), e.g. DomainNet
                 vgg_weights: str | Path | None = None,       # or a local torchvision VGG16 state dict
                 space=None):                                 # a semlib.spaces object (default: from config.space)
        if config.num_timesteps != 2:
            raise ValueError(f"PDDGAN is defined for T = 2 (got num_timesteps={config.num_timesteps}); "
                             f"use pddgan_preset(...), which sets it")
        needs_se = [k for k in ("l1_pixel", "l1_feature", "l_per") if getattr(config, k)]
        if needs_se and not config.semantic_encoder:
            raise ValueError(f"{needs_se} need the semantic encoder: set semantic_encoder=True")
        if not 0.0 <= config.p_min <= config.p_max <= 1.0:
            raise ValueError(f"need 0 <= p_min <= p_max <= 1, got p_min={config.p_min}, p_max={config.p_max}")
        if perceptual_net is not None and vgg_weights is not None:
            raise ValueError("pass either perceptual_net= or vgg_weights=, not both")
        super().__init__(config, in_ch, seed, space)  # seeds torch, builds the space, process, G, D, G_ema
        c = config
        self.SE: ConvEncoder | None = None
        self.SE_ema: nn.Module | None = None
        if c.semantic_encoder:
            # z_2 has G's latent size: it enters G through the same mapping network as a random z
            # SE reads x_0 in the space G sees (the image in pixel space, its scaled latent in latent space)
            self.SE = ConvEncoder(self.data_res, self.data_ch, c.enc_ch, c.enc_ch_mult, out_dim=c.nz)
            self.SE_ema = make_ema(self.SE)
        # perceptual network V of 000 Eq. 1 (frozen, not checkpointed: it is an input of the run)
        if vgg_weights is not None:
            perceptual_net = VGG16Features(vgg_weights)
        if c.l1_feature and perceptual_net is None:
            raise ValueError("l1_feature needs a perceptual network V: pass perceptual_net="
                             "semlib.metrics.get_domain_extractor(dataset, resolution=..., device=...) "
                             "or vgg_weights='/path/to/vgg16.pth'")
        self.V = perceptual_net.eval().requires_grad_(False) if perceptual_net is not None else None
        self.perceptual_name: str | None = getattr(self.V, "name", "custom") if self.V is not None else None
        self._se_train: nn.Module | None = None       # SE as handed by the loop (DDP-wrapped under torchrun)
        self.latent_mean: torch.Tensor | None = None  # fitted prior of z_2 (fit_latent_prior)
        self.latent_cov: torch.Tensor | None = None

    # ---------------------------------------------------------------- Method protocol
    def networks(self) -> dict[str, nn.Module]:
        nets = super().networks()
        if self.SE is not None:
            nets.update(SE=self.SE, SE_ema=self.SE_ema)
        return nets

    def trainable(self) -> dict[str, nn.Module]:
        nets = super().trainable()
        if self.SE is not None:
            nets["SE"] = self.SE
        return nets

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self._opts is None:
            opts = super().optimizers()
            if self.SE is not None:   # SE is trained with G: a second param group of G's optimiser
                opts["G"].add_param_group({"params": list(self.SE.parameters())})
        return self._opts

    def ema_pairs(self) -> dict[str, str]:
        return {"G_ema": "G", "SE_ema": "SE"} if self.SE is not None else {"G_ema": "G"}

    def training_step(self, x0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        self._se_train = nets.get("SE", self.SE)
        try:
            return super().training_step(x0, y, step, generator, nets)
        finally:
            self._se_train = None

    # ---------------------------------------------------------------- DDGAN hooks
    def generator_latent(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """z_2 = SE(x_0) at index 1, random z_1 at index 0 (random everywhere without the encoder)."""
        z = super().generator_latent(x0, t, generator)
        if self.SE is None:
            return z
        # with grad (G step): the loop's SE, so DDP syncs its gradients; without (D step): the raw SE
        se = self._se_train if torch.is_grad_enabled() and self._se_train is not None else self.SE
        z2 = se(x0)        # whole batch, then select: every SE parameter is in the graph (DDP-safe)
        return torch.where((t == 1)[:, None], z2, z)

    def progressive_p(self, step: int) -> float:
        """P(t = 1) at a step: P = P_max - (P_max - P_min) n_e / N_e with n_e / N_e = step / steps."""
        c = self.config
        frac = min(max(step / max(c.steps, 1), 0.0), 1.0)
        return c.p_max - (c.p_max - c.p_min) * frac          # 000 Eq. 3

    def training_t(self, step: int, n: int, device, generator: torch.Generator) -> torch.Tensor:
        if not self.config.progressive:
            return super().training_t(step, n, device, generator)   # uniform over {0, 1}
        u = torch.rand(n, generator=generator, device=device)
        return (u < self.progressive_p(step)).long()                 # index 1 w.p. P (000 Eq. 3)

    def generator_extra_losses(self, x0, t, x_t, x_tp1, x0_fake, step, generator) -> dict[str, torch.Tensor]:
        """L_Sem (000 Eq. 1) on index-1 samples and L_Per (000 Eq. 2) on index-0 samples, weighted."""
        c = self.config
        out: dict[str, torch.Tensor] = {}
        zero = x0_fake.new_zeros(())       # a term whose samples are absent from this batch
        sem, ref = t == 1, t == 0
        # L_Sem: at index 1, x0_fake = G(x_2, SE(x_0), t=2) with x_2 ~ q(x_2 | x_0) - Eq. 1's first argument
        if c.l1_pixel:
            out["l_sem_pix"] = c.lambda_pix * _l1(x0_fake[sem], x0[sem]) if sem.any() else zero
        if c.l1_feature:
            out["l_sem_feat"] = c.lambda_feat * self._feature_l1(x0_fake[sem], x0[sem]) if sem.any() else zero
        if c.l_per:
            out["l_per"] = c.lambda_per * self._l_per(x0, x_tp1, x0_fake, ref, generator) if ref.any() else zero
        return out

    def _feature_l1(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """sum_l mean |V_l(fake) - V_l(real)| (000 Eq. 1, second term); V is frozen, real is a target.  Outside
        pixel space both are decoded to images first (the fake one with gradients through the frozen decoder)."""
        V = self.V.to(fake.device)
        with torch.no_grad():
            target = V.feature_maps(self.space.decode(real))
        return sum(_l1(f, r) for f, r in zip(V.feature_maps(self.space.decode(fake)), target))

    def _l_per(self, x0, x_tp1, x0_fake, ref, generator) -> torch.Tensor:
        """|G(x_1, z_1, t=1) - x~_0|_1 on index-0 samples (000 Eq. 2).

        x_1 is the batch's x_{t+1} at index 0 (drawn from q); x~_0 is the semantics-stage output
        G(x_2, SE(x_0), t=2) for the same x_0, with x_2 drawn from that x_1 by the forward step
        q(x_2 | x_1); it is a detached target (see the module docstring).
        """
        x1, x0_ref = x_tp1[ref], x0[ref]
        with torch.no_grad():
            one = torch.ones(x1.shape[0], dtype=torch.long, device=x1.device)
            x2 = self.process.q_step(x1, one, generator=generator)         # q(x_2 | x_1)
            x0_tilde = self.G(x2, one, self.SE(x0_ref))
        return _l1(x0_fake[ref], x0_tilde)

    # ---------------------------------------------------------------- latent prior of z_2
    @torch.no_grad()
    def encode(self, x0: torch.Tensor, ema: bool = True) -> torch.Tensor:
        """z_2 = SE(x_0) of images x_0 in [-1, 1] (EMA encoder by default; in latent space SE reads their latents)."""
        if self.SE is None:
            raise ValueError(f"row {self.config.row!r} has no semantic encoder (semantic_encoder=False)")
        se = self.SE_ema if ema else self.SE
        se.eval()
        return se(self.space.encode(x0.to(next(se.parameters()).device)))

    @torch.no_grad()
    def fit_latent_prior(self, dataset, n: int = 5000, batch_size: int = 500, seed: int = 0) -> None:
        """Mean and full covariance of z_2 = SE_ema(x_0) over n training images (a random subset)."""
        if self.SE is None:
            raise ValueError("the baseline row has no encoder: its z_2 is N(0, I), there is no prior to fit")
        n = min(n, len(dataset))
        if n < 2:
            raise ValueError("fit_latent_prior needs at least 2 images")
        idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
        z = torch.cat([self.encode(dataset.get_batch(idx[i:i + batch_size])[0])
                       for i in range(0, n, batch_size)]).double()
        self.latent_mean = z.mean(0).float()
        self.latent_cov = torch.cov(z.T).float()

    def latent_prior_state(self) -> dict[str, torch.Tensor]:
        if self.latent_mean is None:
            raise RuntimeError("no latent prior yet: call fit_latent_prior(dataset) first")
        return {"mean": self.latent_mean.cpu(), "cov": self.latent_cov.cpu()}

    def load_latent_prior_state(self, state: dict[str, torch.Tensor]) -> None:
        self.latent_mean, self.latent_cov = state["mean"].float(), state["cov"].float()

    def _prior_sampler(self, prior: str, device: torch.device):
        """A function (n, generator) -> z_2 for the chosen prior."""
        nz = self.config.nz
        if prior not in ("fitted", "standard"):
            raise ValueError(f"prior must be 'fitted' or 'standard', got {prior!r}")
        if self.SE is None or prior == "standard":
            return lambda n, g: torch.randn(n, nz, generator=g, device=device)
        if self.latent_mean is None:
            raise RuntimeError("prior='fitted' needs fit_latent_prior(dataset) or load_latent_prior_state(...) "
                               "first; or pass prior='standard' for z_2 ~ N(0, I)")
        # z = mu + A eps with A A^T = Sigma; eigh instead of Cholesky: Sigma may be singular (n < nz)
        evals, evecs = torch.linalg.eigh(self.latent_cov.double())
        A = (evecs * evals.clamp(min=0).sqrt()).float().to(device)
        mu = self.latent_mean.to(device)
        return lambda n, g: mu + torch.randn(n, nz, generator=g, device=device) @ A.T

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, prior: str = "fitted",
               ema: bool = True, device: torch.device | None = None, batch_size: int = 500, fast=None) -> torch.Tensor:
        """n images in [-1, 1], NFE = 2: z_2 from the prior at index 1, a fresh z_1 at index 0 (fast: as DDGAN's)."""
        device = device or next((self.G_ema if ema else self.G).parameters()).device
        draw_z2 = self._prior_sampler(prior, device)
        nz = self.config.nz

        def z_fn(t: int, b: int) -> torch.Tensor:
            return draw_z2(b, generator) if t == 1 else torch.randn(b, nz, generator=generator, device=device)

        return super().sample(n, generator=generator, ema=ema, device=device, batch_size=batch_size, z_fn=z_fn,
                              fast=fast)

    @torch.no_grad()
    def generate(self, x2: torch.Tensor, z2: torch.Tensor, z1: torch.Tensor, noise1: torch.Tensor,
                 ema: bool = True) -> torch.Tensor:
        """x_0 as a deterministic function of (x_2, z_2, z_1, noise1), for PPL and interpolation.

        x~_0 = G(x_2, 1, z_2); x_1 = mean + exp(log_var / 2) * noise1 of q(x_1 | x_2, x~_0);
        x_0 = G(x_1, 0, z_1) (the last posterior adds no noise).  The same two steps as sample().  x_2 and noise1
        have the shape G sees (data_ch x data_res^2: latents in latent space); the result is decoded to images.
        """
        G = self.G_ema if ema else self.G
        G.eval()
        dev = next(G.parameters()).device
        x2, z2, z1, noise1 = (a.to(dev) for a in (x2, z2, z1, noise1))
        n = x2.shape[0]
        t1 = torch.ones(n, dtype=torch.long, device=dev)
        mean, log_var = self.process.posterior(G(x2, t1, z2), x2, t1)
        x1 = mean + torch.exp(0.5 * log_var) * noise1
        t0 = torch.zeros_like(t1)
        x0, _ = self.process.posterior(G(x1, t0, z1), x1, t0)
        return self.space.decode(x0).clamp(-1, 1)
