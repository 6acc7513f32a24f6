"""Losses that learn from pairs of rows that belong together.

Both losses take the embeddings ``E`` of the distinct rows of one batch and
index arrays into ``E``, and return ``(loss, gradient with respect to E)``,
the gradient in the dtype of ``E``:

- :func:`multiple_negatives_ranking_loss`: (anchor, positive) pairs, the other
  rows of the batch serving as negatives (InfoNCE; the multiple-negatives
  ranking loss of sentence-transformers). It is the loss of ``pairs`` of
  shape (m, 2).
- :func:`~sk_prodembed._contrastive.triplet_margin_loss`: explicit
  (anchor, positive, negative) triples, the loss of ``pairs`` of shape
  (m, 3). It lives with the label objective, which mines its triples; it is
  re-exported here so that the pair objective finds both of its losses in one
  place.

Known partners are never negatives
----------------------------------
With in-batch negatives, a row of the batch that truly belongs with the
anchor (a popular product bought with many others, the third offer of the same
product) would be pushed away from it. The caller passes every known pair
among the batch's rows as ``partners`` (from the whole training set, not
only the pairs drawn into this batch: see ``_pair_batches.py``), and those
rows are left out of the anchor's softmax, except its own positive. The
anchor itself is never its own negative. ``E`` holds each data row once, so
a row drawn by two pairs of the batch is one candidate, never a negative of
itself.
"""

import numpy as np
import scipy.sparse as sp

from ._contrastive import triplet_margin_loss

__all__ = ["excluded_candidates", "multiple_negatives_ranking_loss", "triplet_margin_loss"]


def excluded_candidates(n_rows, queries, targets, partners):
    """Which rows are left out of each query's softmax.

    Parameters
    ----------
    n_rows : int
        Number of rows (candidates) of the batch.
    queries, targets : int arrays of shape (n_queries,)
        Each query's row and the row of its positive.
    partners : tuple (first, second) of int arrays, or None
        Known pairs among the rows, in either order (the relation is
        symmetric).

    Returns
    -------
    excluded : bool ndarray of shape (n_queries, n_rows)
        True for the query's own row and for its known partners other than
        its target; those rows are not negatives of the query.
    """
    # A dense (n_rows, n_rows) relation: a batch has at most a few thousand
    # rows, and the logits it masks are dense anyway.
    related = np.zeros((n_rows, n_rows), dtype=bool)
    np.fill_diagonal(related, True)
    if partners is not None:
        first, second = partners
        related[first, second] = True
        related[second, first] = True
    excluded = related[queries]
    excluded[np.arange(len(queries)), targets] = False
    return excluded


def multiple_negatives_ranking_loss(
    E,
    anchors,
    positives,
    *,
    temperature,
    weights=None,
    partners=None,
    symmetric=True,
    log_prior=None,
):
    """InfoNCE over (anchor, positive) pairs with the batch's other rows as negatives.

    For the query ``q`` of a pair and its target ``t``, the loss is
    ``-log softmax_r(<e_q, e_r> / temperature)`` at ``r = t``, the softmax
    running over the rows ``r`` of ``E`` that are not ``q`` and not a known
    partner of ``q`` other than ``t``. With ``symmetric=True`` each pair gives
    two queries, anchor to positive and positive to anchor (the pairs are
    undirected). The loss is the mean over queries weighted by the weight of
    their pair.

    Parameters
    ----------
    E : ndarray of shape (n_rows, n_components)
        Unit-length embeddings of the batch's distinct rows.
    anchors, positives : int arrays of shape (n_pairs,)
        Rows of ``E``; ``anchors[t] != positives[t]``.
    temperature : float
        Scale of the similarities; lower sharpens the softmax.
    weights : ndarray of shape (n_pairs,) or None
        Non-negative weight of each pair; None weighs them equally.
    partners : tuple (first, second) of int arrays, or None
        Known pairs among the rows of ``E`` (every training pair with both
        rows in the batch, including the batch's own pairs); see
        :func:`excluded_candidates`.
    symmetric : bool, default=True
        Also query from each positive to its anchor.
    log_prior : ndarray of shape (n_rows,) or None
        Subtracted from every logit of its row (candidate): the sampling-bias
        correction of Yi et al. (2019). A row that is in many pairs is drawn
        into many batches and so is a negative far more often than a rare
        one; with ``log_prior = log(number of its pairs)`` the softmax no
        longer learns to push popular rows away from everything, which
        matters where the partners of new items are popular items.

    Returns
    -------
    loss : float
        0 when there is no pair or no weight.
    grad : ndarray of shape (n_rows, n_components)
        In the dtype of ``E``.
    """
    anchors = np.asarray(anchors, dtype=np.intp)
    positives = np.asarray(positives, dtype=np.intp)
    weights = np.ones(len(anchors)) if weights is None else np.asarray(weights, dtype=np.float64)
    if symmetric:
        queries = np.concatenate([anchors, positives])
        targets = np.concatenate([positives, anchors])
        weights = np.concatenate([weights, weights])
    else:
        queries, targets = anchors, positives
    total_weight = weights.sum()
    if len(queries) == 0 or total_weight <= 0:
        return 0.0, np.zeros_like(E)

    n_rows = E.shape[0]
    logits = (E[queries] @ E.T).astype(np.float64) / temperature
    if log_prior is not None:
        logits -= np.asarray(log_prior, dtype=np.float64)[None, :]
    logits[excluded_candidates(n_rows, queries, targets, partners)] = -np.inf
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    rows = np.arange(len(queries))
    per_query = -log_probs[rows, targets]
    loss = float(weights @ per_query / total_weight)

    # d loss / d logits = w_q (softmax - one-hot of the target) / total
    # weight; the excluded rows have probability exactly 0.
    logit_grad = np.exp(log_probs)
    logit_grad[rows, targets] -= 1
    logit_grad *= (weights / (total_weight * temperature))[:, None]
    # logits[q, r] = <E[queries[q]], E[r]>: summing the query rows into an
    # (n_rows, n_rows) coefficient matrix gives the gradient of both sides
    # in one product.
    query_rows = sp.csr_matrix(
        (np.ones(len(queries)), (queries, rows)), shape=(n_rows, len(queries))
    )
    coefficients = np.asarray(query_rows @ logit_grad)
    symmetric_coefficients = (coefficients + coefficients.T).astype(E.dtype, copy=False)
    return loss, symmetric_coefficients @ E
