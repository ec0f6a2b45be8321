"""Networks: the U-Net generator, the pair discriminator and their shared blocks."""
from .discriminator import PairDiscriminator, PerStepDiscriminator
from .encoder import ConvEncoder
from .layers import AdaptiveGroupNorm, AttnBlock, MinibatchStd, PixelNorm, ResBlock, TimeEmbedding, ZMapping
from .classifier import NoisyClassifier
from .mlp import SkipMLP
from .unet import Bottleneck, UNet

__all__ = ["UNet", "Bottleneck", "SkipMLP", "NoisyClassifier", "PairDiscriminator", "PerStepDiscriminator", "ConvEncoder", "AdaptiveGroupNorm", "AttnBlock",
           "MinibatchStd", "PixelNorm", "ResBlock", "TimeEmbedding", "ZMapping"]
