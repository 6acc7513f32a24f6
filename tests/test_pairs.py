import itertools
import math

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _check_method_params

from sk_prodembed._pair_metrics import make_pair_scorer
from sk_prodembed.pairs import (
    PairSplit,
    RowPairs,
    check_row_pairs,
    pairs_from_baskets,
    train_test_split_pairs,
)

# -- pairs_from_baskets ----------------------------------------------------


def test_ids_keep_their_types_in_every_input_form():
    # np.asarray would make [1, "a"] the strings ["1", "a"], and tuples a 2-D array.
    baskets = [[1, "a"]] * 3
    assert pairs_from_baskets(baskets, min_count=2).pairs.tolist() == [[1, "a"]]
    assert pairs_from_baskets(baskets, min_count=2, item_index=[1, "a"]).pairs.tolist() == [[0, 1]]
    # "1" and 1 are different ids; "a" is not listed, so the pair is dropped.
    assert pairs_from_baskets(baskets, min_count=2, item_index=["1", 1]).pairs.shape == (0, 2)
    tuples = [[(1, 2), (3, 4)]] * 3
    found = pairs_from_baskets(tuples, min_count=2, item_index=[(3, 4), (1, 2)])
    assert found.pairs.tolist() == [[1, 0]]
    lines = pairs_from_baskets([0, 0, 1, 1, 2, 2], [1, "a"] * 3, min_count=2)
    assert lines.pairs.tolist() == [[1, "a"]]


@pytest.mark.parametrize("orders", [["ab", "ab", "ab"], [[1, 2], "eggs"], [1, 2, 3]])
def test_baskets_that_are_not_sequences_of_ids_are_refused(orders):
    # A string basket would be split into its characters.
    with pytest.raises(ValueError, match="basket [01] is"):
        pairs_from_baskets(orders, min_count=1)


def test_missing_order_ids_are_refused():
    # np.unique would put every line without an order id into one order.
    with pytest.raises(ValueError, match="4 missing order id"):
        pairs_from_baskets([1, 1, None, None, np.nan, np.nan], list("abacbc"), min_count=1)


def _random_baskets(n_orders=300, n_items=40, seed=0):
    rng = np.random.RandomState(seed)
    # Skewed like a grocery catalog: a few staples, many rare items.
    popularity = 1.0 / (1 + rng.permutation(n_items)) ** 0.8
    popularity /= popularity.sum()
    baskets = []
    for _ in range(n_orders):
        size = rng.randint(1, 8)
        basket = list(rng.choice(n_items, size, p=popularity))  # repeats possible
        # Items 0 and 1 are bought together often: a strong pair.
        if rng.rand() < 0.2:
            basket += [0, 1]
        baskets.append(basket)
    return baskets


def _pairs_by_definition(baskets, min_count, min_npmi):
    baskets = [set(b) for b in baskets]
    n = len(baskets)
    item_count, pair_count = {}, {}
    for basket in baskets:
        for item in basket:
            item_count[item] = item_count.get(item, 0) + 1
        for a, b in itertools.combinations(sorted(basket), 2):
            pair_count[a, b] = pair_count.get((a, b), 0) + 1
    expected = {}
    for (a, b), count in pair_count.items():
        if count < min_count:
            continue
        p_ab, p_a, p_b = count / n, item_count[a] / n, item_count[b] / n
        npmi = 1.0 if p_ab == 1 else math.log(p_ab / (p_a * p_b)) / -math.log(p_ab)
        if npmi >= min_npmi:
            expected[a, b] = (count, npmi)
    return expected


@pytest.mark.parametrize("min_count, min_npmi", [(1, -1.0), (3, 0.0), (2, 0.25)])
def test_pairs_from_baskets_match_their_definition(min_count, min_npmi):
    baskets = _random_baskets()
    result = pairs_from_baskets(baskets, min_count=min_count, min_npmi=min_npmi)
    found = {
        (a, b): (c, v) for (a, b), c, v in zip(result.pairs.tolist(), result.counts, result.npmi)
    }
    expected = _pairs_by_definition(baskets, min_count, min_npmi)
    assert len(expected) > 5
    assert found.keys() == expected.keys()
    for pair, (count, npmi) in expected.items():
        assert found[pair][0] == count
        assert found[pair][1] == pytest.approx(npmi, abs=1e-12)
    assert result.n_orders == len(baskets)
    assert (0, 1) in found


def test_order_lines_and_baskets_give_the_same_pairs():
    baskets = _random_baskets(seed=1)
    order_ids = np.concatenate([[f"o{i}"] * len(b) for i, b in enumerate(baskets)])
    item_ids = np.concatenate(baskets)
    shuffle = np.random.RandomState(0).permutation(len(item_ids))
    lines = pairs_from_baskets(order_ids[shuffle], item_ids[shuffle], min_count=2)
    nested = pairs_from_baskets(baskets, min_count=2)
    np.testing.assert_array_equal(lines.pairs, nested.pairs.astype(lines.pairs.dtype))
    np.testing.assert_array_equal(lines.counts, nested.counts)
    np.testing.assert_allclose(lines.npmi, nested.npmi)


def test_max_basket_size_leaves_large_orders_out():
    baskets = _random_baskets(seed=2) + [list(range(40))] * 3
    capped = pairs_from_baskets(baskets, min_count=2, min_npmi=-1, max_basket_size=10)
    expected = _pairs_by_definition([b for b in baskets if len(set(b)) <= 10], 2, -1)
    assert {tuple(p) for p in capped.pairs.tolist()} == expected.keys()
    assert capped.n_orders == len(baskets) - 3


def test_item_index_maps_to_rows_and_drops_unknown_items():
    baskets = [["a", "b"], ["a", "b"], ["b", "c"], ["b", "c"], ["c", "d"], ["c", "d"]]
    by_id = pairs_from_baskets(baskets, min_count=2, min_npmi=-1)
    assert by_id.pairs.tolist() == [["a", "b"], ["b", "c"], ["c", "d"]]
    rows = pairs_from_baskets(baskets, min_count=2, min_npmi=-1, item_index=["d", "c", "b"])
    assert rows.pairs.tolist() == [[2, 1], [1, 0]]
    np.testing.assert_array_equal(rows.counts, [2, 2])
    with pytest.raises(ValueError, match="item_index lists item 'b' twice"):
        pairs_from_baskets(baskets, min_count=2, item_index=["b", "c", "b"])


def test_mixed_type_ids_and_items_always_together():
    baskets = [[1, "x"], [1, "x"], ["x", 1, 2]]
    result = pairs_from_baskets(baskets, min_count=2, min_npmi=-1)
    assert [set(p) for p in result.pairs.tolist()] == [{1, "x"}]
    assert result.npmi.tolist() == [1.0]  # in every order: the 0 / 0 limit


def test_pairs_from_baskets_errors():
    with pytest.raises(ValueError, match="equal length"):
        pairs_from_baskets([1, 1, 2], [5, 6])
    with pytest.raises(ValueError, match="min_count"):
        pairs_from_baskets([[1, 2]], min_count=0)
    with pytest.raises(ValueError, match="min_npmi"):
        pairs_from_baskets([[1, 2]], min_npmi=2.0)


# -- checking and slicing row pairs ----------------------------------------


@pytest.mark.parametrize(
    "pairs, message",
    [
        (np.zeros((3,), dtype=int), "shape"),
        (np.zeros((3, 4), dtype=int), "shape"),
        (np.array([[0.5, 1.0]]), "integer"),
        (np.array([["a", "b"]]), "integer"),
        (np.array([[0, 5]]), r"pairs\[0, 1\] = 5 is not a row index"),
        (np.array([[1, 2], [-1, 2]]), r"pairs\[1, 0\] = -1"),
        (np.array([[1, 2], [3, 3]]), r"pairs\[1\] = \[3, 3\] pairs a row with itself"),
        (np.array([[1, 2, 1]]), "pairs a row with itself"),
    ],
)
def test_check_row_pairs_errors(pairs, message):
    with pytest.raises(ValueError, match=message):
        check_row_pairs(pairs, 5)


def test_check_row_pairs_accepts_integral_floats():
    np.testing.assert_array_equal(check_row_pairs(np.array([[0.0, 2.0]]), 3), [[0, 2]])


def _random_row_pairs(n_rows=30, n_pairs=60, width=2, seed=0):
    rng = np.random.RandomState(seed)
    pairs = np.array([rng.choice(n_rows, width, replace=False) for _ in range(n_pairs)])
    return pairs, rng.rand(n_pairs)


@pytest.mark.parametrize("width", [2, 3])
def test_row_pairs_slice_matches_brute_force(width):
    pairs, weights = _random_row_pairs(width=width)
    row_pairs = RowPairs(pairs, 30, weights=weights)
    selected = np.random.RandomState(1).choice(30, 20, replace=False)
    fold = row_pairs[selected]
    assert len(fold) == 20
    np.testing.assert_array_equal(fold.row_ids, selected)
    position = {row: i for i, row in enumerate(selected)}
    expected = [
        ([position[r] for r in pair], w)
        for pair, w in zip(pairs.tolist(), weights)
        if all(r in position for r in pair)
    ]
    assert fold.pairs.tolist() == [p for p, _ in expected]
    np.testing.assert_allclose(fold.weights, [w for _, w in expected])
    assert fold.n_pairs_left_out == len(pairs) - len(expected) > 0
    # Slicing twice composes: the rows of the rows.
    again = fold[np.array([0, 2, 4, 6, 8, 10])]
    np.testing.assert_array_equal(again.row_ids, selected[[0, 2, 4, 6, 8, 10]])
    kept = np.isin(fold.pairs, [0, 2, 4, 6, 8, 10]).all(axis=1)
    np.testing.assert_array_equal(again.row_ids[again.pairs], fold.row_ids[fold.pairs][kept])


def test_row_pairs_are_sliced_as_a_per_row_fit_parameter():
    """What GridSearchCV and cross_validate do to fit parameters."""
    pairs, _ = _random_row_pairs()
    row_pairs = RowPairs(pairs, 30)
    X = np.zeros((30, 2))
    train = np.arange(0, 30, 2)
    sliced = _check_method_params(X, {"pairs": row_pairs}, indices=train)["pairs"]
    assert isinstance(sliced, RowPairs)
    np.testing.assert_array_equal(sliced.row_ids, train)
    boolean = _safe_indexing(row_pairs, np.arange(30) % 2 == 0)
    np.testing.assert_array_equal(boolean.pairs, sliced.pairs)
    # A plain array of 30 pairs would have been sliced as if it were per row:
    # the trap RowPairs avoids.
    plain = _check_method_params(X, {"pairs": pairs[:30]}, indices=train)["pairs"]
    assert plain.shape == (15, 2)


def test_row_pairs_reject_repeated_rows_and_bad_input():
    row_pairs = RowPairs([[0, 1]], 3)
    with pytest.raises(ValueError, match="repeated rows"):
        row_pairs[np.array([0, 0, 1])]
    with pytest.raises(ValueError, match="n_samples"):
        RowPairs([[0, 1]], 0)
    with pytest.raises(ValueError, match="is not a row index"):
        RowPairs([[0, 3]], 3)
    with pytest.raises(ValueError, match="weights must have shape"):
        RowPairs([[0, 1]], 3, weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        RowPairs([[0, 1]], 3, weights=[-1.0])


# -- held-out items ----------------------------------------------------------


def test_train_test_split_pairs_is_the_protocol_split():
    pairs, _ = _random_row_pairs(n_rows=200, n_pairs=150)
    train, test, test_rows = train_test_split_pairs(pairs, test_size=0.3, random_state=0)
    paired = np.unique(pairs)
    expected_rows = np.random.RandomState(0).choice(paired, round(0.3 * len(paired)), replace=False)
    np.testing.assert_array_equal(test_rows, np.sort(expected_rows))
    touches = np.isin(pairs, expected_rows).any(axis=1)
    np.testing.assert_array_equal(train, pairs[~touches])
    np.testing.assert_array_equal(test, pairs[touches])
    # PairSplit's first split with the same seed holds out the same rows.
    split = PairSplit(pairs, n_splits=1, test_size=0.3, random_state=0)
    _, test_fold = next(split.split(np.zeros((200, 1))))
    np.testing.assert_array_equal(test_fold, test_rows)


@pytest.mark.parametrize("test_size", [None, 0.25])
def test_pair_split_holds_out_paired_rows_only(test_size):
    pairs, _ = _random_row_pairs(n_rows=60, n_pairs=40)
    X = np.zeros((60, 1))
    paired = np.unique(pairs)
    split = PairSplit(pairs, n_splits=4, test_size=test_size, random_state=0)
    folds = list(split.split(X))
    assert len(folds) == split.get_n_splits() == 4
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        np.testing.assert_array_equal(np.union1d(train, test), np.arange(60))
        assert np.isin(test, paired).all()
        # The training fold's pairs never touch a held-out row.
        fold_pairs = RowPairs(pairs, 60)[train]
        assert not np.isin(fold_pairs.row_ids[fold_pairs.pairs], test).any()
        assert fold_pairs.n_pairs_left_out == np.isin(pairs, test).any(axis=1).sum()
    if test_size is None:
        np.testing.assert_array_equal(np.sort(np.concatenate([t for _, t in folds])), paired)


def test_pair_split_errors():
    pairs = np.array([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="is not a row index"):
        next(PairSplit(pairs, n_splits=2).split(np.zeros((3, 1))))
    with pytest.raises(ValueError, match="more than the 4 rows"):
        next(PairSplit(pairs, n_splits=5).split(np.zeros((4, 1))))
    with pytest.raises(ValueError, match="test_size"):
        next(PairSplit(pairs, n_splits=2, test_size=0.01).split(np.zeros((4, 1))))
    with pytest.raises(ValueError, match="RowPairs of 4 rows"):
        next(PairSplit(RowPairs(pairs, 4), n_splits=2).split(np.zeros((5, 1))))


# -- model selection end to end ----------------------------------------------


class _PairRecorder(TransformerMixin, BaseEstimator):
    """Records the original rows of the pairs each fit receives; embeds each
    row by ``X @ weights``, where ``scale`` is the parameter tuned."""

    seen = []

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, X, y=None, pairs=None):
        assert isinstance(pairs, RowPairs) and len(pairs) == X.shape[0]
        _PairRecorder.seen.append(pairs.row_ids[pairs.pairs])
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        # The tuned parameter changes the ranking: scale 0 ignores feature 1.
        return np.column_stack([X[:, 0], self.scale * X[:, 1]])


def _clustered_rows(n_clusters=12, size=4, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.randn(n_clusters, 2) * 5
    X = np.repeat(centers, size, axis=0) + 0.01 * rng.randn(n_clusters * size, 2)
    groups = np.repeat(np.arange(n_clusters), size)
    pairs = np.array(
        [(i, j) for i in range(len(X)) for j in range(i + 1, len(X)) if groups[i] == groups[j]]
    )
    return X, pairs


def test_grid_search_with_routing_trains_and_scores_without_leaks():
    X, pairs = _clustered_rows()
    row_pairs = RowPairs(pairs, len(X))
    split = PairSplit(row_pairs, n_splits=3, random_state=0)
    _PairRecorder.seen = []
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(StandardScaler(), _PairRecorder().set_fit_request(pairs=True))
        search = GridSearchCV(
            pipe,
            {"_pairrecorder__scale": [0.0, 1.0]},
            cv=split,
            scoring=make_pair_scorer("recall", k=3),
        )
        search.fit(X, pairs=row_pairs)
    # 2 candidates x 3 folds, then the refit on everything.
    assert len(_PairRecorder.seen) == 7
    test_folds = [test for _, test in split.split(X)]
    for seen in _PairRecorder.seen[:-1]:
        leaked = [np.isin(seen, test).any() for test in test_folds]
        assert sum(leaked) == 2, "each fit sees pairs of the other folds, none of its own"
    assert len(_PairRecorder.seen[-1]) == len(pairs)
    # Both features separate the clusters; dropping one scores lower.
    assert search.best_params_ == {"_pairrecorder__scale": 1.0}
    assert search.best_score_ == pytest.approx(1.0)
    assert search.cv_results_["mean_test_score"][0] < 0.9


def test_cross_validate_slices_row_pairs_without_routing():
    X, pairs = _clustered_rows()
    row_pairs = RowPairs(pairs, len(X))
    split = PairSplit(row_pairs, n_splits=3, random_state=0)
    _PairRecorder.seen = []
    cross_validate(
        _PairRecorder(),
        X,
        row_pairs,  # y: the scorer reads the test fold's pairs from it
        cv=split,
        scoring=make_pair_scorer("hit_rate", k=1),
        params={"pairs": row_pairs},
    )
    for seen, (_, test) in zip(_PairRecorder.seen, split.split(X)):
        assert not np.isin(seen, test).any()
