"""A Diff-AE-style autoencoder (Preechakul et al. 2022): an encoder and a z-conditioned DPM trained together from
scratch with DDPM's simple loss.  PDAE-EFF compares PDAE's training cost with it (same U-Net, same encoder).

    ae = DiffAE(diffae_preset("cpu"), in_ch=3)
    fit(ae, dataset, run_dir)
    z = ae.encode(x0); x_T = ae.infer_xT(x0, z, k=50); x = ae.decode(z, x_T, k=50)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import DiffAEConfig
from ..diffusion import GaussianDiffusion
from ..ema import make_ema
from ..nets import ConvEncoder, UNet
from ..samplers import ddim_invert, ddim_sample


class DiffAE:
    def __init__(self, config: DiffAEConfig, in_ch: int = 3, seed: int | None = None):
        self.config, self.in_ch = config, in_ch
        torch.manual_seed(config.seed if seed is None else seed)
        c = config
        self.process = (GaussianDiffusion.linear(c.num_timesteps, c.beta_start, c.beta_end) if c.schedule == "linear"
                        else GaussianDiffusion.cosine(c.num_timesteps))
        self.E = ConvEncoder(resolution=c.resolution, in_ch=in_ch, ch=c.enc_ch, ch_mult=c.enc_ch_mult, out_dim=c.z_dim)
        self.net = UNet(resolution=c.resolution, in_ch=in_ch, out_ch=in_ch, ch=c.ch, ch_mult=c.ch_mult,
                        num_res_blocks=c.num_res_blocks, attn_resolutions=c.attn_resolutions, dropout=c.dropout,
                        nz=c.z_dim, z_emb_dim=c.z_emb_dim, n_mlp=c.n_mlp, out_act="none")
        self.E_ema, self.net_ema = make_ema(self.E), make_ema(self.net)
        self._opts: dict[str, torch.optim.Optimizer] | None = None

    def networks(self) -> dict[str, nn.Module]:
        return {"E": self.E, "net": self.net, "E_ema": self.E_ema, "net_ema": self.net_ema}

    def trainable(self) -> dict[str, nn.Module]:
        return {"E": self.E, "net": self.net}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self._opts is None:
            self._opts = {"all": torch.optim.Adam([*self.E.parameters(), *self.net.parameters()], lr=self.config.lr)}
        return self._opts

    def ema_pairs(self) -> dict[str, str]:
        return {"E_ema": "E", "net_ema": "net"}

    def training_step(self, x0, y, step, generator, nets) -> dict[str, torch.Tensor]:
        opt = self.optimizers()["all"]
        opt.zero_grad(set_to_none=True)
        i = self.process.sample_t(x0.shape[0], x0.device, generator)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
        x_t = self.process.q_sample(x0, i, noise)
        loss = F.mse_loss(nets["net"](x_t, self.process.model_t(i), nets["E"](x0)), noise)
        loss.backward()
        params = [*self.E.parameters(), *self.net.parameters()]
        gnorm = torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip or float("inf"))
        opt.step()
        return {"loss": loss.detach(), "gnorm": gnorm.detach()}

    @torch.no_grad()
    def encode(self, x0: torch.Tensor, ema: bool = True) -> torch.Tensor:
        return (self.E_ema if ema else self.E).eval()(x0)

    def _eps(self, z: torch.Tensor, ema: bool = True):
        net = (self.net_ema if ema else self.net).eval()
        return lambda x, t: net(x, t, z[: x.shape[0]])

    def sampling_process(self, k: int | None = None) -> GaussianDiffusion:
        k = k or self.config.ddim_steps
        return self.process if k == self.process.T else self.process.ddim_steps(k)

    @torch.no_grad()
    def infer_xT(self, x0: torch.Tensor, z: torch.Tensor, *, k: int | None = None) -> torch.Tensor:
        return ddim_invert(self._eps(z), self.sampling_process(k), x0)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, x_T: torch.Tensor | None = None, *, k: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        if x_T is None:
            r = self.config.resolution
            x_T = torch.randn(z.shape[0], self.in_ch, r, r, generator=generator, device=z.device)
        return ddim_sample(self._eps(z), self.sampling_process(k), x_T).clamp(-1, 1)
