"""Methods: each owns its networks and one training iteration; all share semlib.train.train."""
from .ddgan import DDGAN
from .dpm import DPM
from .latent_dpm import CodeDataset, LatentDPM
from .pdae import PDAE
from .pddgan import PDDGAN

__all__ = ["DDGAN", "DPM", "LatentDPM", "CodeDataset", "PDAE", "PDDGAN"]
