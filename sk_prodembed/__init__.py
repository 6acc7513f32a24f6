"""Product embeddings for e-commerce recommendation, scikit-learn compatible.

- :class:`MaskedAutoencoderEmbedder`: self-supervised, masked feature reconstruction.
- :class:`TripletEmbedder`: contrastive metric learning with mined triplets.
- :class:`NearestNeighborRecommender`: the final step of a recommendation pipeline.
- :mod:`sk_prodembed.metrics`: ranking metrics and scorers.
- :mod:`sk_prodembed.datasets`: the bundled Flipkart catalog and synthetic catalogs.
"""

from . import datasets, metrics
from ._autoencoder import MaskedAutoencoderEmbedder
from ._persistence import SKOPS_TRUSTED_TYPES
from ._recommender import NearestNeighborRecommender
from ._triplet import TripletEmbedder

__version__ = "0.1.0"

__all__ = [
    "MaskedAutoencoderEmbedder",
    "NearestNeighborRecommender",
    "SKOPS_TRUSTED_TYPES",
    "TripletEmbedder",
    "datasets",
    "metrics",
    "__version__",
]
