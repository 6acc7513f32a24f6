"""Reconstruction losses, each returning ``(loss, gradient)``.

The loss is a mean over the rows of a batch, and the gradient is taken with
respect to the network's output (``predictions`` or ``logits``), in the
dtype of that output. Targets may be dense arrays or sparse CSR matrices.
"""

import numpy as np
import scipy.sparse as sp


def squared_error(target, predictions, observed=None, column_weights=None):
    """Half squared error summed over features, averaged over rows.

    Parameters
    ----------
    target : ndarray or sparse matrix of shape (n_samples, n_features)
    predictions : ndarray of shape (n_samples, n_features)
    observed : ndarray of bool of the same shape, default=None
        Entries that count; missing entries (False) contribute neither loss
        nor gradient. ``target`` must hold finite values where observed.
    column_weights : ndarray of shape (n_features,), default=None
        Weight of each feature's error, for reconstruction sampling.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_samples, n_features)
    """
    n_samples = predictions.shape[0]
    if sp.issparse(target):
        residual = predictions - target.toarray()
    else:
        residual = predictions - target
    if observed is not None:
        residual[~observed] = 0
    if column_weights is None:
        loss = 0.5 * float(np.vdot(residual, residual)) / n_samples
    else:
        loss = 0.5 * float(np.dot(column_weights, (residual**2).sum(axis=0))) / n_samples
        residual *= column_weights
    residual /= n_samples
    return loss, residual


def _softmax_parts(logits):
    """Softmax of each row, and ``log_normalizer`` with
    ``log_softmax = logits - log_normalizer[:, None]``.

    Written to make few passes over the (batch x features) matrix, which is
    the largest array of a training step on a wide vocabulary. A row whose
    logits are all -inf (nothing observed) yields NaN; the caller zeroes its
    gradient, so those warnings would only be noise.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        row_max = logits.max(axis=1)
        probabilities = logits - row_max[:, None]
        np.exp(probabilities, out=probabilities)
        row_total = probabilities.sum(axis=1)
        probabilities /= row_total[:, None]
        log_normalizer = row_max + np.log(row_total)
    return probabilities, log_normalizer


def multinomial_log_likelihood(target, logits, observed=None, column_weights=None):
    """Negative multinomial log-likelihood of each row under a softmax over features.

    Each non-negative target row is normalised to sum to one, and its
    cross-entropy with ``softmax(logits)`` is averaged over rows (Mult-DAE,
    Liang et al. 2018). Rows whose target is all zero contribute nothing.

    Parameters
    ----------
    target : ndarray or sparse matrix of shape (n_samples, n_features)
        Non-negative.
    logits : ndarray of shape (n_samples, n_features)
    observed : ndarray of bool of the same shape, default=None
        Entries that count; the softmax is then taken over the observed
        features of each row only.
    column_weights : ndarray of shape (n_features,), default=None
        Each feature's weight in the softmax normaliser, for reconstruction
        sampling: a sampled feature of weight ``w`` stands for ``w`` features.
        Features with non-zero target must have weight one.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n_samples, n_features)
    """
    n_samples = logits.shape[0]
    dtype = logits.dtype
    if column_weights is not None:
        # w * exp(z) = exp(z + log w): weighting the normaliser is a shift of
        # the logits, and the target's own features (weight one) are unchanged.
        logits = logits + np.log(column_weights).astype(dtype, copy=False)
    if observed is not None:
        # Unobserved features leave the softmax: their logits go to -inf.
        logits = np.where(observed, logits, -np.inf).astype(dtype, copy=False)
    grad, log_normalizer = _softmax_parts(logits)
    if sp.issparse(target):
        target = sp.csr_matrix(target, dtype=dtype)
        row_sums = np.asarray(target.sum(axis=1)).ravel()
        scale = np.divide(1, row_sums, out=np.zeros_like(row_sums), where=row_sums > 0)
        proportions = sp.diags(scale) @ target
        # Fancy-index assignment below needs one stored entry per (row, column).
        proportions.sum_duplicates()
        rows = np.repeat(np.arange(n_samples), np.diff(proportions.indptr))
        cols = proportions.indices
        picked = logits[rows, cols] - log_normalizer[rows]
        loss = -float(np.dot(proportions.data, picked)) / n_samples
        grad *= (row_sums > 0)[:, None]
        grad[rows, cols] -= proportions.data
    else:
        target = np.asarray(target, dtype=dtype)
        if observed is not None:
            target = np.where(observed, target, 0)
        row_sums = target.sum(axis=1, keepdims=True)
        proportions = np.divide(
            target, row_sums, out=np.zeros_like(target), where=row_sums > 0
        )
        rows, cols = np.nonzero(proportions)
        picked = logits[rows, cols] - log_normalizer[rows]
        loss = -float(np.dot(proportions[rows, cols], picked)) / n_samples
        grad *= row_sums > 0
        grad -= proportions
    if observed is not None:
        grad[~observed] = 0
    grad /= n_samples
    return loss, grad


RECONSTRUCTION_LOSSES = {
    "mse": squared_error,
    "multinomial": multinomial_log_likelihood,
}
