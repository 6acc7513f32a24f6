"""Product embeddings for e-commerce recommendation, scikit-learn compatible.

- :class:`MaskedAutoencoderEmbedder`: self-supervised, masked feature reconstruction.
"""

from ._autoencoder import MaskedAutoencoderEmbedder

__version__ = "0.1.0"

__all__ = [
    "MaskedAutoencoderEmbedder",
    "__version__",
]
