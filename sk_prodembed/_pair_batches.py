"""Minibatches of pairs, and which rows of a batch are known partners of each other.

An epoch shuffles the pairs (or triples) and cuts them into batches of
``batch_size`` pairs. A batch is trained on its distinct rows: a row drawn by
several pairs is embedded once, and the pairs become positions into those
rows. Every training pair whose two rows are both in the batch is reported
as ``partners``, whether or not it was drawn into this batch, so that the
loss never uses a known partner as a negative (see ``_pair_losses.py``).

Cost
----
:class:`PairGraph` stores the pairs once per fit as a CSR adjacency over the
rows: O(n_rows + n_pairs) memory, built in O(n_pairs) (scipy's COO to CSR
conversion is a counting sort). Looking up the partners within a batch reads
the adjacency lists of its rows only, O(sum of their degrees), and never
touches all rows; an epoch costs O(n_pairs) plus that. A million pairs take
a few megabytes.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


class PairGraph:
    """Undirected adjacency of the rows, from pairs of row indices.

    Parameters
    ----------
    pairs : int ndarray of shape (n_pairs, 2)
        Row indices in ``[0, n_rows)``; duplicate and reversed pairs are the
        same edge.
    n_rows : int
    """

    def __init__(self, pairs, n_rows):
        first = np.asarray(pairs[:, 0], dtype=np.intp)
        second = np.asarray(pairs[:, 1], dtype=np.intp)
        ends = np.concatenate([first, second])
        others = np.concatenate([second, first])
        adjacency = sp.csr_matrix(
            (np.ones(len(ends), dtype=np.int8), (ends, others)), shape=(n_rows, n_rows)
        )
        adjacency.sum_duplicates()
        self.indptr = adjacency.indptr.astype(np.intp, copy=False)
        self.neighbours = adjacency.indices.astype(np.intp, copy=False)
        self.n_rows = n_rows

    def degrees(self):
        """Number of distinct partners of each row."""
        return np.diff(self.indptr)

    def partners_within(self, rows):
        """Known pairs among ``rows``, as positions into ``rows``.

        Parameters
        ----------
        rows : sorted int ndarray of distinct row indices

        Returns
        -------
        first, second : int ndarrays
            ``rows[first[t]]`` and ``rows[second[t]]`` are partners; each
            pair once, with ``first < second``.
        """
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        total = int(counts.sum())
        owners = np.repeat(np.arange(len(rows)), counts)
        # Flat positions of every neighbour of every row, without a loop.
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        neighbours = self.neighbours[np.repeat(starts, counts) + offsets]
        positions = np.searchsorted(rows, neighbours)
        positions[positions == len(rows)] = 0
        inside = rows[positions] == neighbours if len(rows) else np.zeros(0, dtype=bool)
        first, second = owners[inside], positions[inside]
        # Both directions are stored; keep each pair once.
        keep = first < second
        return first[keep], second[keep]


@dataclass
class PairBatch:
    """The distinct rows of a batch and its pairs as positions into them.

    ``negatives`` is None for pairs, and the explicit negatives for triples.
    ``partners`` are all the known pairs among ``rows`` (positions, see
    :meth:`PairGraph.partners_within`); ``degrees`` the number of distinct
    partners of each row over all the pairs.
    """

    rows: np.ndarray
    anchors: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray
    weights: np.ndarray
    partners: tuple
    degrees: np.ndarray


def make_pair_batch(pairs, chosen, graph, weights=None):
    """The :class:`PairBatch` of the pairs (or triples) ``pairs[chosen]``."""
    drawn = pairs[chosen]
    rows, positions = np.unique(drawn, return_inverse=True)
    positions = positions.reshape(drawn.shape)
    negatives = positions[:, 2] if drawn.shape[1] == 3 else None
    return PairBatch(
        rows=rows,
        anchors=positions[:, 0],
        positives=positions[:, 1],
        negatives=negatives,
        weights=None if weights is None else weights[chosen],
        partners=graph.partners_within(rows),
        degrees=graph.indptr[rows + 1] - graph.indptr[rows],
    )


def pair_batches(pairs, n_rows, batch_size, weights=None, label_batches=None):
    """Return a ``batches(rng)`` callable yielding the batches of one epoch.

    Each batch is a tuple ``(indices, pair_batch)``, as the engine accepts
    them: ``indices`` are the rows the batch reads, ``pair_batch`` the
    :class:`PairBatch` of its pairs, whose positions point into the first
    ``len(pair_batch.rows)`` of them.

    Parameters
    ----------
    pairs : int ndarray of shape (n_pairs, 2) or (n_pairs, 3)
        Row pairs, or (anchor, positive, negative) triples whose first two
        columns are the known pairs.
    n_rows : int
        Number of rows the indices point into.
    batch_size : int
        Pairs per batch; the last batch of an epoch may hold fewer.
    weights : ndarray of shape (n_pairs,) or None
    label_batches : callable or None
        The ``batches(rng)`` of the label objective (row indices, such as
        :func:`~sk_prodembed._sampling.class_balanced_batches`), when labels
        train alongside the pairs. Each step then reads one batch of pairs
        and one batch of labeled rows, appended after the pair rows; an epoch
        is as many steps as the longer of the two takes to cover its data
        once, the shorter one starting over (reshuffled) when it runs out.

    Returns
    -------
    batches : callable
        ``batches(rng)`` shuffles the pairs with ``rng``.
    """
    pairs = np.asarray(pairs, dtype=np.intp)
    graph = PairGraph(pairs[:, :2], n_rows)
    n_pairs = pairs.shape[0]
    n_pair_batches = -(-n_pairs // batch_size)

    def pair_epoch(rng):
        order = rng.permutation(n_pairs)
        for start in range(0, n_pairs, batch_size):
            yield make_pair_batch(pairs, order[start : start + batch_size], graph, weights)

    def batches(rng):
        if label_batches is None:
            for pair_batch in pair_epoch(rng):
                yield pair_batch.rows, pair_batch
            return
        label_epoch = list(label_batches(rng))
        n_steps = max(n_pair_batches, len(label_epoch))
        pair_iterator = pair_epoch(rng)
        for step in range(n_steps):
            pair_batch = next(pair_iterator, None)
            if pair_batch is None:
                pair_iterator = pair_epoch(rng)
                pair_batch = next(pair_iterator)
            if step and step % len(label_epoch) == 0:
                label_epoch = list(label_batches(rng))
            label_rows = label_epoch[step % len(label_epoch)]
            yield np.concatenate([pair_batch.rows, label_rows]), pair_batch

    return batches
