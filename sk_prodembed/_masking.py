"""Random corruption of a batch of rows, dense or sparse CSR.

A fraction ``mask_ratio`` of the entries is hidden. For sparse input, only the
stored entries of each row are candidates: hiding an implicit zero would change
nothing, and picking among the stored entries keeps the cost proportional to
the number of stored entries rather than to the vocabulary. Zero corruption
does the same on dense input, so dense and sparse forms of the same data give
the same masks; marginal corruption on dense input may hide any entry, as in
SCARF.
"""

import numpy as np
import scipy.sparse as sp

CORRUPTIONS = ("zero", "marginal")
# Resolution of the mask probability: 16-bit draws.
_MASK_LEVELS = 1 << 16
# Seed of the masks drawn by the objectives' scores (validation scores and
# ``score`` methods), so that epochs, models and calls are compared on the
# same masks.
SCORING_SEED = 0


def corrupt(X, mask_ratio, corruption, rng):
    """Return a corrupted copy of the batch ``X``; ``X`` itself is never written.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    mask_ratio : float in [0, 1)
        Probability that each (stored) entry is hidden.
    corruption : {"zero", "marginal"}
        ``"zero"`` sets hidden entries to zero. ``"marginal"`` replaces each
        hidden entry by the value of the same feature in a row of the batch
        drawn at random (SCARF, Bahri et al. 2022), i.e. a draw from the
        feature's empirical marginal distribution.
    rng : numpy.random.RandomState

    Returns
    -------
    X_corrupted : ndarray or CSR matrix, same type, shape and dtype as ``X``
    """
    if corruption not in CORRUPTIONS:
        raise ValueError(
            f"corruption must be one of {CORRUPTIONS}, got {corruption!r}."
        )
    if sp.issparse(X):
        return _corrupt_sparse(X, mask_ratio, corruption, rng)
    return _corrupt_dense(X, mask_ratio, corruption, rng)


def _random_mask(shape, mask_ratio, rng):
    """Boolean array of ``shape``, True with probability ``mask_ratio``.

    The draws come from a ``numpy.random.Generator`` seeded by ``rng``, as
    16-bit integers compared with ``mask_ratio * 2**16``: a batch's mask
    draws one per entry, and 16-bit draws are a third of the cost of float32
    uniforms (an order of magnitude less than ``RandomState.random_sample``
    with fancy indexing). The probability is
    ``mask_ratio`` rounded to a multiple of 2**-16. Draws fill ``shape`` in C
    order, so a flat draw of n values equals the first n of any larger one.
    """
    generator = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
    threshold = min(round(mask_ratio * _MASK_LEVELS), _MASK_LEVELS - 1)
    if mask_ratio > 0:
        threshold = max(threshold, 1)
    draws = generator.integers(0, _MASK_LEVELS, size=shape, dtype=np.uint16)
    return draws < threshold


def _corrupt_dense(X, mask_ratio, corruption, rng):
    if corruption == "zero":
        # Zeroing a zero changes nothing, so only the non-zero entries draw a
        # mask, in row-major order: the same draws as for the CSR form of X,
        # which makes dense and sparse input train identically.
        nonzero = X != 0
        n_nonzero = int(np.count_nonzero(nonzero))
        if n_nonzero == X.size:
            hidden = _random_mask(X.shape, mask_ratio, rng)
        else:
            hidden = np.zeros(X.shape, dtype=bool)
            hidden[nonzero] = _random_mask(n_nonzero, mask_ratio, rng)
        # X * ~hidden: a single pass, several times faster than a masked
        # assignment, and exact since X is finite here (missing entries were
        # split off before corruption; infinities are rejected on input).
        return np.multiply(X, ~hidden, dtype=X.dtype)
    hidden = _random_mask(X.shape, mask_ratio, rng)
    rows, cols = np.nonzero(hidden)
    donors = rng.randint(X.shape[0], size=rows.shape[0])
    X_corrupted = X.copy()
    X_corrupted[rows, cols] = X[donors, cols]
    return X_corrupted


def _corrupt_sparse(X, mask_ratio, corruption, rng):
    X = sp.csr_matrix(X)
    if not X.has_sorted_indices:
        X = X.sorted_indices()
    hidden = _random_mask(X.nnz, mask_ratio, rng)
    data = X.data.copy()
    if corruption == "zero":
        data[hidden] = 0
    else:
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[hidden]
        cols = X.indices[hidden]
        donors = rng.randint(X.shape[0], size=rows.shape[0])
        data[hidden] = np.asarray(X[donors, cols]).ravel()
    X_corrupted = sp.csr_matrix(
        (data, X.indices.copy(), X.indptr.copy()), shape=X.shape
    )
    X_corrupted.eliminate_zeros()
    return X_corrupted


def fill_missing(X):
    """``X`` with its missing (NaN) entries set to zero: ``X`` itself when
    nothing is missing, otherwise a copy (of the stored values only, for a
    CSR matrix). What ``transform`` needs, on input of any size."""
    if sp.issparse(X):
        missing = np.isnan(X.data)
        if not missing.any():
            return X
        X_filled = X.copy()
        X_filled.data[missing] = 0
        X_filled.eliminate_zeros()
        return X_filled
    missing = np.isnan(X)
    if not missing.any():
        return X
    return np.where(missing, 0, X).astype(X.dtype, copy=False)


def split_missing(X):
    """Separate the missing (NaN) entries of a batch from its values.

    Returns
    -------
    X_filled : ndarray or CSR matrix
        ``X`` with missing entries set to zero (``X`` itself when nothing is
        missing; otherwise a copy), as :func:`fill_missing` gives it.
    observed : ndarray of bool of shape X.shape, or None
        False at the missing entries; None when nothing is missing. Dense:
        for a batch, not for a whole catalog.
    """
    if sp.issparse(X):
        missing = np.isnan(X.data)
        if not missing.any():
            return X, None
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        observed = np.ones(X.shape, dtype=bool)
        observed[rows[missing], X.indices[missing]] = False
        return fill_missing(X), observed
    missing = np.isnan(X)
    if not missing.any():
        return X, None
    return fill_missing(X), ~missing
