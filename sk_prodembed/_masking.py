"""Random corruption of a batch of rows, dense or sparse CSR.

A fraction ``mask_ratio`` of the entries is hidden. For sparse input, only the
stored entries of each row are candidates: hiding an implicit zero would change
nothing, and picking among the stored entries keeps the cost proportional to
the number of stored entries rather than to the vocabulary.
"""

import numpy as np
import scipy.sparse as sp

CORRUPTIONS = ("zero", "marginal")


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


def _corrupt_dense(X, mask_ratio, corruption, rng):
    hidden = rng.random_sample(X.shape) < mask_ratio
    if corruption == "zero":
        return np.where(hidden, 0, X).astype(X.dtype, copy=False)
    rows, cols = np.nonzero(hidden)
    donors = rng.randint(X.shape[0], size=rows.shape[0])
    X_corrupted = X.copy()
    X_corrupted[rows, cols] = X[donors, cols]
    return X_corrupted


def _corrupt_sparse(X, mask_ratio, corruption, rng):
    X = sp.csr_matrix(X)
    hidden = rng.random_sample(X.nnz) < mask_ratio
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
