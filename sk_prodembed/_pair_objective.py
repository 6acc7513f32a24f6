"""The pair objective of TripletEmbedder: pairs (or triples) of rows, plus labels if any.

A batch (from :func:`~sk_prodembed._pair_batches.pair_batches`) holds the
distinct rows of a batch of pairs, then, when labels train too, a batch of
the label objective (:class:`~sk_prodembed._contrastive.TripletObjective`:
labeled rows and masked views of unlabeled ones). Both go through the encoder
in one forward pass and one backward pass; the loss is the pair term plus the
label objective's terms, plus the L2 penalty.

- Pairs of shape (m, 2): :func:`~sk_prodembed._pair_losses.multiple_negatives_ranking_loss`
  on the unit-length outputs, whatever the metric (as the self-supervised
  NT-Xent term: a softmax needs bounded similarities), the batch's other rows
  as negatives except the known partners.
- Triples of shape (m, 3): the triplet loss of the estimator's metric and
  margin on the explicit (anchor, positive, negative) rows.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from ._contrastive import (
    _stack_rows,
    encoder_gradients,
    embedding_backward,
    l2_normalize,
    l2_normalize_backward,
    to_embedding,
)
from ._pair_batches import PairGraph
from ._pair_losses import multiple_negatives_ranking_loss, triplet_margin_loss
from .pairs import pairs_of


class PairTargets:
    """The supervision of a pair fit besides ``X``: encoded labels or None, pairs, weights.

    It stands where the engine expects ``y``: ``targets[indices]`` gives the
    labels of those rows (None without labels), as ``y[indices]`` would.
    """

    def __init__(self, labels, pairs, weights):
        self.labels = labels
        self.pairs = pairs
        self.weights = weights

    def __getitem__(self, indices):
        return None if self.labels is None else self.labels[indices]


@dataclass
class PairTrainingBatch:
    """One batch of :class:`PairObjective`: the pair rows, then the label batch's rows."""

    rows: object  # the encoder's input, dense or CSR
    pairs: object  # the PairBatch, positions into the first n_pair_rows rows
    n_pair_rows: int
    labels: object  # the label objective's TripletBatch, or None
    n_rows: int  # rows read from X (before the label batch stacked its views)
    touched: list


class PairObjective:
    """Loss of the pairs (or triples) of a batch, plus the label objective's if any.

    Parameters
    ----------
    encoder : MLP
    metric : {"cosine", "euclidean"}
        Distance of the triplet loss on explicit triples.
    temperature : float
        Temperature of the in-batch softmax over pairs.
    margin : float or None
        Margin of the triplet loss on triples; None for the soft margin.
    alpha : float
        L2 penalty, as in scikit-learn's MLP.
    label_objective : TripletObjective or None
        Trained on the label part of each batch, when there are labels.
    popularity_correction : bool, default=False
        Subtract the log of each candidate row's number of pairs from its
        logits (see ``log_prior`` of the loss).
    """

    def __init__(
        self, encoder, *, metric, temperature, margin, alpha, label_objective=None,
        popularity_correction=False,
    ):
        self.popularity_correction = popularity_correction
        self.encoder = encoder
        self.metric = metric
        self.temperature = temperature
        self.margin = margin
        self.alpha = alpha
        self.label_objective = label_objective

    @property
    def params(self):
        # The label objective's parameters: the encoder's, and its class
        # proxies with loss="proxy".
        if self.label_objective is not None:
            return self.label_objective.params
        return self.encoder.params

    @property
    def _proxies(self):
        return None if self.label_objective is None else self.label_objective.proxies

    def prepare_batch(self, X, labels, rng, pair_batch):
        n_pair_rows = len(pair_batch.rows)
        blocks = [X[:n_pair_rows]]
        label_batch = None
        if self.label_objective is not None and X.shape[0] > n_pair_rows:
            label_batch = self.label_objective.prepare_batch(
                X[n_pair_rows:], labels[n_pair_rows:], rng
            )
            blocks.append(label_batch.rows)
        rows = _stack_rows(blocks)
        touched = self.encoder.touched_slices(rows)
        if self._proxies is not None:
            touched.append(None)  # every proxy is in each labeled row's softmax
        return PairTrainingBatch(rows, pair_batch, n_pair_rows, label_batch, X.shape[0], touched)

    def _pair_term(self, Z, pairs):
        if pairs.negatives is None:
            E, norms = l2_normalize(Z)
            loss, grad = multiple_negatives_ranking_loss(
                E,
                pairs.anchors,
                pairs.positives,
                temperature=self.temperature,
                weights=pairs.weights,
                partners=pairs.partners,
                log_prior=np.log(pairs.degrees) if self.popularity_correction else None,
            )
            return loss, l2_normalize_backward(E, norms, grad)
        E, norms = to_embedding(Z, self.metric)
        triples = (pairs.anchors, pairs.positives, pairs.negatives)
        loss, grad = triplet_margin_loss(E, triples, self.metric, self.margin)
        return loss, embedding_backward(E, norms, grad)

    def loss_and_gradient(self, batch):
        outputs = self.encoder.forward(batch.rows)
        Z = outputs[-1]
        output_grad = np.empty_like(Z)
        n = batch.n_pair_rows
        loss, output_grad[:n] = self._pair_term(Z[:n], batch.pairs)
        proxy_grad = None if self._proxies is None else np.zeros_like(self._proxies)
        if batch.labels is not None:
            term, output_grad[n:], label_proxy_grad = self.label_objective.output_terms(
                Z[n:], batch.labels
            )
            loss += term
            if label_proxy_grad is not None:
                proxy_grad = label_proxy_grad
        penalty, grads = encoder_gradients(
            self.encoder, outputs, output_grad, batch, self.alpha, proxy_grad
        )
        return loss + penalty, grads

    def validation_score(self, X, y):
        raise NotImplementedError(
            "early stopping is not available with pairs: a row split would cut them"
        )


@dataclass
class PairFitInput:
    """The supervision given to ``fit(X, y, pairs=, pair_weight=)``, not yet validated."""

    labels: object
    pairs: object
    pair_weight: object


def check_pair_supervision(pairs, pair_weight, n_samples, labels_train=False):
    """Validated ``(pairs, weights or None)`` of a pair fit on ``n_samples`` rows.

    ``pairs`` is an array of row pairs or triples, or a
    :class:`~sk_prodembed.pairs.RowPairs` (whose weights are used unless
    ``pair_weight`` is given too, which is an error). Raises a ValueError
    naming the parameter for every input that would not train; pairs that
    cannot train beside labels that do (``labels_train``) get a warning.
    """
    pairs, weights = pairs_of(pairs, n_samples)
    if pair_weight is not None:
        if weights is not None:
            raise ValueError(
                "pair_weight was given for a RowPairs that carries weights already; "
                "give the weights in one place."
            )
        weights = np.asarray(pair_weight, dtype=np.float64)
        if weights.shape != (len(pairs),):
            raise ValueError(
                f"pair_weight must have shape ({len(pairs)},), one weight per pair; "
                f"got shape {weights.shape}."
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("pair_weight must be finite and non-negative.")
    if len(pairs) == 0:
        raise ValueError("pairs is empty: there is no pair to learn from.")
    if weights is not None:
        if pairs.shape[1] == 3:
            raise ValueError(
                "pair_weight applies to pairs of shape (n_pairs, 2); (anchor, positive, "
                "negative) triples are trained unweighted."
            )
        if not np.any(weights > 0):
            raise ValueError("pair_weight is zero for every pair: no pair to learn from.")
    n_rows = _complete_graph_size(pairs, n_samples) if pairs.shape[1] == 2 else 0
    if n_rows:
        message = (
            f"pairs connect each of their {n_rows} rows with every other: the pair loss "
            "takes its negatives among a batch's other rows, known partners excepted, so "
            "no row has a negative and the pairs teach nothing (the weights would only "
            "shrink)."
        )
        if not labels_train:
            raise ValueError(
                message + " Give pairs among more products, labels as y, or explicit "
                "(anchor, positive, negative) triples of shape (n, 3)."
            )
        warnings.warn(message + " Only the labels train this fit.", UserWarning)
    return pairs, weights


def _complete_graph_size(pairs, n_samples):
    """The number of rows the pairs hold if they join each of them with every
    other (a single pair included), else 0: every paired row then has all
    the others as its distinct partners."""
    degrees = PairGraph(pairs, n_samples).degrees()
    paired = degrees[degrees > 0]
    return len(paired) if np.all(paired == len(paired) - 1) else 0
