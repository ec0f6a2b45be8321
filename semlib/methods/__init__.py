"""Methods: each owns its networks and one training iteration; all share semlib.train.train."""
from .ddgan import DDGAN
from .dpm import DPM
from .pdae import PDAE
from .pddgan import PDDGAN

__all__ = ["DDGAN", "DPM", "PDAE", "PDDGAN"]
