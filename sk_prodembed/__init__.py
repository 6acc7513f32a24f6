"""Product embeddings for e-commerce recommendation, scikit-learn compatible.

- :class:`MaskedAutoencoderEmbedder`: self-supervised, masked feature reconstruction.
- :class:`TripletEmbedder`: contrastive metric learning with mined triplets.
- :class:`NearestNeighborRecommender`: the final step of a recommendation pipeline.
- :mod:`sk_prodembed.metrics`: ranking metrics and scorers.
- :mod:`sk_prodembed.pairs`: product pairs from orders, and their splits for evaluation.
- :mod:`sk_prodembed.datasets`: the bundled Flipkart catalog and synthetic catalogs.
"""

import importlib
from typing import TYPE_CHECKING

from ._persistence import SKOPS_TRUSTED_TYPES

__version__ = "0.1.0"

__all__ = [
    "MaskedAutoencoderEmbedder",
    "NearestNeighborRecommender",
    "SKOPS_TRUSTED_TYPES",
    "TripletEmbedder",
    "datasets",
    "metrics",
    "pairs",
    "__version__",
]

# Public name -> the module that defines it, imported on first use (PEP 562):
# scikit-learn takes over a second to import, which `import sk_prodembed`, and
# the command line's --help and input checks, need not wait for.
_LAZY_NAMES = {
    "MaskedAutoencoderEmbedder": "._autoencoder",
    "NearestNeighborRecommender": "._recommender",
    "TripletEmbedder": "._triplet",
}
_LAZY_MODULES = {"datasets", "metrics", "pairs"}

if TYPE_CHECKING:
    from . import datasets, metrics, pairs
    from ._autoencoder import MaskedAutoencoderEmbedder
    from ._recommender import NearestNeighborRecommender
    from ._triplet import TripletEmbedder


def __getattr__(name):
    if name in _LAZY_MODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
