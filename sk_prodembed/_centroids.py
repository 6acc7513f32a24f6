"""A supervised start for the encoder: the directions that separate the class centroids.

A fresh Glorot initialisation maps every row to a small random vector, so
the first epochs of a triplet or proxy fit only find the directions along
which the classes differ. On a small catalog (a few hundred optimizer steps)
those epochs are much of the fit. The classes' mean feature vectors
(centroids) already span those directions: the leading right singular vectors
of the ``(n_classes, n_features)`` matrix of centroids are the linear map
under which the centroids stay farthest apart, the between-class part of
linear discriminant analysis without its within-class whitening (which a
TF-IDF matrix of 10,000s of features cannot afford). Projecting onto them is
a nearest-centroid classifier before any training step, which training then
refines; scikit-learn's ``NeighborhoodComponentsAnalysis(init="lda")`` starts
from the same idea.

The centroids are computed from the sparse input without densifying it (a
class-indicator matrix times X). The matrix of centroids has one row per
class; its leading right singular vectors come from the eigenvectors of its
``(n_classes, n_classes)`` Gram matrix (8-50 ms for 100-200 classes, a fifth
to a third of a randomized SVD's time, which would add 5% to a default fit on
Flipkart), or from a randomized SVD beyond ``GRAM_MAX_CLASSES`` classes,
where the Gram matrix would be large.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

from ._network import MLP

# Above this many classes the (n_classes, n_classes) Gram matrix and its
# eigendecomposition cost more than a randomized SVD of the centroids.
GRAM_MAX_CLASSES = 2048


def leading_right_singular_vectors(M, k, random_state, gram_max_rows=GRAM_MAX_CLASSES):
    """The ``k`` leading right singular vectors of ``M`` (rows x columns), as columns.

    Through the eigenvectors ``U`` of ``M M^T`` when ``M`` has at most
    ``gram_max_rows`` rows (``V = M^T U / s``, in float64), else by
    randomized SVD. Directions whose singular value is zero at float64
    precision (``M`` of lower rank than ``k``) are left out.
    """
    n_rows = M.shape[0]
    if n_rows > gram_max_rows:
        _, _, Vt = randomized_svd(M, k, random_state=random_state)
        return Vt.T
    M = M.astype(np.float64)
    gram = M @ M.T
    gram = gram.toarray() if sp.issparse(gram) else np.asarray(gram)
    eigenvalues, U = scipy.linalg.eigh(gram, subset_by_index=[n_rows - k, n_rows - 1])
    eigenvalues, U = eigenvalues[::-1], U[:, ::-1]
    tolerance = max(eigenvalues[0], 0.0) * n_rows * np.finfo(np.float64).eps
    keep = eigenvalues > tolerance
    return np.asarray(M.T @ U[:, keep]) / np.sqrt(eigenvalues[keep])


def class_centroid_directions(X, labels, n_directions, random_state):
    """Leading directions of the class centroids, scaled for a unit projection.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training rows (CSR or dense).
    labels : ndarray of int of shape (n_samples,)
        Class of each row in ``[0, n_classes)``, or negative for unlabeled
        rows, which are left out.
    n_directions : int
        How many directions are wanted.
    random_state : int
        Seed of the randomized SVD.

    Returns
    -------
    directions : ndarray of shape (n_features, k), dtype of X
        ``k = min(n_directions, n_classes, n_features)`` orthogonal columns
        of equal norm (the centroids span no more than ``n_classes``
        directions, fewer if some centroids are linear combinations of
        others), scaled so that a labeled row's projection ``X @ directions``
        has a root mean square norm of 1. None when no row is labeled or
        every labeled row is zero.
    """
    labeled = np.flatnonzero(labels >= 0)
    if labeled.size == 0:
        return None
    classes, codes = np.unique(labels[labeled], return_inverse=True)
    n_classes = classes.size
    rows = X if labeled.size == X.shape[0] else X[labeled]
    # (n_classes, n_samples) indicator scaled by 1 / class size: its product
    # with the rows is the matrix of centroids, sparse when X is.
    counts = np.bincount(codes, minlength=n_classes).astype(X.dtype)
    averaging = sp.csr_matrix(
        (1.0 / counts[codes], (codes, np.arange(labeled.size))),
        shape=(n_classes, labeled.size),
        dtype=X.dtype,
    )
    centroids = averaging @ rows
    k = min(n_directions, n_classes, X.shape[1])
    directions = np.ascontiguousarray(
        leading_right_singular_vectors(centroids, k, random_state), dtype=X.dtype
    )
    if directions.shape[1] == 0:
        return None
    projected = np.asarray(rows @ directions)
    rms = np.sqrt(np.mean(np.einsum("ij,ij->i", projected, projected)))
    if not np.isfinite(rms) or rms == 0:
        # Every labeled row is zero (empty texts): nothing to start from.
        return None
    directions /= rms
    return directions


def initialize_from_centroids(layer_sizes, activation, X, labels, dtype, rng):
    """An encoder whose first layer starts at the class-centroid directions.

    The first layer's first ``k`` units (``k`` at most the number of classes
    and the layer's width) are set to :func:`class_centroid_directions`; the
    other units, the other layers and the biases keep their Glorot-uniform /
    zero start (:meth:`MLP.initialize`). Returns the network and the
    directions (None, and a plain Glorot network, without labeled rows).
    """
    network = MLP.initialize(layer_sizes, activation, activation, dtype, rng)
    seed = int(rng.randint(np.iinfo(np.int32).max))
    directions = class_centroid_directions(X, labels, layer_sizes[1], seed)
    if directions is not None:
        network.coefs[0][:, : directions.shape[1]] = directions
    return network, directions


def class_means(Z, labels, n_classes):
    """Mean row of ``Z`` per class ``0 .. n_classes - 1`` (zeros for a class with no row)."""
    sums = np.zeros((n_classes, Z.shape[1]), dtype=Z.dtype)
    np.add.at(sums, labels, Z)
    counts = np.bincount(labels, minlength=n_classes).astype(Z.dtype)
    return sums / np.maximum(counts, 1)[:, None]
