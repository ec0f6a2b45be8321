"""Asyrp (seed 001; Kwon et al. 2023, as reproduced in the blog): editing the h-space (the U-Net bottleneck) of a
frozen DPM with a directional text-image loss.

Parts, each reusable:
- `HSpaceDelta` f_t(h, t): a 1x1 conv, plus a projection of the activated time embedding, group norm, SiLU, a 1x1
  conv (the reference's DeltaBlock, PyTorch's default init).  The edited bottleneck h + s f_t(h) is decoded with the
  ORIGINAL skip connections (`UNet.encode` / `UNet.decode`).
- The asymmetric reverse step (`asymmetric_step`): P_t, the x_0 prediction, from the edited epsilon; D_t, the
  direction to x_t, from the original one: x_{t-1} = sqrt(ab_{t-1}) P_t(eps_edit) + sqrt(1 - ab_{t-1}) eps_orig
  (eta = 0).  Editing only at t >= t_edit; below t_boost the plain step is stochastic (eta = 1, "quality boosting").
- `choose_t_edit` / `choose_t_boost`: the reference's rules, t_edit the first t at which the perceptual distance
  between x_0 and P_t reaches edit_frac * cos(text_src, text_trg), t_boost the first t at which that between x_0 and
  x_t reaches boost_level.  The thresholds were set for AlexNet LPIPS; with the in-project LPIPS_dom they are a
  different scale, so the study records the t it used beside each result (both can also be set).
- `Asyrp`, a Method of the shared training loop (semlib.train): one loop iteration is one batch of inverted images
  run down the edited trajectory from x_T to t_edit, with one SGD step of f_t per timestep on
  lambda_clip * directional loss(x_0 -> P_t edited) + l1_weight * cos(src, trg) * L1(P_t edited, P_t original) and
  the trajectory detached between steps (001, the reference's training loop).  The DPM never moves.
- A latent DPM (DPM with config.space = "latent", an LDM on an autoencoder's latents) works unchanged: the editor
  lives in its U-Net's bottleneck, P_t is a latent and is decoded (with gradients through the frozen decoder) before
  the directional loss; the L1 term compares the latents.  This is ASYRP-LDM, the port the blog could not make.
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import AsyrpConfig
from ..diffusion import GaussianDiffusion, _extract
from ..nets.layers import group_norm
from ..nets.unet import Bottleneck, UNet
from .dpm import DPM

__all__ = ["HSpaceDelta", "TransformerDelta", "Asyrp", "GANAsyrp", "TwoStepInputs", "LatentPairs", "asymmetric_step",
           "choose_t_edit", "choose_t_boost"]


class HSpaceDelta(nn.Module):
    """f_t(h, temb) -> Delta h, same shape as h."""

    def __init__(self, channels: int, temb_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.temb_proj = nn.Linear(temb_dim, channels)
        self.norm = group_norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 1)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        x = self.conv1(h) + self.temb_proj(F.silu(temb))[:, :, None, None]
        return self.conv2(F.silu(self.norm(x)))


class TransformerDelta(nn.Module):
    """The blog's alternative f_t: the bottleneck's positions as tokens (plus a learned position embedding and the
    projected time embedding) through a small pre-norm transformer encoder, projected back to Delta h; the output
    projection starts at zero, so the editor starts as the identity edit."""

    def __init__(self, channels: int, temb_dim: int, n_tokens: int, layers: int = 2, heads: int = 4):
        super().__init__()
        heads = max(h for h in range(1, heads + 1) if channels % h == 0)
        self.pos = nn.Parameter(torch.zeros(1, n_tokens, channels))
        self.temb_proj = nn.Linear(temb_dim, channels)
        layer = nn.TransformerEncoderLayer(channels, heads, dim_feedforward=2 * channels, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, h: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        n, c, hh, ww = h.shape
        x = h.flatten(2).transpose(1, 2) + self.pos + self.temb_proj(F.silu(temb))[:, None, :]
        return self.out(self.encoder(x)).transpose(1, 2).reshape(n, c, hh, ww)


class LatentPairs:
    """(x_0, x_T) pairs with the loop's dataset interface: get_batch(idx) -> (x_0, x_T)."""

    def __init__(self, x0: torch.Tensor, x_T: torch.Tensor):
        if x0.shape != x_T.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and x_T {tuple(x_T.shape)} differ in shape")
        self.x0, self.x_T = x0, x_T

    def __len__(self) -> int:
        return len(self.x0)

    def get_batch(self, idx):
        return self.x0[idx], self.x_T[idx]


def _edited_eps(net: UNet, bn: Bottleneck, edits) -> torch.Tensor:
    """The decoder on h + sum_j s_j f_j(h, temb), with bn's original skips."""
    h = bn.h
    for f, s in edits:
        h = h + s * f(bn.h, bn.temb)
    return net.decode(replace(bn, h=h))


def asymmetric_step(process: GaussianDiffusion, x: torch.Tensor, i: torch.Tensor, eps_edit: torch.Tensor,
                    eps_orig: torch.Tensor, *, eta: float = 0.0, generator: torch.Generator | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """One reverse DDIM step from step i of `process` with P_t from eps_edit and D_t from eps_orig; returns
    (x at the previous step, P_t).  eps_edit = eps_orig is DDIM itself (unclipped, as the reference)."""
    x0 = process.x0_from_eps(x, i, eps_edit)
    ab, ab_prev = _extract(process.alpha_bar, i, x), _extract(process.alpha_bar_prev, i, x)
    if eta == 0:
        return ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps_orig, x0
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
    x_prev = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps_orig
    last = bool((i == 0).all())
    if not last:
        x_prev = x_prev + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x_prev, x0


@torch.no_grad()
def choose_t_edit(dpm: DPM, x0: torch.Tensor, distance, cos_text: float, *, edit_frac: float = 0.33,
                  stride: int = 10, generator: torch.Generator | None = None) -> int:
    """The first t (in steps of `stride` on the DPM's 0..T-1 scale) at which the mean distance(x_0, P_t) reaches
    edit_frac * cos_text; P_t is the one-step x_0 prediction from x_t ~ q(x_t | x_0).  T - 1 if it never does."""
    return _first_t(dpm, x0, distance, edit_frac * cos_text, stride, generator, predict=True)


@torch.no_grad()
def choose_t_boost(dpm: DPM, x0: torch.Tensor, distance, *, level: float = 1.2, stride: int = 10,
                   generator: torch.Generator | None = None) -> int:
    """The first t at which the mean distance(x_0, x_t) reaches `level` (T - 1 if it never does)."""
    return _first_t(dpm, x0, distance, level, stride, generator, predict=False)


def _first_t(dpm, x0, distance, threshold, stride, generator, predict) -> int:
    """x0 are images; a latent DPM encodes them, and P_t (or x_t) is decoded before the distance is read."""
    proc, net = dpm.process, dpm.net_ema.eval()
    z0 = dpm.encode(x0)
    noise = torch.randn(z0.shape, generator=generator, device=z0.device, dtype=z0.dtype)
    for t in range(0, proc.T, stride):
        i = torch.full((z0.shape[0],), t, device=z0.device, dtype=torch.long)
        x_t = proc.q_sample(z0, i, noise)
        y = proc.x0_from_eps(x_t, i, net(x_t, proc.model_t(i))) if predict else x_t
        y = dpm.decode(y).clamp(-1, 1)
        if float(distance(x0, y).mean()) >= threshold:
            return t
    return proc.T - 1


class _HSpaceEditor:
    """What every h-space editor shares, whatever network it edits: f_t on that U-Net's bottleneck, the text pair of
    the directional loss, the loop's Method protocol and the norm-matched random control.  Subclasses give
    `delta_norm(inputs, delta)` and `_device_of(inputs)`."""

    def _init_editor(self, config: AsyrpConfig, unet: UNet, text_image, seed: int | None) -> None:
        self._unet = unet
        torch.manual_seed(config.seed if seed is None else seed)
        self.delta = self._make_delta()
        self.text_image = text_image
        if isinstance(text_image, nn.Module):
            text_image.requires_grad_(False).eval()        # the loss's network never trains
        self.text_src = self.text_trg = None
        self.cos_text = 1.0
        if text_image is not None:
            from ..textimage import prompt
            self.text_src, self.text_trg = prompt(config.attribute, present=config.present, unseen=config.unseen)
            with torch.no_grad():
                e = text_image.encode_text([self.text_src, self.text_trg])
            self.cos_text = float(F.cosine_similarity(e[0:1], e[1:2]).item())
        self._opts: dict[str, torch.optim.Optimizer] | None = None

    def _make_delta(self) -> nn.Module:
        """An untrained f_t of the config's architecture for the edited U-Net's bottleneck."""
        u = self._unet
        temb_dim = u.time_embed.mlp[-1].out_features
        if self.config.f_arch == "transformer":
            return TransformerDelta(u.h_channels, temb_dim, u.h_resolution ** 2)
        return HSpaceDelta(u.h_channels, temb_dim)

    # ------------------------------------------------------------------ the loop's Method protocol
    def networks(self) -> dict[str, nn.Module]:
        return {"delta": self.delta}

    def trainable(self) -> dict[str, nn.Module]:
        return {"delta": self.delta}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self._opts is None:
            opt = torch.optim.Adam if self.config.optimizer == "adam" else torch.optim.SGD
            self._opts = {"delta": opt(self.delta.parameters(), lr=self.config.lr)}
        return self._opts

    def ema_pairs(self) -> dict[str, str]:
        return {}

    @torch.no_grad()
    def random_control(self, inputs, seed: int) -> tuple[nn.Module, float, float]:
        """The control editor of the Asyrp notebooks: an untrained f_t of the same architecture (seeded) and the factor
        that gives it the trained editor's mean ||Delta h|| / ||h|| on these inputs.  Returns (editor, factor, trained
        norm); decode it with edit(inputs, scale=0, extra=[(editor, s * factor)])."""
        torch.manual_seed(seed)
        rand = self._make_delta().to(self._device_of(inputs))
        trained = self.delta_norm(inputs)
        return rand, trained / max(self.delta_norm(inputs, rand), 1e-12), trained


class Asyrp(_HSpaceEditor):
    """An h-space editor f_t for one attribute edit on a frozen DPM (its EMA network; pixel or latent space),
    trained through semlib.train.fit on `training_pairs(images)`: the images (encoded, for a latent DPM) and their
    DDIM inversions."""

    def __init__(self, config: AsyrpConfig, dpm: DPM, text_image=None, *, t_edit: int | None = None,
                 t_boost: int | None = None, seed: int | None = None):
        self.config, self.dpm = config, dpm
        self.net: UNet = dpm.net_ema.eval()
        self.net.requires_grad_(False)
        self._init_editor(config, self.net, text_image, seed)
        self.process = dpm.sampling_process(config.k)
        T = dpm.process.T
        self.t_edit = config.t_edit if t_edit is None else t_edit
        self.t_boost = config.t_boost if t_boost is None else t_boost
        for name, v in (("t_edit", self.t_edit), ("t_boost", self.t_boost)):
            if v is not None and not 0 <= v < T:
                raise ValueError(f"{name}={v}: must lie in [0, {T}) for this DPM (T = {T})")

    def _device_of(self, x_T: torch.Tensor):
        return x_T.device

    def edit_steps(self) -> list[int]:
        """Indices k of the K-step process at which f_t acts (model timestep >= t_edit), from the noisiest down."""
        if self.t_edit is None:
            raise ValueError("t_edit is not set: give it in the config, or choose it with choose_t_edit")
        ts = self.process.timesteps.tolist()
        return [k for k in reversed(range(self.process.T)) if ts[k] >= self.t_edit]

    def training_step(self, x0: torch.Tensor, x_T: torch.Tensor, step: int, generator, nets) -> dict[str, torch.Tensor]:
        """The edited and the original trajectories from x_T down to t_edit, one SGD step of f_t per timestep.
        x0 and x_T are in the DPM's space (latents for a latent DPM); the directional loss reads decoded images."""
        if self.text_image is None:
            raise ValueError("training needs the text-image model of the directional loss (text_image=...)")
        from ..textimage import directional_loss

        c, P, delta, opt = self.config, self.process, nets["delta"], self.optimizers()["delta"]
        x, x_orig = x_T, x_T
        with torch.no_grad():
            img0 = self.dpm.decode(x0)
        sums = {"loss": 0.0, "loss_clip": 0.0, "loss_l1": 0.0}
        ks = self.edit_steps()
        for k in ks:
            i = torch.full((x.shape[0],), k, device=x.device, dtype=torch.long)
            t = P.model_t(i)
            with torch.no_grad():
                bn = self.net.encode(x, t)
                eps = self.net.decode(bn)
                eps_o = self.net(x_orig, t)
            eps_e = _edited_eps(self.net, bn, [(delta, 1.0)])
            x0_e = P.x0_from_eps(x, i, eps_e)
            with torch.no_grad():
                x0_o = P.x0_from_eps(x_orig, i, eps_o)
            l_clip = directional_loss(self.text_image, img0, self.dpm.decode(x0_e), self.text_src, self.text_trg)
            l_l1 = (x0_e - x0_o).abs().mean()
            loss = c.lambda_clip * l_clip + c.l1_weight * self.cos_text * l_l1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                x, _ = asymmetric_step(P, x, i, eps_e.detach(), eps)
                x_orig, _ = asymmetric_step(P, x_orig, i, eps_o, eps_o)
            for name, v in (("loss", loss), ("loss_clip", l_clip), ("loss_l1", l_l1)):
                sums[name] += float(v.detach())
        n = max(len(ks), 1)
        return {k: torch.tensor(v / n) for k, v in sums.items()}

    # ------------------------------------------------------------------ inversion and editing
    @torch.no_grad()
    def invert(self, x0: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
        """x_T of images x0 by deterministic DDIM inversion over the K steps (unclipped, as the reference); a latent
        DPM inverts their latents."""
        from ..samplers import ddim_invert
        eps_model = lambda x, t: self.net(x, t)   # noqa: E731
        return torch.cat([ddim_invert(eps_model, self.process, self.dpm.encode(x0[j:j + batch_size]), clip_x0=False)
                          for j in range(0, len(x0), batch_size)])

    @torch.no_grad()
    def training_pairs(self, x0: torch.Tensor) -> LatentPairs:
        """The loop's dataset for images x0: (x0 in the DPM's space, its DDIM inversion)."""
        return LatentPairs(torch.cat([self.dpm.encode(x0[j:j + 100]) for j in range(0, len(x0), 100)]), self.invert(x0))

    @torch.no_grad()
    def edit(self, x_T: torch.Tensor, *, scale: float = 1.0, extra: list[tuple[nn.Module, float]] | None = None,
             t_edit: int | None = None, t_boost: int | None = None, generator: torch.Generator | None = None
             ) -> torch.Tensor:
        """Decode x_T with Delta h = scale * f_t(h) (plus sum s_j f_j(h) for `extra` editors, e.g. 1 / sqrt(2) each
        for two attributes) at t >= t_edit, asymmetrically; DDIM (eta 0) below, and eta 1 below t_boost.
        scale = 0 with t_boost = 0 is plain DDIM from x_T."""
        t_edit = self.t_edit if t_edit is None else t_edit
        t_boost = (self.t_boost or 0) if t_boost is None else t_boost
        if t_edit is None:
            raise ValueError("t_edit is not set")
        P, x = self.process, x_T
        edits = [(self.delta, scale)] + list(extra or [])
        edits = [(f, s) for f, s in edits if s != 0]
        ts = P.timesteps.tolist()
        for k in reversed(range(P.T)):
            i = torch.full((x.shape[0],), k, device=x.device, dtype=torch.long)
            bn = self.net.encode(x, P.model_t(i))
            eps = self.net.decode(bn)
            eps_e = _edited_eps(self.net, bn, edits) if (edits and ts[k] >= t_edit) else eps
            x, _ = asymmetric_step(P, x, i, eps_e, eps, eta=1.0 if ts[k] < t_boost else 0.0, generator=generator)
        return self.dpm.decode(x).clamp(-1, 1)

    @torch.no_grad()
    def delta_norm(self, x_T: torch.Tensor, delta: nn.Module | None = None) -> float:
        """Mean ||Delta h|| / ||h|| over the edited steps of the original trajectory from x_T (how far f_t, or another
        editor `delta`, moves h)."""
        P, x, r, f = self.process, x_T, [], self.delta if delta is None else delta
        for k in self.edit_steps():
            i = torch.full((x.shape[0],), k, device=x.device, dtype=torch.long)
            bn = self.net.encode(x, P.model_t(i))
            d = f(bn.h, bn.temb)
            r.append(float((d.flatten(1).norm(dim=1) / bn.h.flatten(1).norm(dim=1).clamp(min=1e-12)).mean()))
            eps = self.net.decode(bn)
            x, _ = asymmetric_step(P, x, i, eps, eps)
        return sum(r) / max(len(r), 1)


# ---------------------------------------------------------------------------- beyond the seeds: a two-step GAN's h-space
class TwoStepInputs(tuple):
    """The inputs that fix a two-step (PD)DGAN sample: (x_2, z_2, z_1, noise_1); z_2 = SE(x_0) for an encoded image."""

    def __new__(cls, x2, z2, z1, noise1):
        return super().__new__(cls, (x2, z2, z1, noise1))

    @property
    def x2(self):
        return self[0]

    @property
    def z2(self):
        return self[1]

    @property
    def z1(self):
        return self[2]

    @property
    def noise1(self):
        return self[3]

    def __getitem__(self, k):
        if isinstance(k, slice):                       # a batch slice of every input, not a slice of the tuple
            return TwoStepInputs(*(tuple.__getitem__(self, j)[k] for j in range(4)))
        return tuple.__getitem__(self, k)


class GANAsyrp(_HSpaceEditor):
    """Asyrp's editor on the bottleneck of a trained two-step PDDGAN generator (issue 9, beyond the seeds: does DDGAN's
    h-space edit like a DPM's?).  The same f_t (`HSpaceDelta`), the same directional loss plus 3 cos L1 term, and one SGD
    step per generator step through the shared loop; what changes is the process:

    - A sample is fixed by (x_2, z_2, z_1, noise_1) (`TwoStepInputs`); a source image x_0 gives z_2 = SE(x_0) and seeded
      x_2, z_1, noise_1 (`invert`), so its "reconstruction" is PDDGAN's, not an inversion.
    - P_t is the generator's x_0 prediction at step index t (1: semantics from x_2, 0: refinement from x_1); the edited
      P_t enters the posterior q(x_t | x_{t+1}, P_t) with the original noise (DDGAN has no epsilon, so the asymmetric
      step is the posterior with the edited P_t).  Steps with index >= t_edit are edited; t_edit = 1 (default) edits
      the semantic step only, t_edit = 0 both.  There is no quality boosting (t_boost is 0; sampling is already
      stochastic through noise_1).
    - The directional loss reads the image direction from the unedited P_t to the edited one (a GAN sample has no
      source image of its own); AsyrpConfig's k / t_edit / t_boost (DPM-scale fields) are not used.
    f_t follows config.f_arch as for a DPM (the conv DeltaBlock by default).
    """

    def __init__(self, config: AsyrpConfig, model, text_image=None, *, t_edit: int = 1, seed: int | None = None):
        T = model.process.T
        if T != 2 or not hasattr(model, "encode"):
            raise ValueError(f"GANAsyrp edits a two-step PDDGAN (T = 2, with a semantic encoder); got T = {T}")
        if not 0 <= t_edit < T:
            raise ValueError(f"t_edit={t_edit}: must lie in [0, {T}) for this generator (T = {T})")
        self.config, self.model, self.process = config, model, model.process
        self.G: UNet = model.G_ema.eval()
        self.G.requires_grad_(False)
        self.t_edit, self.t_boost = t_edit, 0
        self._init_editor(config, self.G, text_image, seed)

    def _device_of(self, inp: TwoStepInputs):
        return inp.x2.device

    def edit_steps(self) -> list[int]:
        return [k for k in (1, 0) if k >= self.t_edit]

    # ------------------------------------------------------------------ the process
    def _z(self, inp: TwoStepInputs, k: int) -> torch.Tensor:
        return inp.z2 if k == 1 else inp.z1

    def _step(self, x0_pred: torch.Tensor, x: torch.Tensor, k: int, noise1: torch.Tensor) -> torch.Tensor:
        t = torch.full((x.shape[0],), k, device=x.device, dtype=torch.long)
        mean, log_var = self.process.posterior(x0_pred, x, t)
        return mean + torch.exp(0.5 * log_var) * noise1 if k == 1 else mean

    @torch.no_grad()
    def invert(self, x0: torch.Tensor, seed: int = 0) -> TwoStepInputs:
        """The inputs of x0's PDDGAN sample: z_2 = SE_ema(x_0), and x_2, z_1, noise_1 drawn from `seed`."""
        dev = next(self.G.parameters()).device
        g = torch.Generator(device=dev).manual_seed(seed)
        n, nz = x0.shape[0], self.model.config.nz
        x2 = torch.randn(x0.shape, generator=g, device=dev)
        z1 = torch.randn(n, nz, generator=g, device=dev)
        noise1 = torch.randn(x0.shape, generator=g, device=dev)
        return TwoStepInputs(x2, self.model.encode(x0.to(dev)), z1, noise1)

    @torch.no_grad()
    def training_pairs(self, x0: torch.Tensor) -> LatentPairs:
        """The loop's dataset: (x_0, x_2); z_1 and noise_1 are drawn per step, z_2 = SE(x_0)."""
        return LatentPairs(x0, torch.randn(x0.shape, generator=torch.Generator().manual_seed(self.config.seed)))

    @torch.no_grad()
    def edit(self, inp: TwoStepInputs, *, scale: float = 1.0, extra: list[tuple[nn.Module, float]] | None = None,
             t_edit: int | None = None, t_boost: int | None = None, generator: torch.Generator | None = None
             ) -> torch.Tensor:
        """The sample of `inp` with Delta h = scale * f_t(h) (plus `extra` editors) at step indices >= t_edit;
        scale 0 is PDDGAN's own sample (t_boost and generator are accepted for Asyrp's interface and unused)."""
        t_edit = self.t_edit if t_edit is None else t_edit
        edits = [(f, s) for f, s in [(self.delta, scale)] + list(extra or []) if s != 0]
        x = inp.x2
        for k in (1, 0):
            t = torch.full((x.shape[0],), k, device=x.device, dtype=torch.long)
            bn = self.G.encode(x, t, self._z(inp, k))
            p = _edited_eps(self.G, bn, edits) if (edits and k >= t_edit) else self.G.decode(bn)
            x = self._step(p, x, k, inp.noise1)
        return x.clamp(-1, 1)

    def training_step(self, x0: torch.Tensor, x2: torch.Tensor, step: int, generator, nets) -> dict[str, torch.Tensor]:
        """The edited and the original two-step trajectories of (x_2, SE(x_0), fresh z_1 and noise_1), one SGD step of
        f_t per edited step on lambda_clip * directional loss(P_t original -> P_t edited) + l1_weight * cos * L1."""
        if self.text_image is None:
            raise ValueError("training needs the text-image model of the directional loss (text_image=...)")
        from ..textimage import directional_loss

        c, delta, opt = self.config, nets["delta"], self.optimizers()["delta"]
        n, nz = x0.shape[0], self.model.config.nz
        z1 = torch.randn(n, nz, generator=generator, device=x0.device)
        noise1 = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        inp = TwoStepInputs(x2, self.model.encode(x0), z1, noise1)
        x, x_o = x2, x2
        sums = {"loss": 0.0, "loss_clip": 0.0, "loss_l1": 0.0}
        for k in (1, 0):
            t = torch.full((n,), k, device=x0.device, dtype=torch.long)
            with torch.no_grad():
                bn = self.G.encode(x, t, self._z(inp, k))
                p_o = self.G.decode(self.G.encode(x_o, t, self._z(inp, k)))
            if k >= self.t_edit:
                p_e = _edited_eps(self.G, bn, [(delta, 1.0)])
                l_clip = directional_loss(self.text_image, p_o, p_e, self.text_src, self.text_trg)
                l_l1 = (p_e - p_o).abs().mean()
                loss = c.lambda_clip * l_clip + c.l1_weight * self.cos_text * l_l1
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for name, v in (("loss", loss), ("loss_clip", l_clip), ("loss_l1", l_l1)):
                    sums[name] += float(v.detach())
                p = p_e.detach()
            else:
                with torch.no_grad():
                    p = self.G.decode(bn)
            with torch.no_grad():
                x, x_o = self._step(p, x, k, noise1), self._step(p_o, x_o, k, noise1)
        m = max(len(self.edit_steps()), 1)
        return {k: torch.tensor(v / m) for k, v in sums.items()}

    @torch.no_grad()
    def delta_norm(self, inp: TwoStepInputs, delta: nn.Module | None = None) -> float:
        """Mean ||Delta h|| / ||h|| over the edited steps of the original trajectory of `inp`."""
        f, x, r = self.delta if delta is None else delta, inp.x2, []
        for k in (1, 0):
            t = torch.full((x.shape[0],), k, device=x.device, dtype=torch.long)
            bn = self.G.encode(x, t, self._z(inp, k))
            if k >= self.t_edit:
                d = f(bn.h, bn.temb)
                r.append(float((d.flatten(1).norm(dim=1) / bn.h.flatten(1).norm(dim=1).clamp(min=1e-12)).mean()))
            x = self._step(self.G.decode(bn), x, k, inp.noise1)
        return sum(r) / max(len(r), 1)
