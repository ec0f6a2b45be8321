"""semlib.metrics: FID, improved precision/recall, feature extractors
(in-project domain CNN "dom", self-supervised residual net "ssl", or local real Inception), perceptual distance /
PPL, and cost metrics (parameters, FLOPs, memory, time)."""
from .cost import count_parameters, flops_per_image, peak_memory, peak_memory_info, time_per_batch
from .evaluate import compute_features, evaluate_samples
from .extractors import (
    INCEPTION_TORCHSCRIPT_SHA256,
    DomainNet,
    FeatureExtractor,
    InceptionExtractor,
    default_cache_dir,
    domain_cache_path,
    evaluate_domain_net,
    get_domain_extractor,
    get_extractor,
    load_domain_net,
    save_domain_net,
    sha256_file,
    train_domain_net,
)
from .fid import feature_stats, fid_from_features, frechet_distance
from .perceptual import PerceptualDistance, lerp, perceptual_path_length, slerp
from .prdc import knn_radii, manifold_coverage, precision_recall
from .ssl import SSLNet, get_ssl_extractor, load_ssl_net, nt_xent, save_ssl_net, ssl_cache_path, train_ssl_net

__all__ = [
    "count_parameters", "flops_per_image", "peak_memory", "peak_memory_info", "time_per_batch",
    "compute_features", "evaluate_samples",
    "INCEPTION_TORCHSCRIPT_SHA256", "DomainNet", "FeatureExtractor", "InceptionExtractor",
    "default_cache_dir", "domain_cache_path", "evaluate_domain_net", "get_domain_extractor",
    "get_extractor", "load_domain_net", "save_domain_net", "sha256_file", "train_domain_net",
    "feature_stats", "fid_from_features", "frechet_distance",
    "PerceptualDistance", "lerp", "perceptual_path_length", "slerp",
    "knn_radii", "manifold_coverage", "precision_recall",
    "SSLNet", "get_ssl_extractor", "load_ssl_net", "nt_xent", "save_ssl_net", "ssl_cache_path", "train_ssl_net",
]
