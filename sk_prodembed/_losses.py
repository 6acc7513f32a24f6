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


# The softmax runs over blocks of rows of about this many entries, so that its
# passes (max, shift, exp, sum, scale) stay in cache: the (batch x features)
# matrix is the largest array of a training step on a wide vocabulary.
_SOFTMAX_BLOCK_ENTRIES = 1 << 16


def _scaled_softmax(logits, log_weights, row_scale):
    """``row_scale[i] * softmax(logits[i] + log_weights)`` for each row, and the
    ``log_normalizer`` with ``log_softmax = logits + log_weights - log_normalizer[:, None]``.

    ``log_weights`` (per column) may be None. Reads ``logits`` once and writes
    the result once. A row whose logits are all -inf (nothing observed)
    yields NaN; the caller zeroes its gradient, so those warnings would only
    be noise.
    """
    n_rows, n_columns = logits.shape
    result = np.empty_like(logits)
    log_normalizer = np.empty(n_rows, dtype=logits.dtype)
    rows_per_block = max(1, _SOFTMAX_BLOCK_ENTRIES // max(n_columns, 1))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for start in range(0, n_rows, rows_per_block):
            stop = min(start + rows_per_block, n_rows)
            block = result[start:stop]
            if log_weights is None:
                row_max = logits[start:stop].max(axis=1)
                np.subtract(logits[start:stop], row_max[:, None], out=block)
            else:
                np.add(logits[start:stop], log_weights, out=block)
                row_max = block.max(axis=1)
                block -= row_max[:, None]
            np.exp(block, out=block)
            row_total = block.sum(axis=1)
            block *= (row_scale[start:stop] / row_total)[:, None]
            log_normalizer[start:stop] = row_max + np.log(row_total)
    return result, log_normalizer


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
    log_weights = None
    if column_weights is not None:
        # w * exp(z) = exp(z + log w): weighting the normaliser is a shift of
        # the logits, and the target's own features (weight one) are unchanged.
        log_weights = np.log(column_weights).astype(dtype, copy=False)
    if observed is not None:
        # Unobserved features leave the softmax: their logits go to -inf.
        if log_weights is not None:
            logits = logits + log_weights
            log_weights = None
        logits = np.where(observed, logits, -np.inf).astype(dtype, copy=False)
    if sp.issparse(target):
        target = sp.csr_matrix(target, dtype=dtype)
        row_sums = np.asarray(target.sum(axis=1)).ravel()
        scale = np.divide(1, row_sums, out=np.zeros_like(row_sums), where=row_sums > 0)
        proportions = sp.diags(scale) @ target
        # Fancy-index assignment below needs one stored entry per (row, column).
        proportions.sum_duplicates()
        rows = np.repeat(np.arange(n_samples), np.diff(proportions.indptr))
        cols = proportions.indices
        picked_proportions = proportions.data
    else:
        target = np.asarray(target, dtype=dtype)
        if observed is not None:
            target = np.where(observed, target, 0)
        row_sums = target.sum(axis=1, keepdims=True)
        proportions = np.divide(
            target, row_sums, out=np.zeros_like(target), where=row_sums > 0
        )
        rows, cols = np.nonzero(proportions)
        picked_proportions = proportions[rows, cols]
        row_sums = row_sums.ravel()
    # The gradient is (softmax - proportions) / n_samples on rows with a
    # target, zero on the others; the softmax pass applies the row factor.
    row_scale = ((row_sums > 0) / n_samples).astype(dtype)
    grad, log_normalizer = _scaled_softmax(logits, log_weights, row_scale)
    picked = logits[rows, cols] - log_normalizer[rows]
    if log_weights is not None:
        picked += log_weights[cols]
    loss = -float(np.dot(picked_proportions, picked)) / n_samples
    grad[rows, cols] -= picked_proportions / n_samples
    if observed is not None:
        grad[~observed] = 0
    return loss, grad


RECONSTRUCTION_LOSSES = {
    "mse": squared_error,
    "multinomial": multinomial_log_likelihood,
}
