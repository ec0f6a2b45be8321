"""Methods: each owns its networks and one training iteration; all share semlib.train.train."""
from .asyrp import Asyrp, GANAsyrp, HSpaceDelta
from .autoencoder import Autoencoder, load_autoencoder, save_autoencoder
from .ddgan import DDGAN
from .diffae import DiffAE
from .dpm import DPM
from .guidance import NoisyClassifierMethod, guided_eps_fn
from .latent_dpm import CodeDataset, LatentDPM
from .pdae import PDAE
from .pddgan import PDDGAN

__all__ = ["Asyrp", "GANAsyrp", "HSpaceDelta", "Autoencoder", "load_autoencoder", "save_autoencoder", "DDGAN", "DiffAE", "DPM", "NoisyClassifierMethod", "guided_eps_fn", "LatentDPM", "CodeDataset", "PDAE", "PDDGAN"]
