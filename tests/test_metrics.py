import math

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sk_prodembed._recommender import NearestNeighborRecommender
from sk_prodembed.datasets import make_product_catalog
from sk_prodembed.metrics import (
    average_precision_at_k,
    hit_rate_at_k,
    make_recommendation_scorer,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

# -- brute-force definitions: one query at a time, relevance as a list of 0/1


def _precision(relevance, n_relevant):
    return sum(relevance) / len(relevance)


def _recall(relevance, n_relevant):
    return sum(relevance) / n_relevant if n_relevant else 0.0


def _average_precision(relevance, n_relevant):
    total = 0.0
    for rank in range(1, len(relevance) + 1):
        if relevance[rank - 1]:
            total += sum(relevance[:rank]) / rank
    normaliser = min(len(relevance), n_relevant)
    return total / normaliser if normaliser else 0.0


def _ndcg(relevance, n_relevant):
    dcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(relevance, start=1))
    n_ideal = min(len(relevance), n_relevant)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, n_ideal + 1))
    return dcg / ideal if ideal else 0.0


def _hit_rate(relevance, n_relevant):
    return float(any(relevance))


_CASES = [
    (precision_at_k, _precision, False),
    (recall_at_k, _recall, True),
    (average_precision_at_k, _average_precision, True),
    (ndcg_at_k, _ndcg, True),
    (hit_rate_at_k, _hit_rate, False),
]


def _brute_force_mean(definition, relevance_rows, n_relevant):
    values = [definition(row, count) for row, count in zip(relevance_rows, n_relevant)]
    return sum(values) / len(values)


@pytest.mark.parametrize("metric, definition, uses_n_relevant", _CASES)
@pytest.mark.parametrize("k", [1, 3, 6])
def test_metrics_with_relevance_sets_match_brute_force(metric, definition, uses_n_relevant, k):
    rng = np.random.default_rng(k)
    n_queries, n_items = 30, 12
    # Some queries have no relevant item, some more than k.
    relevant_sets = [
        set(rng.choice(n_items, size=rng.integers(0, 8), replace=False).tolist())
        for _ in range(n_queries)
    ]
    recommended = np.array([rng.permutation(n_items)[:6] for _ in range(n_queries)])
    relevance_rows = [
        [int(item in truth) for item in row[:k]] for truth, row in zip(relevant_sets, recommended)
    ]
    expected = _brute_force_mean(definition, relevance_rows, [len(s) for s in relevant_sets])
    assert metric(relevant_sets, recommended, k=k) == pytest.approx(expected)


@pytest.mark.parametrize("metric, definition, uses_n_relevant", _CASES)
def test_metrics_with_labels_match_brute_force(metric, definition, uses_n_relevant):
    rng = np.random.default_rng(0)
    categories = np.array(["shoe", "lamp", "sofa", "mug"])
    query_labels = rng.choice(categories, size=25)
    recommended_labels = rng.choice(categories, size=(25, 5))
    n_relevant = rng.integers(5, 9, size=25)
    relevance_rows = [
        [int(label == query) for label in row]
        for query, row in zip(query_labels, recommended_labels)
    ]
    expected = _brute_force_mean(definition, relevance_rows, n_relevant)
    kwargs = {"n_relevant": n_relevant} if uses_n_relevant else {}
    assert metric(query_labels, recommended_labels, **kwargs) == pytest.approx(expected)
    assert metric(list(query_labels), recommended_labels.tolist(), **kwargs) == pytest.approx(
        expected
    )


@pytest.mark.parametrize("metric", [average_precision_at_k, ndcg_at_k])
def test_labels_without_counts_assume_k_relevant_items(metric):
    query_labels = ["a", "b", "a"]
    recommended = [["a", "b", "a"], ["a", "a", "a"], ["b", "a", "b"]]
    assert metric(query_labels, recommended) == pytest.approx(
        metric(query_labels, recommended, n_relevant=3)
    )
    assert metric(["a"], [["a", "a"]]) == 1.0


def test_known_values():
    # One query, relevant ids {3, 7}, list [3, 1, 7].
    truth, recommended = [{3, 7}], [[3, 1, 7]]
    assert precision_at_k(truth, recommended) == pytest.approx(2 / 3)
    assert precision_at_k(truth, recommended, k=1) == 1.0
    assert recall_at_k(truth, recommended, k=2) == 0.5
    assert average_precision_at_k(truth, recommended) == pytest.approx((1 + 2 / 3) / 2)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(truth, recommended) == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert hit_rate_at_k([{5}], recommended) == 0.0


def test_invalid_inputs_are_explained():
    with pytest.raises(ValueError, match="needs n_relevant"):
        recall_at_k(["a"], [["a"]])
    with pytest.raises(ValueError, match="n_relevant is only for label ground truth"):
        recall_at_k([{1}], [[1]], n_relevant=1)
    with pytest.raises(ValueError, match="mixes sets of relevant ids with labels"):
        precision_at_k([{1}, 2], [[1], [2]])
    with pytest.raises(ValueError, match="k=3 is larger than the number of recommendations"):
        precision_at_k(["a"], [["a", "b"]], k=3)
    with pytest.raises(ValueError, match="y_pred must be 2-D"):
        precision_at_k(["a", "b"], ["a", "b"])
    with pytest.raises(ValueError, match="y_true has 1 queries but y_pred has 2 rows"):
        precision_at_k(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError, match="smaller than the number of relevant items"):
        ndcg_at_k(["a"], [["a", "a"]], n_relevant=1)
    with pytest.raises(ValueError, match="y_pred has no queries"):
        hit_rate_at_k([], np.empty((0, 3)))
    with pytest.raises(InvalidParameterError, match="k"):
        precision_at_k(["a"], [["a"]], k=0)


def test_tuple_labels_are_labels_not_sets():
    query_labels = np.empty(2, dtype=object)
    query_labels[:] = [("home", "mug"), ("home", "lamp")]
    recommended = np.empty((2, 2), dtype=object)
    recommended[:] = [[("home", "mug"), ("home", "lamp")], [("home", "mug"), ("home", "mug")]]
    assert precision_at_k(query_labels, recommended) == 0.25


# -- scorers


@pytest.fixture(scope="module")
def fitted_pipeline_and_queries():
    texts, labels = make_product_catalog(300, 5, noise=0.5, random_state=0)
    pipe = make_pipeline(
        TfidfVectorizer(),
        TruncatedSVD(n_components=6, random_state=0),
        NearestNeighborRecommender(),
    )
    pipe.fit(texts[:200], labels[:200])
    return pipe, texts, labels


@pytest.mark.parametrize("metric, definition, uses_n_relevant", _CASES)
def test_scorer_on_pipeline_matches_brute_force(
    fitted_pipeline_and_queries, metric, definition, uses_n_relevant
):
    pipe, texts, labels = fitted_pipeline_and_queries
    name = metric.__name__.removesuffix("_at_k")
    scorer = make_recommendation_scorer(name, k=4)
    catalog_labels = labels[:200]
    query_texts, query_labels = texts[200:], labels[200:]

    recommended = pipe[-1].recommend(pipe[:-1].transform(query_texts), 4)[0]
    relevance_rows = [
        [int(catalog_labels[item] == query) for item in row]
        for query, row in zip(query_labels, recommended)
    ]
    n_relevant = [int(np.sum(catalog_labels == query)) for query in query_labels]
    expected = _brute_force_mean(definition, relevance_rows, n_relevant)
    assert scorer(pipe, query_texts, query_labels) == pytest.approx(expected)
    # The bare recommender on embedded queries gives the same score.
    assert scorer(pipe[-1], pipe[:-1].transform(query_texts), query_labels) == pytest.approx(
        expected
    )


def test_scorer_on_the_catalog_excludes_each_item(fitted_pipeline_and_queries):
    pipe, texts, labels = fitted_pipeline_and_queries
    catalog_texts, catalog_labels = texts[:200], labels[:200]
    recommended = pipe.predict(catalog_texts, exclude_self=True)[:, :3]
    relevance_rows = [
        [int(catalog_labels[item] == query) for item in row]
        for query, row in zip(catalog_labels, recommended)
    ]
    # The item itself is neither recommended nor counted as relevant.
    n_relevant = [int(np.sum(catalog_labels == query)) - 1 for query in catalog_labels]
    expected = _brute_force_mean(_recall, relevance_rows, n_relevant)
    scorer = make_recommendation_scorer("recall", k=3)
    assert scorer(pipe, catalog_texts, catalog_labels) == pytest.approx(expected)


def test_scorers_drive_grid_search():
    texts, labels = make_product_catalog(240, 4, noise=0.5, random_state=1)
    pipe = make_pipeline(
        TfidfVectorizer(), TruncatedSVD(random_state=0), NearestNeighborRecommender()
    )
    scoring = {
        "ndcg": make_recommendation_scorer("ndcg", k=5),
        "map": make_recommendation_scorer("average_precision", k=5),
    }
    grid = GridSearchCV(
        pipe,
        {"truncatedsvd__n_components": [2, 10]},
        scoring=scoring,
        refit="ndcg",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    grid.fit(texts, labels)
    ndcg_scores = grid.cv_results_["mean_test_ndcg"]
    assert np.all((0 <= ndcg_scores) & (ndcg_scores <= 1))
    assert grid.best_params_ == {"truncatedsvd__n_components": 10}
    # A single scorer as scoring=.
    single = GridSearchCV(
        pipe, {"truncatedsvd__n_components": [10]}, scoring=scoring["ndcg"], cv=3
    ).fit(texts, labels)
    assert 0 < single.best_score_ <= 1


def test_scorer_repr_and_errors(fitted_pipeline_and_queries):
    pipe, texts, labels = fitted_pipeline_and_queries
    scorer = make_recommendation_scorer("ndcg", k=5)
    assert repr(scorer) == "make_recommendation_scorer('ndcg', k=5)"
    with pytest.raises(InvalidParameterError, match="metric"):
        make_recommendation_scorer("accuracy")
    with pytest.raises(TypeError, match="need a NearestNeighborRecommender"):
        make_recommendation_scorer()(make_pipeline(StandardScaler()), texts, labels)


def test_tuple_labels_and_ids_in_plain_lists_stay_one_entry_each():
    # np.asarray would read each tuple as one more axis.
    y_pred = [[("a", 1), ("b", 2)], [("b", 2), ("b", 2)]]
    assert precision_at_k([("a", 1), ("b", 2)], y_pred) == 0.75
    relevant = [{("a", 1)}, {("b", 2), ("c", 3)}]
    assert precision_at_k(relevant, [[("a", 1), ("b", 2)], [("b", 2), ("c", 3)]]) == 0.75


def test_no_recommendations_and_repeated_relevant_ids_are_refused():
    with pytest.raises(ValueError, match="no recommendations"):
        precision_at_k([1, 2], [[], []])
    # Counted twice, item 1 would make query 0 look fully recalled.
    with pytest.raises(ValueError, match="same relevant item more than once to query 0"):
        recall_at_k([{1, 2}, {3}], [[1, 1], [3, 4]])
