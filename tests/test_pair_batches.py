import numpy as np
import pytest

from sk_prodembed._pair_batches import PairGraph, make_pair_batch, pair_batches


def _random_pairs(n_rows, n_pairs, seed=0):
    rng = np.random.RandomState(seed)
    # Skewed: some rows are partners of many others, as popular products are.
    popular = rng.zipf(1.5, size=n_pairs) % n_rows
    other = rng.randint(n_rows, size=n_pairs)
    pairs = np.column_stack([popular, other])
    return pairs[pairs[:, 0] != pairs[:, 1]]


def test_graph_degrees_count_distinct_partners():
    pairs = np.array([[0, 1], [1, 0], [0, 1], [1, 2], [3, 4]])
    graph = PairGraph(pairs, 6)
    np.testing.assert_array_equal(graph.degrees(), [1, 2, 1, 1, 1, 0])


@pytest.mark.parametrize("seed", range(3))
def test_partners_within_match_brute_force(seed):
    n_rows = 60
    pairs = _random_pairs(n_rows, 150, seed)
    graph = PairGraph(pairs, n_rows)
    rows = np.unique(np.random.RandomState(seed + 10).choice(n_rows, 25))
    first, second = graph.partners_within(rows)
    found = {(rows[a], rows[b]) for a, b in zip(first, second)}
    assert len(found) == len(first), "each pair reported once"
    in_batch = set(rows.tolist())
    expected = {
        (min(a, b), max(a, b)) for a, b in pairs if a in in_batch and b in in_batch
    }
    assert found == expected
    assert np.all(first < second)


def test_partners_within_empty_and_isolated_rows():
    graph = PairGraph(np.array([[0, 1]]), 5)
    first, second = graph.partners_within(np.array([2, 3, 4]))
    assert len(first) == len(second) == 0
    first, second = graph.partners_within(np.array([], dtype=np.intp))
    assert len(first) == 0


@pytest.mark.parametrize("width", [2, 3])
def test_batch_positions_point_at_the_drawn_rows(width):
    rng = np.random.RandomState(0)
    n_rows = 40
    pairs = _random_pairs(n_rows, 80)
    if width == 3:
        pairs = np.column_stack([pairs, rng.randint(n_rows, size=len(pairs))])
    weights = rng.rand(len(pairs))
    graph = PairGraph(pairs[:, :2], n_rows)
    chosen = rng.choice(len(pairs), 16, replace=False)
    batch = make_pair_batch(pairs, chosen, graph, weights)
    assert np.all(np.diff(batch.rows) > 0), "distinct rows, sorted"
    np.testing.assert_array_equal(batch.rows[batch.anchors], pairs[chosen, 0])
    np.testing.assert_array_equal(batch.rows[batch.positives], pairs[chosen, 1])
    if width == 3:
        np.testing.assert_array_equal(batch.rows[batch.negatives], pairs[chosen, 2])
    else:
        assert batch.negatives is None
    np.testing.assert_array_equal(batch.weights, weights[chosen])
    np.testing.assert_array_equal(batch.degrees, graph.degrees()[batch.rows])
    # Partners include training pairs that were not drawn into the batch.
    first, second = batch.partners
    expected = {
        (min(a, b), max(a, b))
        for a, b in pairs[:, :2]
        if a in set(batch.rows) and b in set(batch.rows)
    }
    found = {(batch.rows[a], batch.rows[b]) for a, b in zip(first, second)}
    assert found == expected


def test_epoch_covers_every_pair_once_in_shuffled_batches():
    pairs = _random_pairs(50, 103)
    batches = pair_batches(pairs, 50, batch_size=10)
    seen = []
    epoch = list(batches(np.random.RandomState(0)))
    assert [len(b.anchors) for _, b in epoch] == [10] * 10 + [len(pairs) - 100]
    for indices, batch in epoch:
        np.testing.assert_array_equal(indices, batch.rows)
        seen += list(zip(batch.rows[batch.anchors], batch.rows[batch.positives]))
    assert sorted(seen) == sorted(map(tuple, pairs))
    # Shuffled: another epoch draws another order.
    _, first_again = next(batches(np.random.RandomState(1)))
    assert not np.array_equal(first_again.rows, epoch[0][1].rows)


@pytest.mark.parametrize("n_label_batches", [3, 25])
def test_labels_join_each_step_and_the_longer_side_sets_the_epoch(n_label_batches):
    pairs = _random_pairs(50, 103)

    def label_batches(rng):
        for step in range(n_label_batches):
            yield np.array([100 + step, 200 + step])

    batches = pair_batches(pairs, 50, batch_size=10, label_batches=label_batches)
    epoch = list(batches(np.random.RandomState(0)))
    assert len(epoch) == max(11, n_label_batches)
    drawn_pairs = []
    for step, (indices, batch) in enumerate(epoch):
        n_pair_rows = len(batch.rows)
        np.testing.assert_array_equal(indices[:n_pair_rows], batch.rows)
        step_in_labels = step % n_label_batches
        np.testing.assert_array_equal(
            indices[n_pair_rows:], [100 + step_in_labels, 200 + step_in_labels]
        )
        drawn_pairs += list(zip(batch.rows[batch.anchors], batch.rows[batch.positives]))
    # Every pair at least once; with more label batches, the pairs start over.
    assert set(drawn_pairs) == set(map(tuple, pairs))
    assert len(drawn_pairs) >= len(pairs)


def test_a_million_pairs_fit_in_linear_memory():
    """The adjacency holds 2 entries per distinct pair, never n_rows squared."""
    n_rows = 200_000
    pairs = np.random.RandomState(0).randint(n_rows, size=(1_000_000, 2))
    graph = PairGraph(pairs, n_rows)
    assert graph.neighbours.shape[0] <= 2 * len(pairs)
    assert graph.indptr.shape[0] == n_rows + 1
    _, batch = next(pair_batches(pairs, n_rows, 512)(np.random.RandomState(0)))
    assert len(batch.anchors) == 512
