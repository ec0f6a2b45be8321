"""semlib: fast, semantically meaningful diffusion models in one modular library.

    from semlib import DDGAN, ddgan_preset, train, load_dataset
    cfg = ddgan_preset("cpu", dataset="fashion")
    ddgan = DDGAN(cfg, in_ch=1)
    train(ddgan, load_dataset("fashion"), "runs/fashion", steps=cfg.steps, batch_size=cfg.batch_size)
    images = ddgan.sample(100)
"""
__version__ = "0.1.0"

from .config import (AutoencoderConfig, ConfigError, DDGANConfig, DPMConfig, PDAEConfig, PDDGANConfig, SCALES,  # noqa: E402
                     autoencoder_preset, ddgan_preset, dpm_preset, lddgan_preset, pdae_preset, pddgan_preset,
                     wddgan_preset, with_overrides)
from .diffusion import DDGANProcess  # noqa: E402
from .methods import DDGAN, DPM, PDAE, PDDGAN  # noqa: E402
from .train import RunFolderBusy, TimeBudgetReached, TrainingDiverged, train  # noqa: E402


def load_dataset(*args, **kwargs):
    """semlib.data.load_dataset (imported lazily to keep `import semlib` light)."""
    from .data import load_dataset as _ld
    return _ld(*args, **kwargs)


__all__ = ["AutoencoderConfig", "autoencoder_preset", "lddgan_preset", "wddgan_preset", "ConfigError", "DDGAN", "DDGANConfig", "DPM", "DPMConfig", "dpm_preset", "PDAE", "PDAEConfig", "pdae_preset", "PDDGAN", "PDDGANConfig", "pddgan_preset", "DDGANProcess", "RunFolderBusy", "SCALES", "TimeBudgetReached", "TrainingDiverged", "ddgan_preset",
           "load_dataset", "train", "with_overrides", "__version__"]
