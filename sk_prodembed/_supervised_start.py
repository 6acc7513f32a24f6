"""A supervised start for the encoder: a ridge regression of the rows onto codes of their classes.

A fresh Glorot initialisation maps every row to a small random vector, so the
first epochs of a triplet or proxy fit only look for the directions along
which the classes differ, and on a small catalog (a few hundred optimizer
steps) those epochs are much of the fit. A linear least-squares fit of each
labeled row onto a code of its class (linear discriminant analysis by
optimal scoring, Hastie, Tibshirani and Buja 1994) finds such a map in
closed form, with the regularisation a linear classifier of text needs:

- each class gets a code in ``k = n_components`` dimensions: the unit
  vectors (one-hot) when there are at most ``k`` classes, else orthonormal
  random directions (the columns of a random ``(n_classes, k)`` matrix with
  orthonormal columns), which keep the distances between the classes' codes
  nearly equal (the regression onto all one-hot codes followed by a rank-``k``
  truncation scored below random codes on every catalog tried:
  benchmarks/RESULTS.md);
- ``W`` minimises ``||X W - T||^2 + alpha ||W||^2``, ``T`` the codes of the
  labeled rows and ``alpha`` their mean squared norm (1 for l2-normalised
  TF-IDF rows, so the penalty does not depend on the input's scale), by a
  fixed number of conjugate-gradient steps on the normal equations, every
  code column at once; early-stopped conjugate gradients regularise as well,
  and 10 steps scored as well as 30 or 100 (RESULTS.md). Each step is two
  products of the sparse X with a ``(., k)`` matrix, never a densified X.

Projected onto ``W``, a row lands near its class's code: the fit starts as a
ridge classifier, which on short product texts classifies better than the
class centroids and as well as a logistic regression; training then only
has to refine it (hence a smaller learning rate from this start, see
``TripletEmbedder(learning_rate_init="auto")``).
"""

import numpy as np
import scipy.sparse as sp

from ._network import MLP

# Conjugate-gradient steps of the ridge start (see the module docstring).
RIDGE_STEPS = 10


def class_codes(n_classes, n_codes, rng):
    """``(n_classes, k)`` codes, ``k = min(n_classes, n_codes)``: one-hot, or orthonormal random columns."""
    if n_classes <= n_codes:
        return np.eye(n_classes)
    gaussian = rng.standard_normal((n_classes, n_codes))
    codes, _ = np.linalg.qr(gaussian)
    # Rows of norm sqrt(k / n_classes) on average; rescaled to unit norm on
    # average so that alpha weighs the fit as it does for one-hot codes.
    return codes * np.sqrt(n_classes / n_codes)


def ridge_fit(X, T, alpha, n_steps):
    """Approximate ``argmin_W ||X W - T||^2 + alpha ||W||^2`` by conjugate gradients.

    Every column of ``T`` runs its own conjugate-gradient recurrence on
    ``(X^T X + alpha I) W = X^T T``, vectorised across the columns; ``X``
    (sparse or dense) is only multiplied, never densified or factorised.
    """
    B = np.asarray(X.T @ T)
    W = np.zeros_like(B)
    residual = B.copy()
    direction = residual.copy()
    squared = np.einsum("ij,ij->j", residual, residual)
    for _ in range(n_steps):
        image = np.asarray(X.T @ (X @ direction)) + alpha * direction
        curvature = np.einsum("ij,ij->j", direction, image)
        step = np.divide(squared, curvature, out=np.zeros_like(squared), where=curvature > 0)
        W += direction * step
        residual -= image * step
        new_squared = np.einsum("ij,ij->j", residual, residual)
        ratio = np.divide(new_squared, squared, out=np.zeros_like(squared), where=squared > 0)
        direction = residual + direction * ratio
        squared = new_squared
    return W


def ridge_directions(X, labels, n_directions, rng, n_steps=RIDGE_STEPS):
    """The linear map of the ridge start, scaled for a unit projection.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training rows (CSR or dense).
    labels : ndarray of int of shape (n_samples,)
        Class of each row, or negative for unlabeled rows, which are left out.
    n_directions : int
        Width of the map (the code length ``k`` when there are more classes).
    rng : RandomState
        Draws the random codes (more classes than ``n_directions``).
    n_steps : int
        Conjugate-gradient steps.

    Returns
    -------
    directions : ndarray of shape (n_features, k), dtype of X
        ``k = min(n_directions, n_classes)`` columns, scaled together so
        that a labeled row's projection ``X @ directions`` has a root mean
        square norm of 1. None when no row is labeled or every labeled row
        is zero.
    """
    labeled = np.flatnonzero(labels >= 0)
    if labeled.size == 0:
        return None
    rows = X if labeled.size == X.shape[0] else X[labeled]
    _, codes_of_rows = np.unique(labels[labeled], return_inverse=True)
    n_classes = int(codes_of_rows.max()) + 1
    codes = class_codes(n_classes, n_directions, rng).astype(X.dtype)
    targets = codes[codes_of_rows]
    if sp.issparse(rows):
        alpha = float(rows.multiply(rows).sum()) / rows.shape[0]
    else:
        alpha = float(np.einsum("ij,ij->", rows, rows)) / rows.shape[0]
    if not np.isfinite(alpha) or alpha == 0:
        # Every labeled row is zero (empty texts): nothing to start from.
        return None
    directions = ridge_fit(rows, targets, alpha, n_steps).astype(X.dtype, copy=False)
    projected = np.asarray(rows @ directions)
    rms = np.sqrt(np.mean(np.einsum("ij,ij->i", projected, projected)))
    if not np.isfinite(rms) or rms == 0:
        return None
    directions /= rms
    return np.ascontiguousarray(directions)


def initialize_from_labels(layer_sizes, activation, X, labels, dtype, rng, input_scale=1.0):
    """An encoder whose first layer starts at :func:`ridge_directions`.

    The first layer's first ``k`` units (``k`` at most the number of classes
    and the layer's width) are the ridge map; the other units, the other
    layers and the biases keep their Glorot-uniform / zero start
    (:meth:`MLP.initialize`, with ``input_scale``). Returns the network and
    the directions (None, and a plain Glorot network, without labeled rows).
    """
    network = MLP.initialize(layer_sizes, activation, activation, dtype, rng, input_scale)
    directions = ridge_directions(X, labels, layer_sizes[1], rng)
    if directions is not None:
        # The ridge map of X * input_scale (the penalty follows the rows'
        # scale, so the map only scales back).
        network.coefs[0][:, : directions.shape[1]] = directions / input_scale
    return network, directions


def class_means(Z, labels, n_classes):
    """Mean row of ``Z`` per class ``0 .. n_classes - 1`` (zeros for a class with no row)."""
    sums = np.zeros((n_classes, Z.shape[1]), dtype=Z.dtype)
    np.add.at(sums, labels, Z)
    counts = np.bincount(labels, minlength=n_classes).astype(Z.dtype)
    return sums / np.maximum(counts, 1)[:, None]
