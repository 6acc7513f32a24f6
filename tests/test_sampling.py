import numpy as np
import pytest

from sk_prodembed._sampling import class_balanced_batches


def _labels():
    # Class 0: 40 rows, class 1: 3 rows (fewer than K), class 2: 1 row,
    # classes 3-6: 10 rows each, and 20 unlabeled rows.
    return np.concatenate(
        [np.zeros(40), np.ones(3), [2], np.repeat([3, 4, 5, 6], 10), -np.ones(20)]
    ).astype(int)


def _epoch(labels, P, K, max_unlabeled, seed=0):
    batches = class_balanced_batches(labels, P, K, max_unlabeled)
    return list(batches(np.random.RandomState(seed)))


def test_batches_draw_P_classes_of_K_rows():
    labels = _labels()
    P, K = 4, 5
    for batch in _epoch(labels, P, K, max_unlabeled=64):
        batch_labels = labels[batch]
        classes, counts = np.unique(batch_labels[batch_labels != -1], return_counts=True)
        assert len(classes) == P
        for c, count in zip(classes, counts):
            # The singleton class appears once; every other class K times.
            assert count == (1 if c == 2 else K)
            rows = batch[batch_labels == c]
            if c in (0, 3, 4, 5, 6):  # at least K rows: no repeats
                assert len(np.unique(rows)) == K


def test_small_classes_are_drawn_with_replacement():
    labels = _labels()
    batches = _epoch(labels, 7, 5, max_unlabeled=64, seed=1)
    rows_of_class_1 = np.concatenate([b[labels[b] == 1] for b in batches])
    assert len(rows_of_class_1) == 5 * len(batches)  # drawn in every batch, K times
    assert set(rows_of_class_1) == {40, 41, 42}


def test_singleton_class_is_used():
    labels = _labels()
    batches = _epoch(labels, 7, 4, max_unlabeled=64)
    assert all(np.count_nonzero(labels[b] == 2) == 1 for b in batches)


def test_unlabeled_rows_join_in_proportion_and_an_epoch_draws_about_n_rows():
    labels = _labels()
    n_labeled, n_unlabeled = np.count_nonzero(labels != -1), np.count_nonzero(labels == -1)
    batches = _epoch(labels, 4, 4, max_unlabeled=64)
    expected_unlabeled = int(np.ceil(16 * n_unlabeled / n_labeled))
    for batch in batches:
        assert np.count_nonzero(labels[batch] == -1) == expected_unlabeled
    n_drawn = sum(len(b) for b in batches)
    assert len(labels) <= n_drawn < len(labels) + 16 + expected_unlabeled


def test_unlabeled_rows_are_capped_and_cycle_without_repeats():
    labels = _labels()
    batches = _epoch(labels, 4, 4, max_unlabeled=3)
    unlabeled = [b[labels[b] == -1] for b in batches]
    assert all(len(u) == 3 for u in unlabeled)
    # Within each pass over the 20 unlabeled rows, no row is drawn twice.
    first_pass = np.concatenate(unlabeled[:6])
    assert len(np.unique(first_pass)) == 18


def test_all_unlabeled_gives_plain_batches_covering_every_row():
    labels = -np.ones(40, dtype=int)
    batches = _epoch(labels, 8, 4, max_unlabeled=10)
    assert [len(b) for b in batches] == [10] * 4
    assert sorted(np.concatenate(batches)) == list(range(40))


def test_only_labeled_rows_and_fewer_classes_than_P():
    labels = np.repeat([0, 1, 2], 10)
    batches = _epoch(labels, 8, 4, max_unlabeled=10)
    assert len(batches) == 3  # 30 rows, 12 per batch
    assert all(len(b) == 12 for b in batches)


def test_batches_are_repeatable_and_vary_between_epochs():
    labels = _labels()
    batches = class_balanced_batches(labels, 4, 4, 16)
    first = list(batches(np.random.RandomState(0)))
    again = list(batches(np.random.RandomState(0)))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    rng = np.random.RandomState(0)
    epoch_1, epoch_2 = list(batches(rng)), list(batches(rng))
    assert not all(np.array_equal(a, b) for a, b in zip(epoch_1, epoch_2))


@pytest.mark.parametrize("labels", [np.array([0, 1]), np.array([5, -1, -1])])
def test_tiny_inputs_give_at_least_one_batch(labels):
    batches = _epoch(labels, 2, 2, max_unlabeled=2)
    assert len(batches) >= 1
    assert all(np.all((0 <= b) & (b < len(labels))) for b in batches)


def test_rows_of_a_class_are_drawn_uniformly():
    # Every K-subset of a class's rows is equally likely (Floyd's algorithm),
    # and each row is drawn with probability K / n.
    from collections import Counter
    from itertools import combinations

    labels = np.concatenate([np.zeros(5), np.ones(6), np.full(2, 2)]).astype(int)
    batches = class_balanced_batches(labels, 3, 3, 0)
    rng = np.random.RandomState(0)
    subsets, small = Counter(), Counter()
    n_draws = 0
    while n_draws < 6000:
        for batch in batches(rng):
            subsets[tuple(sorted(batch[labels[batch] == 0]))] += 1
            small.update(batch[labels[batch] == 2].tolist())
            n_draws += 1
    assert set(subsets) == set(combinations(range(5), 3))
    expected = n_draws / 10
    # 10 subsets: a chi-square statistic with 9 degrees of freedom; 27.9 is
    # its 0.999 quantile.
    chi_square = sum((count - expected) ** 2 / expected for count in subsets.values())
    assert chi_square < 27.9
    # The class of 2 rows, 3 draws with replacement: both rows, evenly.
    assert set(small) == {11, 12}
    assert abs(small[11] / (small[11] + small[12]) - 0.5) < 0.02


def test_uniform_class_sampling_is_the_default_of_the_sampler_and_unchanged_by_sqrt():
    # "uniform" is the P x K sampler as it was: same batches for a seed as
    # without the argument (the random stream of earlier versions).
    labels = _labels()
    explicit = class_balanced_batches(labels, 4, 5, 64, class_sampling="uniform")
    for a, b in zip(_epoch(labels, 4, 5, 64), explicit(np.random.RandomState(0))):
        np.testing.assert_array_equal(a, b)


def test_sqrt_allocation_splits_rows_by_square_roots_with_two_at_least():
    from sk_prodembed._sampling import sqrt_allocation

    sizes = np.array([400, 100, 25, 1, 4])
    rows = sqrt_allocation(sizes, 64)
    # sqrt: 20, 10, 5, 1, 2 of 38 -> 33.7, 16.8, 8.4, 1 (a singleton), 3.4
    np.testing.assert_array_equal(rows, [34, 17, 8, 1, 3])
    # 7.6 and 0.4 of 8: the small class still gets 2, the batch 10 rows.
    np.testing.assert_array_equal(sqrt_allocation(np.array([1000, 3]), 8), [8, 2])


def test_sqrt_class_sampling_draws_large_classes_more_by_square_roots():
    # Classes of 400, 100 and 25 rows: "sqrt" gives them rows of a batch in
    # the ratio 4 : 2 : 1, "uniform" in 1 : 1 : 1.
    labels = np.repeat([0, 1, 2], [400, 100, 25])
    for sampling, expected in (("sqrt", [4 / 7, 2 / 7, 1 / 7]), ("uniform", [1 / 3] * 3)):
        batches = class_balanced_batches(labels, 3, 7, 0, class_sampling=sampling)
        rng = np.random.RandomState(0)
        drawn = np.concatenate([b for _ in range(20) for b in batches(rng)])
        shares = np.bincount(labels[drawn]) / drawn.shape[0]
        np.testing.assert_allclose(shares, expected, atol=0.01)


def test_sqrt_class_sampling_keeps_distinct_rows_and_a_positive_per_class():
    labels = _labels()
    batches = class_balanced_batches(labels, 4, 4, 64, class_sampling="sqrt")
    rng = np.random.RandomState(0)
    for _ in range(5):
        for batch in batches(rng):
            assert np.all((0 <= batch) & (batch < len(labels)))
            batch_labels = labels[batch]
            classes, counts = np.unique(batch_labels[batch_labels != -1], return_counts=True)
            assert len(classes) == 4
            for c, count in zip(classes, counts):
                rows = batch[batch_labels == c]
                assert count == 1 if c == 2 else count >= 2
                if np.count_nonzero(labels == c) >= count:  # enough rows: no repeats
                    assert len(np.unique(rows)) == count


def test_sqrt_class_sampling_draws_classes_by_square_roots_when_there_are_more_than_P():
    # 10 classes, P = 2: a class of 900 rows is drawn far more often than
    # one of 9 (sqrt 30 against 3), every one of them drawn at some point.
    sizes = np.array([900] + [9] * 9)
    labels = np.repeat(np.arange(10), sizes)
    batches = class_balanced_batches(labels, 2, 4, 0, class_sampling="sqrt")
    rng = np.random.RandomState(0)
    present = np.zeros(10)
    n_batches = 0
    for _ in range(3):
        for batch in batches(rng):
            present[np.unique(labels[batch])] += 1
            n_batches += 1
    assert np.all(present > 0)
    assert present[0] > 0.6 * n_batches > present[1:].max()


def test_ragged_positions_are_uniform_distinct_subsets():
    # Class sizes 5, 3, 2 with 3, 3, 4 positions: every 3-subset of the first
    # class equally likely (redrawing repeats treats rows symmetrically), the
    # second class all three rows, the third (fewer rows than positions)
    # drawn with replacement, both rows evenly.
    from collections import Counter
    from itertools import combinations

    from sk_prodembed._sampling import _ragged_positions_in_classes

    sizes, k = np.array([5, 3, 2]), np.array([3, 3, 4])
    rng = np.random.RandomState(0)
    subsets, small = Counter(), Counter()
    n_draws = 6000
    for _ in range(n_draws):
        positions = _ragged_positions_in_classes(sizes, k, rng)
        first, second, third = np.split(positions, np.cumsum(k)[:-1])
        assert len(set(first)) == 3 and sorted(second) == [0, 1, 2]
        subsets[tuple(sorted(first))] += 1
        small.update(third.tolist())
    assert set(subsets) == set(combinations(range(5), 3))
    expected = n_draws / 10
    chi_square = sum((count - expected) ** 2 / expected for count in subsets.values())
    assert chi_square < 27.9  # the 0.999 quantile of chi-square with 9 degrees of freedom
    assert set(small) == {0, 1}
    assert abs(small[0] / (small[0] + small[1]) - 0.5) < 0.02
