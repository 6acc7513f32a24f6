"""Unit-length embeddings and the gradient through the normalisation.

The cosine metric compares directions: the losses see the encoder's outputs
scaled to unit length, and their gradients flow back through that scaling.
"""

import numpy as np

# Added to norms before dividing, so that a zero output does not produce NaN.
_NORM_EPSILON = 1e-12


def l2_normalize(Z):
    """Rows of ``Z`` scaled to unit length. Returns ``(E, norms)``, norms of shape (n, 1)."""
    norms = np.sqrt(np.einsum("ij,ij->i", Z, Z))[:, None] + _NORM_EPSILON
    return Z / norms, norms


def l2_normalize_backward(E, norms, grad_E):
    """Gradient in ``Z`` of a loss of ``E = Z / ||Z||``, given its gradient in ``E``."""
    radial = np.einsum("ij,ij->i", grad_E, E)[:, None]
    return (grad_E - radial * E) / norms


def to_embedding(Z, metric):
    """Network outputs to embeddings: unit rows for the cosine metric, as they
    are for the euclidean one. Returns ``(E, norms)``, ``norms`` None when
    nothing was scaled; :func:`embedding_backward` takes both."""
    if metric == "cosine":
        return l2_normalize(Z)
    return Z, None


def embedding_backward(E, norms, grad_E):
    """Gradient in the network outputs of a loss of ``to_embedding(Z, metric)``."""
    if norms is None:
        return grad_E
    return l2_normalize_backward(E, norms, grad_E)
