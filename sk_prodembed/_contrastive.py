"""Contrastive losses on embeddings and the triplet objective of TripletEmbedder.

Losses return ``(loss, gradient with respect to the embeddings)``; the loss is
a mean, and the gradient is in the dtype of the embeddings.

Metrics
-------
``"cosine"``: the embeddings are unit vectors and the distance is
``1 - <e_i, e_j>``, the cosine distance, in [0, 2]; it equals half the squared
euclidean distance of the unit vectors. ``"euclidean"``: the plain (not
squared) euclidean distance, as in Hermans et al. (2017).

Self-supervised term
--------------------
Unlabeled rows (label -1) contribute through NT-Xent (Chen et al. 2020,
SimCLR; SCARF for tabular rows): each row is masked twice with
:func:`~sk_prodembed._masking.corrupt`, the two views are a positive pair and
the views of the other unlabeled rows of the batch are the negatives. It
compares directions (cosine similarity over a temperature) whatever the
metric, since a softmax over unbounded euclidean distances has no natural
scale.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._engine import mean_over_chunks
from ._masking import SCORING_SEED, corrupt
from ._miners import MINERS, UNLABELED
from ._normalization import (
    embedding_backward,
    l2_normalize,
    l2_normalize_backward,
    to_embedding,
)
from ._proxies import normalized_softmax_loss

_VALIDATION_CHUNK_ROWS = 1024
# NT-Xent compares every view with every other: chunks bound that square.
_SELF_SUPERVISED_CHUNK_ROWS = 256
# Pair counts below n^2 / this go through a sparse coefficient matrix.
_DENSE_PAIRS_FRACTION = 16


def batch_distances(E, metric):
    """The exact ``(n, n)`` distance matrix of a batch, for the miners (no gradient)."""
    if metric == "cosine":
        return 1 - E @ E.T
    squared_norms = np.einsum("ij,ij->i", E, E)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2 * (E @ E.T)
    np.maximum(squared, 0, out=squared)
    np.fill_diagonal(squared, 0)
    return np.sqrt(squared, out=squared)


def _pair_distances(E, first, second, metric):
    """Distances of the pairs ``(first[t], second[t])``, computed directly so
    that the gradient sees exact zeros for repeated rows."""
    if metric == "cosine":
        return 1 - np.einsum("ij,ij->i", E[first], E[second])
    return np.linalg.norm(E[first] - E[second], axis=1)


def _distance_backward(E, first, second, pair_grad, distances, metric):
    """Gradient with respect to ``E`` of ``sum_t pair_grad[t] * d(E[first[t]], E[second[t]])``."""
    n = E.shape[0]
    if metric == "euclidean":
        # d ||e_i - e_j|| / d e_i = (e_i - e_j) / d, taken as 0 at d = 0.
        pair_grad = np.divide(
            pair_grad, distances, out=np.zeros_like(pair_grad), where=distances > 0
        )
    # The pair weights summed into an (n, n) coefficient matrix, symmetrised
    # since d(e_i, e_j) moves both rows. Batch-hard mining gives two pairs per
    # anchor, where a sparse matrix product is several times faster than the
    # dense one; batch-all can give up to n^2 pairs, where the dense product
    # (multi-threaded BLAS) is the faster, from about n^2 / 16 (measured in
    # benchmarks/RESULTS.md, triplet section).
    if len(first) < n * n // _DENSE_PAIRS_FRACTION:
        coefficients = sp.csr_matrix(
            (pair_grad.astype(E.dtype, copy=False), (first, second)), shape=(n, n)
        )
    else:
        coefficients = np.bincount(
            first * n + second, weights=pair_grad, minlength=n * n
        ).reshape(n, n).astype(E.dtype, copy=False)
    symmetric = coefficients + coefficients.T
    if metric == "cosine":
        # d (1 - <e_i, e_j>) / d e_i = -e_j
        return -np.asarray(symmetric @ E)
    row_sums = np.asarray(symmetric.sum(axis=1)).reshape(n, 1)
    return row_sums * E - np.asarray(symmetric @ E)


def triplet_margin_loss(E, triples, metric, margin):
    """Mean triplet loss of ``triples`` on the embeddings ``E``.

    Parameters
    ----------
    E : ndarray of shape (n_samples, n_components)
        Embeddings; unit rows for ``metric="cosine"``.
    triples : tuple of three int arrays (anchors, positives, negatives)
        As returned by a miner.
    metric : {"cosine", "euclidean"}
    margin : float or None
        Hinge ``max(0, d(a, p) - d(a, n) + margin)``; None gives the soft
        margin ``log(1 + exp(d(a, p) - d(a, n)))`` (Hermans et al. 2017),
        which keeps pulling triples that already satisfy a margin.

    Returns
    -------
    loss : float
        0 when there is no triple.
    grad : ndarray of shape (n_samples, n_components)
    """
    anchors, positives, negatives = triples
    if len(anchors) == 0:
        return 0.0, np.zeros_like(E)
    d_positive = _pair_distances(E, anchors, positives, metric)
    d_negative = _pair_distances(E, anchors, negatives, metric)
    difference = (d_positive - d_negative).astype(np.float64)
    if margin is None:
        losses = np.logaddexp(0, difference)
        slopes = np.exp(difference - losses)  # the sigmoid, without overflow
    else:
        losses = np.maximum(difference + margin, 0)
        slopes = (losses > 0).astype(np.float64)
    slopes /= len(anchors)
    # Both pair sets in one pass: one (n, n) coefficient matrix, one product.
    grad = _distance_backward(
        E,
        np.concatenate([anchors, anchors]),
        np.concatenate([positives, negatives]),
        np.concatenate([slopes, -slopes]),
        np.concatenate([d_positive, d_negative]),
        metric,
    )
    return float(losses.mean()), grad


def nt_xent_loss(E, temperature):
    """NT-Xent of two stacked views: rows ``i`` and ``i + m`` of ``E`` are a positive pair.

    Parameters
    ----------
    E : ndarray of shape (2 * m, n_components)
        Unit rows: the first views of m rows, then their second views.
    temperature : float

    Returns
    -------
    loss : float
        Mean over the 2m views of ``-log softmax_j(<e_i, e_j> / temperature)``
        at j = the other view of i, the softmax running over j != i.
    grad : ndarray of shape (2 * m, n_components)
    """
    n_views = E.shape[0]
    m = n_views // 2
    logits = (E @ E.T).astype(np.float64) / temperature
    np.fill_diagonal(logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    partners = np.concatenate([np.arange(m, n_views), np.arange(m)])
    rows = np.arange(n_views)
    loss = -float(log_probs[rows, partners].mean())
    logit_grad = np.exp(log_probs)
    logit_grad[rows, partners] -= 1
    logit_grad /= n_views * temperature
    symmetric = (logit_grad + logit_grad.T).astype(E.dtype, copy=False)
    return loss, symmetric @ E


def leave_one_out_precision(E, labels, metric, k=10):
    """Mean share of each labeled row's k nearest labeled rows (itself excluded) with its label.

    Unlabeled rows (-1) are ignored. ``k`` is lowered to the number of other
    labeled rows when there are fewer. Returns NaN with fewer than two
    labeled rows.
    """
    labeled = labels != UNLABELED
    E, labels = E[labeled], labels[labeled]
    n = E.shape[0]
    if n < 2:
        return np.nan
    k = min(k, n - 1)
    hits = 0
    for start in range(0, n, _VALIDATION_CHUNK_ROWS):
        stop = min(start + _VALIDATION_CHUNK_ROWS, n)
        distances = ranking_distances(E[start:stop], E, metric)
        distances[np.arange(stop - start), np.arange(start, stop)] = np.inf
        neighbours = np.argpartition(distances, k - 1, axis=1)[:, :k]
        hits += int((labels[neighbours] == labels[start:stop, None]).sum())
    return hits / (n * k)


def ranking_distances(A, B, metric):
    """A monotone function of the distances from the rows of A to those of B, for
    rankings only: the cosine distance, or the squared euclidean one."""
    if metric == "cosine":
        return 1 - A @ B.T
    return (
        np.einsum("ij,ij->i", A, A)[:, None]
        + np.einsum("ij,ij->i", B, B)[None, :]
        - 2 * (A @ B.T)
    )


def encoder_gradients(encoder, outputs, output_grad, batch, alpha, proxy_grad=None):
    """The gradients of a contrastive batch, in the objective's ``params`` order.

    Backpropagates ``output_grad`` through ``encoder`` (lazily updated slices
    as ``IndexedGradient``, from ``batch.touched``), adds the encoder's L2
    penalty (scaled by ``batch.n_rows``) and appends the gradient of the class
    proxies when there are some. Returns ``(penalty, grads)``.
    """
    n_encoder_params = len(encoder.params)
    grads, _ = encoder.backward(outputs, output_grad, touched=batch.touched[:n_encoder_params])
    penalty = encoder.add_l2_penalty(grads, alpha, batch.n_rows)
    if proxy_grad is not None:
        grads.append(proxy_grad)
    return penalty, grads


def _stack_rows(blocks):
    if sp.issparse(blocks[0]):
        return sp.vstack(blocks, format="csr")
    return np.vstack(blocks)


class TripletObjective:
    """A supervised loss on labeled rows plus NT-Xent on masked views of unlabeled rows.

    The loss of a batch is the mean supervised loss of its labeled rows (the
    mined triplet loss, or with ``proxies`` the normalised-softmax loss of
    ``_proxies.py``) plus ``unlabeled_weight`` times the NT-Xent loss of its
    unlabeled rows (the NT-Xent loss alone, unweighted, when no row is
    labeled; nothing at all when ``unlabeled_weight`` is 0), plus the L2
    penalty of the encoder as in scikit-learn's MLP.

    Parameters
    ----------
    encoder : MLP
    metric : {"cosine", "euclidean"}
    miner : {"batch_hard", "semi_hard", "batch_all"}
    margin : float or None
        None for the soft margin.
    mask_ratio : float
    corruption : {"zero", "marginal"}
    temperature : float
    unlabeled_weight : float
    alpha : float
    proxies : ndarray of shape (n_classes, n_components) or None, default=None
        Class proxies, trained in place as the last parameter: the labeled
        rows then train the normalised-softmax loss instead of triplets. It
        compares directions, whatever the metric.
    proxy_temperature : float, default=0.3
    """

    def __init__(
        self,
        encoder,
        *,
        metric,
        miner,
        margin,
        mask_ratio,
        corruption,
        temperature,
        unlabeled_weight,
        alpha,
        proxies=None,
        proxy_temperature=0.3,
    ):
        self.encoder = encoder
        self.proxies = proxies
        self.proxy_temperature = proxy_temperature
        self.metric = metric
        self.mine = MINERS[miner]
        self.margin = margin
        self.mask_ratio = mask_ratio
        self.corruption = corruption
        self.temperature = temperature
        self.unlabeled_weight = unlabeled_weight
        self.alpha = alpha

    @property
    def params(self):
        if self.proxies is None:
            return self.encoder.params
        return self.encoder.params + [self.proxies]

    def _labeled_term(self, Z, labels):
        """Loss, gradient in ``Z`` and gradient in the proxies (None without)."""
        if self.proxies is not None:
            E, norms = l2_normalize(Z)
            loss, grad, proxy_grad = normalized_softmax_loss(
                E, labels, self.proxies, self.proxy_temperature
            )
            return loss, l2_normalize_backward(E, norms, grad), proxy_grad
        E, norms = to_embedding(Z, self.metric)
        triples = self.mine(batch_distances(E, self.metric), labels, self.margin)
        loss, grad = triplet_margin_loss(E, triples, self.metric, self.margin)
        return loss, embedding_backward(E, norms, grad), None

    def _unlabeled_term(self, Z):
        E, norms = l2_normalize(Z)
        loss, grad = nt_xent_loss(E, self.temperature)
        return loss, l2_normalize_backward(E, norms, grad)

    def prepare_batch(self, X, labels, rng):
        """Stack the batch's labeled rows and two masked views of its unlabeled ones."""
        labeled = labels != UNLABELED
        n_labeled = int(labeled.sum())
        blocks = [X[labeled]] if n_labeled else []
        if n_labeled < X.shape[0]:
            X_unlabeled = X[~labeled]
            blocks += [
                corrupt(X_unlabeled, self.mask_ratio, self.corruption, rng),
                corrupt(X_unlabeled, self.mask_ratio, self.corruption, rng),
            ]
        rows = _stack_rows(blocks)
        touched = self.encoder.touched_slices(rows)
        if self.proxies is not None:
            touched.append(None)  # every proxy is in each row's softmax
        return TripletBatch(rows, labels[labeled], X.shape[0], touched)

    def output_terms(self, Z, batch):
        """Loss of the encoder outputs ``Z`` of ``batch.rows``, its gradient in
        ``Z`` and in the proxies (None without), without the L2 penalty (shared
        with the pair objective, which adds these terms to its own)."""
        n_labeled = batch.labels.shape[0]
        loss = 0.0
        output_grad = np.zeros_like(Z)
        proxy_grad = None if self.proxies is None else np.zeros_like(self.proxies)
        if n_labeled:
            loss, output_grad[:n_labeled], labeled_proxy_grad = self._labeled_term(
                Z[:n_labeled], batch.labels
            )
            if labeled_proxy_grad is not None:
                proxy_grad = labeled_proxy_grad
        # A weight of zero leaves the unlabeled rows out (their gradient is zero).
        if n_labeled < Z.shape[0] and self.unlabeled_weight > 0:
            term, grad = self._unlabeled_term(Z[n_labeled:])
            weight = self.unlabeled_weight if n_labeled else 1.0
            loss += weight * term
            output_grad[n_labeled:] = grad * weight
        return loss, output_grad, proxy_grad

    def _loss(self, batch, need_gradient):
        outputs = self.encoder.forward(batch.rows)
        loss, output_grad, proxy_grad = self.output_terms(outputs[-1], batch)
        if not need_gradient:
            return loss, None
        penalty, grads = encoder_gradients(
            self.encoder, outputs, output_grad, batch, self.alpha, proxy_grad
        )
        return loss + penalty, grads

    def loss_and_gradient(self, batch):
        return self._loss(batch, need_gradient=True)

    def validation_score(self, X, y):
        """Leave-one-out precision@10 of the labels; minus the self-supervised
        loss (fixed masks) when fewer than two rows are labeled."""
        if np.count_nonzero(y != UNLABELED) >= 2:
            E = to_embedding(self.encoder.predict(X), self.metric)[0]
            return leave_one_out_precision(E, y, self.metric)
        rng = np.random.RandomState(SCORING_SEED)

        def chunk_loss(chunk):
            unlabeled = np.full(chunk.shape[0], UNLABELED)
            batch = self.prepare_batch(chunk, unlabeled, rng)
            return self._loss(batch, need_gradient=False)[0]

        return -mean_over_chunks(chunk_loss, X, _SELF_SUPERVISED_CHUNK_ROWS)


@dataclass
class TripletBatch:
    """One batch of :class:`TripletObjective`: labeled rows first, then the two
    masked views of the unlabeled rows."""

    rows: object  # the encoder's input, dense or CSR
    labels: np.ndarray  # labels of the labeled rows (the first len(labels) rows)
    n_rows: int  # rows of the batch before the views were stacked
    touched: list  # the encoder's slices the batch touches (MLP.touched_slices)
