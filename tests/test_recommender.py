import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_prodembed import _recommender
from sk_prodembed._recommender import NearestNeighborRecommender
from sk_prodembed._search import _exact
from sk_prodembed.datasets import make_product_catalog

# predict returns (n_queries, n_recommendations) item ids, where these checks
# assume one prediction per row; sparse support is tested below instead.
_ONE_PREDICTION_PER_ROW = (
    "predict returns n_recommendations ids per query; the check expects one "
    "prediction per row (sparse input is tested in test_recommender.py)"
)


@parametrize_with_checks(
    [
        NearestNeighborRecommender(),
        NearestNeighborRecommender(3, metric="euclidean", algorithm="kd_tree"),
        NearestNeighborRecommender(3, algorithm="hnsw", hnsw_m=4, ef_construction=8),
    ],
    expected_failed_checks=lambda estimator: {
        "check_estimator_sparse_array": _ONE_PREDICTION_PER_ROW,
        "check_estimator_sparse_matrix": _ONE_PREDICTION_PER_ROW,
    },
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _reference_top_k(queries, catalog, metric, n, exclude_self=False):
    """Top-n by sorting a full similarity matrix, one query at a time."""
    queries = np.asarray(queries, dtype=np.float64)
    catalog = np.asarray(catalog, dtype=np.float64)
    indices, similarities = [], []
    for i, query in enumerate(queries):
        row = []
        for j, item in enumerate(catalog):
            if exclude_self and i == j:
                continue
            if metric == "cosine":
                similarity = query @ item / (np.linalg.norm(query) * np.linalg.norm(item))
            else:
                similarity = -np.linalg.norm(query - item)
            row.append((-similarity, j))
        row.sort()
        indices.append([j for _, j in row[:n]])
        similarities.append([-negated for negated, _ in row[:n]])
    return np.array(indices), np.array(similarities)


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of 4 queries by 8 items, so small tests cross many block edges."""
    monkeypatch.setattr(_exact, "QUERY_BLOCK", 4)
    monkeypatch.setattr(_exact, "ITEM_BLOCK", 8)


@pytest.fixture
def catalog_and_queries():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 5)), rng.normal(size=(17, 5))


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("algorithm", ["brute", "auto", "kd_tree", "ball_tree"])
@pytest.mark.parametrize("exclude_self", [False, True])
def test_top_k_matches_full_similarity_matrix(
    catalog_and_queries, tiny_blocks, metric, algorithm, exclude_self
):
    catalog, queries = catalog_and_queries
    if exclude_self:
        queries = catalog
    recommender = NearestNeighborRecommender(7, metric=metric, algorithm=algorithm)
    ids, similarities = recommender.fit(catalog).recommend(queries, exclude_self=exclude_self)
    expected_ids, expected_similarities = _reference_top_k(
        queries, catalog, metric, 7, exclude_self
    )
    assert_array_equal(ids, expected_ids)
    assert_allclose(similarities, expected_similarities, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("algorithm", ["brute", "kd_tree", "hnsw"])
@pytest.mark.parametrize("n_candidates", [30, 5])
def test_candidate_items_are_the_only_items_recommended(
    catalog_and_queries, tiny_blocks, metric, algorithm, n_candidates
):
    # 30 of 60 items go through the index (kd_tree, hnsw), 5 are searched
    # exactly; either way the result is the exact top among the candidates.
    if algorithm == "hnsw":
        pytest.importorskip("faiss", reason="the 'ann' extra is not installed")
    catalog, queries = catalog_and_queries
    ids = np.array([f"item{j}" for j in range(60)])
    recommender = NearestNeighborRecommender(
        7, metric=metric, algorithm=algorithm, ef_search=200
    ).fit(catalog, item_ids=ids)
    rows = np.sort(np.random.default_rng(3).choice(60, n_candidates, replace=False))
    n = min(7, n_candidates - 1)
    expected, expected_similarities = _reference_top_k(queries, catalog[rows], metric, n + 1)
    # Query 0 also excludes its best candidate: the others move up.
    exclude = [[ids[rows[expected[0, 0]]]]] + [[] for _ in range(len(queries) - 1)]
    found, similarities = recommender.recommend(
        queries, n, candidate_items=list(ids[rows]) + ["not in the catalog"],
        exclude_items=exclude,
    )
    assert_array_equal(found[0], ids[rows[expected[0, 1:]]])
    assert_allclose(similarities[0], expected_similarities[0, 1:], rtol=1e-6, atol=1e-6)
    assert_array_equal(found[1:], ids[rows[expected[1:, :n]]])
    assert_allclose(similarities[1:], expected_similarities[1:, :n], rtol=1e-6, atol=1e-6)
    # A boolean mask over the catalog's rows says the same, here for the
    # n_recommendations=7 of the recommender: 5 candidates leave query 0
    # only 4 items, which every query then gets, and which is said.
    mask = np.zeros(60, dtype=bool)
    mask[rows] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predicted = recommender.predict(queries, candidate_items=mask, exclude_items=exclude)
        # Catalog items as queries: each is left out of its own recommendations.
        own, _ = recommender.recommend_for_items(ids[rows[:2]], candidate_items=mask)
    assert_array_equal(predicted[:, :n], found)
    assert own.shape == (2, n)
    assert np.isin(own, ids[rows]).all() and (own != ids[rows[:2], None]).all()
    messages = [str(w.message) for w in caught]
    if n_candidates == 30:
        assert messages == []
    else:
        assert len(messages) == 2 and all(
            "candidate_items leave a query 4 item(s) to recommend (after exclusions), fewer "
            "than the 7 asked: every query gets 4" in m for m in messages
        )


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_a_tree_answers_a_query_that_excludes_most_of_the_catalog(algorithm):
    # The tree is asked for more neighbours than it holds (n plus the
    # exclusions, rounded up): it returns what it has, and the best allowed
    # items come out. Before, scikit-learn's tree refused the request.
    catalog = np.random.default_rng(5).normal(size=(100, 3))
    recommender = NearestNeighborRecommender(10, algorithm=algorithm).fit(catalog)
    with pytest.warns(UserWarning, match="exclusions leave a query 5 of the 100 items"):
        ids, _ = recommender.recommend(catalog[:1], exclude_items=[list(range(95))])
    expected, _ = _reference_top_k(catalog[:1], catalog[95:], "cosine", 5)
    assert_array_equal(ids, expected + 95)


@pytest.mark.parametrize("algorithm", ["brute", "hnsw"])
def test_each_query_can_have_its_own_candidates(catalog_and_queries, algorithm):
    # The query's own category, say: a sparse matrix of each query's
    # candidates. Only those pairs are scored (an index is not asked).
    if algorithm == "hnsw":
        pytest.importorskip("faiss", reason="the 'ann' extra is not installed")
    catalog, queries = catalog_and_queries
    labels = np.arange(60) % 3
    recommender = NearestNeighborRecommender(4, algorithm=algorithm).fit(catalog, labels)
    query_labels = np.arange(len(queries)) % 3
    same_label = sp.csr_matrix(query_labels[:, None] == labels[None, :])
    exclude = [[int(np.flatnonzero(labels == query_labels[0])[0])]] + [[]] * (len(queries) - 1)
    ids, similarities = recommender.recommend(
        queries, candidate_items=same_label, exclude_items=exclude
    )
    for i, query in enumerate(queries):
        rows = np.flatnonzero(labels == query_labels[i])
        if i == 0:
            rows = rows[1:]
        expected, expected_similarities = _reference_top_k(query[None], catalog[rows], "cosine", 4)
        assert_array_equal(ids[i], rows[expected[0]])
        assert_allclose(similarities[i], expected_similarities[0], rtol=1e-6, atol=1e-6)
    # Catalog items: each item's category, the item itself left out.
    own, _ = recommender.recommend_for_items(
        [0, 1], candidate_items=sp.csr_matrix(labels[[0, 1], None] == labels[None, :])
    )
    assert (labels[own] == labels[[0, 1], None]).all() and (own != [[0], [1]]).all()
    with pytest.raises(ValueError, match=r"must have shape \(17, 60\)"):
        recommender.recommend(queries, candidate_items=same_label[:5])


def test_same_label_recommends_within_each_items_own_label(catalog_and_queries):
    catalog, _ = catalog_and_queries
    labels = np.array(["shoes", "bags", "hats"])[np.arange(60) % 3]
    recommender = NearestNeighborRecommender(4).fit(catalog, labels)
    ids, similarities = recommender.recommend_for_items([0, 1, 5], same_label=True)
    for query, row in enumerate([0, 1, 5]):
        rows = np.flatnonzero((labels == labels[row]) & (np.arange(60) != row))
        expected, expected_similarities = _reference_top_k(catalog[[row]], catalog[rows], "cosine", 4)
        assert_array_equal(ids[query], rows[expected[0]])
        assert_allclose(similarities[query], expected_similarities[0], rtol=1e-6, atol=1e-6)
    # Among candidates too: item 0's label ("shoes") has items 0, 3, 6, ...
    ids, _ = recommender.recommend_for_items(
        [0], 2, same_label=True, candidate_items=[1, 2, 3, 9, 12]
    )
    assert set(ids[0]) <= {3, 9, 12} and len(ids[0]) == 2
    unlabeled = NearestNeighborRecommender(4).fit(catalog)
    with pytest.raises(ValueError, match="same_label=True needs the catalog's labels"):
        unlabeled.recommend_for_items([0], same_label=True)


def test_few_candidates_cost_in_proportion_to_their_number(monkeypatch):
    # Fewer candidates than an eighth of the catalog: the exact search looks
    # at them only, even with an index.
    pytest.importorskip("faiss", reason="the 'ann' extra is not installed")
    catalog = np.random.default_rng(4).normal(size=(400, 4))
    recommender = NearestNeighborRecommender(3, algorithm="hnsw").fit(catalog)
    searched = []
    exact_top_k = _recommender.exact_top_k

    def recording(queries, catalog, n, **kwargs):
        searched.append(None if kwargs["item_rows"] is None else len(kwargs["item_rows"]))
        return exact_top_k(queries, catalog, n, **kwargs)

    monkeypatch.setattr(_recommender, "exact_top_k", recording)
    monkeypatch.setattr(recommender.index_, "search", None)  # never called
    recommender.recommend(catalog[:5], candidate_items=np.arange(0, 400, 10))
    assert searched == [40]


def test_bad_candidate_items_are_refused(catalog_and_queries):
    catalog, queries = catalog_and_queries
    recommender = NearestNeighborRecommender(3).fit(catalog)
    with pytest.raises(ValueError, match=r"one entry per catalog item \(60\), got 59"):
        recommender.recommend(queries, candidate_items=np.ones(59, dtype=bool))
    # No candidate (none of the ids is in the catalog): nothing to recommend,
    # and a warning says so.
    with pytest.warns(UserWarning, match="leave a query 0 item"):
        ids, similarities = recommender.recommend(queries, candidate_items=[1000, 2000])
    assert ids.shape == similarities.shape == (len(queries), 0)
    # Each query's own: the query with the fewest is named.
    own = sp.csr_matrix(np.ones((len(queries), 60), dtype=bool))
    own[5, 2:] = False
    with pytest.warns(UserWarning, match="leave query 5 2 item"):
        ids, _ = recommender.recommend(queries, candidate_items=own)
    assert ids.shape == (len(queries), 2)
    # The warning points at the caller's line, through predict too.
    with pytest.warns(UserWarning, match="leave a query 2 item") as caught:
        recommender.predict(queries, candidate_items=[0, 1])
    assert caught[0].filename == __file__


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_sparse_input_gives_the_dense_result_and_stays_sparse(tiny_blocks, metric):
    rng = np.random.default_rng(1)
    catalog = sp.random(80, 30, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    queries = sp.random(9, 30, density=0.2, format="csr", random_state=rng, dtype=np.float32)
    sparse_recommender = NearestNeighborRecommender(5, metric=metric).fit(catalog)
    dense_recommender = NearestNeighborRecommender(5, metric=metric).fit(catalog.toarray())
    assert sp.issparse(sparse_recommender.catalog_)
    sparse_ids, sparse_similarities = sparse_recommender.recommend(queries)
    dense_ids, dense_similarities = dense_recommender.recommend(queries.toarray())
    # Sparse rows with no shared feature tie at similarity 0 (cosine), so
    # compare similarities everywhere and ids only where similarities differ.
    assert_allclose(sparse_similarities, dense_similarities, rtol=1e-5, atol=1e-6)
    assert sparse_similarities.dtype == np.float32
    distinct = sparse_similarities != 0
    assert_array_equal(sparse_ids[distinct], dense_ids[distinct])
    # Mixed formats: dense queries against a sparse catalog.
    mixed_ids, _ = sparse_recommender.recommend(queries.toarray())
    assert_array_equal(mixed_ids[distinct], dense_ids[distinct])


@pytest.mark.parametrize("algorithm", ["brute", "kd_tree"])
def test_exclude_self_removes_the_item_but_keeps_its_duplicates(algorithm):
    catalog = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [1.0, 0.0]])
    recommender = NearestNeighborRecommender(2, algorithm=algorithm).fit(catalog)
    ids, similarities = recommender.recommend(catalog, exclude_self=True)
    assert not np.any(ids == np.arange(len(catalog))[:, None])
    # Items 0, 1 and 4 are exact duplicates: each is recommended the other two.
    assert_array_equal(ids[[0, 1, 4]], [[1, 4], [0, 4], [0, 1]])
    assert_allclose(similarities[[0, 1, 4]], 1.0)


@pytest.mark.parametrize("algorithm", ["brute", "ball_tree"])
def test_exclude_self_when_the_item_hides_behind_many_duplicates(algorithm):
    catalog = np.ones((6, 3))
    recommender = NearestNeighborRecommender(2, algorithm=algorithm).fit(catalog)
    ids, _ = recommender.recommend(catalog, exclude_self=True)
    assert ids.shape == (6, 2)
    assert not np.any(ids == np.arange(6)[:, None])


def test_exclude_self_auto_detects_the_catalog(catalog_and_queries, monkeypatch):
    # The catalog is compared with the queries 7 rows at a time.
    monkeypatch.setattr(_recommender, "_COMPARE_BLOCK", 7)
    catalog, queries = catalog_and_queries
    recommender = NearestNeighborRecommender(4).fit(catalog)
    auto_ids, _ = recommender.recommend(catalog.copy(), exclude_self="auto")
    assert_array_equal(auto_ids, recommender.recommend(catalog, exclude_self=True)[0])
    # Rounding-level differences, as between fit_transform and transform.
    nearly = catalog * (1 + 1e-12)
    assert_array_equal(recommender.recommend(nearly, exclude_self="auto")[0], auto_ids)
    assert_array_equal(
        recommender.recommend(queries, exclude_self="auto")[0],
        recommender.recommend(queries)[0],
    )
    # Same shape, different rows (only in the last block, or everywhere): not the catalog.
    last_changed = catalog.copy()
    last_changed[-1] += 1e-3
    assert not np.any(
        recommender.recommend(last_changed, exclude_self="auto")[0]
        != recommender.recommend(last_changed)[0]
    )
    other = catalog[::-1]
    assert_array_equal(
        recommender.recommend(other, exclude_self="auto")[0], recommender.predict(other)
    )


def test_exclude_self_errors(catalog_and_queries):
    catalog, queries = catalog_and_queries
    recommender = NearestNeighborRecommender().fit(catalog)
    with pytest.raises(ValueError, match="exclude_self=True means query row i"):
        recommender.recommend(queries, exclude_self=True)
    with pytest.raises(ValueError, match="exclude_self must be True, False or 'auto'"):
        recommender.recommend(catalog, exclude_self="yes")


def test_item_ids_and_number_of_recommendations(catalog_and_queries):
    catalog, queries = catalog_and_queries
    item_ids = np.array([f"sku-{i}" for i in range(len(catalog))])
    recommender = NearestNeighborRecommender(3).fit(catalog, item_ids=item_ids)
    indices = NearestNeighborRecommender(3).fit(catalog).predict(queries)
    assert_array_equal(recommender.predict(queries), item_ids[indices])
    ids, similarities = recommender.recommend(queries, n_recommendations=5)
    assert ids.shape == similarities.shape == (len(queries), 5)
    assert np.all(np.diff(similarities, axis=1) <= 0)
    # Never more recommendations than catalog items.
    small = NearestNeighborRecommender(10).fit(catalog[:4])
    assert small.predict(queries).shape == (len(queries), 4)
    assert small.recommend(catalog[:4], exclude_self=True)[0].shape == (4, 3)
    with pytest.raises(ValueError, match="n_recommendations must be a positive int"):
        recommender.recommend(queries, n_recommendations=0)
    with pytest.raises(ValueError, match="item_ids must be unique"):
        NearestNeighborRecommender().fit(catalog, item_ids=np.zeros(len(catalog)))
    with pytest.raises(ValueError, match="item_ids has 3 entries"):
        NearestNeighborRecommender().fit(catalog, item_ids=[1, 2, 3])


def test_invalid_parameters_are_named(catalog_and_queries):
    catalog, _ = catalog_and_queries
    with pytest.raises(InvalidParameterError, match="metric"):
        NearestNeighborRecommender(metric="manhattan").fit(catalog)
    with pytest.raises(InvalidParameterError, match="n_recommendations"):
        NearestNeighborRecommender(n_recommendations=0).fit(catalog)


def test_dtype_is_kept_and_input_untouched(catalog_and_queries):
    catalog, queries = catalog_and_queries
    catalog32 = catalog.astype(np.float32)
    before = catalog32.copy()
    recommender = NearestNeighborRecommender().fit(catalog32)
    _, similarities = recommender.recommend(queries)
    assert recommender.catalog_.dtype == similarities.dtype == np.float32
    assert_array_equal(catalog32, before)


def test_threads_give_the_same_result(catalog_and_queries, tiny_blocks):
    catalog, queries = catalog_and_queries
    serial = NearestNeighborRecommender(5).fit(catalog).recommend(queries)
    threaded = NearestNeighborRecommender(5, n_jobs=2).fit(catalog).recommend(queries)
    assert_array_equal(serial[0], threaded[0])
    assert_allclose(serial[1], threaded[1])


def _offset_catalog(n_items=3000, n_queries=40, seed=0):
    # Every coordinate near 100, the rows 0.1 apart: float32 euclidean search
    # needs its centre here (see test_search_exact).
    rng = np.random.default_rng(seed)
    catalog = (100 + 0.1 * rng.normal(size=(n_items, 16))).astype(np.float32)
    return catalog, (100 + 0.1 * rng.normal(size=(n_queries, 16))).astype(np.float32)


def _recording_reductions_over(catalog):
    """``catalog`` as an array that records each reduction over all of its rows
    (a sum or mean of the whole catalog) and otherwise computes as usual."""
    reductions = []

    class RecordingCatalog(np.ndarray):
        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            if method == "reduce" and inputs[0].shape[0] == len(catalog):
                reductions.append(ufunc.__name__)
            inputs = [np.asarray(value) for value in inputs]
            if "out" in kwargs:
                kwargs["out"] = tuple(np.asarray(value) for value in kwargs["out"])
            return getattr(ufunc, method)(*inputs, **kwargs)

    return catalog.view(RecordingCatalog), reductions


def test_euclidean_recommend_does_not_recompute_the_catalog_mean():
    catalog, queries = _offset_catalog()
    recommender = NearestNeighborRecommender(10, metric="euclidean").fit(catalog)
    # What the search gave when it centred by the mean it computed per call.
    per_call_mean = _exact.exact_top_k(queries, catalog, 10, metric="euclidean")
    recommender.catalog_, reductions = _recording_reductions_over(recommender.catalog_)
    ids, similarities = recommender.recommend(queries)
    assert reductions == []
    assert_array_equal(ids, per_call_mean[0])
    assert_array_equal(similarities, per_call_mean[1])
    recommender.catalog_.mean(axis=0)  # what a per-call mean would have shown
    assert reductions == ["add"]


def test_a_model_saved_without_the_centre_computes_it_on_load_not_per_call():
    catalog, queries = _offset_catalog()
    recommender = NearestNeighborRecommender(10, metric="euclidean").fit(catalog)
    state = recommender.__getstate__()
    state.pop("_row_sum", None)  # as saved by versions that computed it per call
    loaded = NearestNeighborRecommender.__new__(NearestNeighborRecommender)
    loaded.__setstate__(state)
    loaded.catalog_, reductions = _recording_reductions_over(loaded.catalog_)
    ids, similarities = loaded.recommend(queries)
    assert reductions == []
    assert_array_equal(ids, recommender.recommend(queries)[0])
    assert_array_equal(similarities, recommender.recommend(queries)[1])


def _label_precision_loop(recommended_indices, catalog_labels, query_labels):
    per_query = []
    for row, query_label in zip(recommended_indices, query_labels):
        hits = [catalog_labels[index] == query_label for index in row]
        per_query.append(sum(hits) / len(row))
    return sum(per_query) / len(per_query)


def test_score_is_label_precision_and_excludes_self_on_the_catalog():
    rng = np.random.default_rng(2)
    catalog, queries = rng.normal(size=(50, 4)), rng.normal(size=(20, 4))
    catalog_labels = rng.integers(3, size=50)
    query_labels = rng.integers(3, size=20)
    recommender = NearestNeighborRecommender(5).fit(catalog, catalog_labels)

    expected = _label_precision_loop(recommender.predict(queries), catalog_labels, query_labels)
    assert recommender.score(queries, query_labels) == pytest.approx(expected)

    on_catalog = _label_precision_loop(
        recommender.predict(catalog, exclude_self=True), catalog_labels, catalog_labels
    )
    assert recommender.score(catalog, catalog_labels) == pytest.approx(on_catalog)
    assert recommender.score(catalog) == pytest.approx(on_catalog)
    with pytest.raises(ValueError, match="y is required unless X is the fitted catalog"):
        recommender.score(queries)
    with pytest.raises(ValueError, match="fit the recommender with y"):
        NearestNeighborRecommender().fit(catalog).score(queries, query_labels)


@pytest.fixture(scope="module")
def product_texts():
    return make_product_catalog(240, 4, noise=0.5, random_state=0)


def _text_pipeline(**recommender_params):
    return make_pipeline(
        TfidfVectorizer(),
        TruncatedSVD(n_components=8, random_state=0),
        NearestNeighborRecommender(**recommender_params),
    )


def test_pipeline_score_in_grid_search_uses_train_fold_as_catalog(product_texts):
    texts, labels = product_texts
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = GridSearchCV(_text_pipeline(), {"truncatedsvd__n_components": [2, 8]}, cv=cv)
    grid.fit(texts, labels)

    # Recompute the first split's score by hand: catalog = training fold,
    # queries = test fold, relevant = same label.
    train, test = next(cv.split(texts, labels))
    pipe = _text_pipeline().set_params(truncatedsvd__n_components=2)
    pipe.fit(texts[train], labels[train])
    expected = _label_precision_loop(pipe.predict(texts[test]), labels[train], labels[test])
    assert grid.cv_results_["split0_test_score"][0] == pytest.approx(expected)
    assert grid.best_params_ == {"truncatedsvd__n_components": 8}
    assert grid.best_score_ > 0.6  # chance is 0.25 with 4 balanced categories


def test_pipeline_predict_recommends_from_text(product_texts):
    texts, labels = product_texts
    train, test = train_test_split(np.arange(len(texts)), random_state=0)
    pipe = _text_pipeline(n_recommendations=3)
    pipe.fit(texts[train], labels[train], nearestneighborrecommender__item_ids=train)
    ids = pipe.predict(texts[test])
    assert ids.shape == (len(test), 3)
    assert set(ids.ravel()) <= set(train)
    # The Pipeline forwards predict's keyword to the recommender.
    self_excluded = pipe.predict(texts[train], exclude_self=True)
    assert not np.any(self_excluded == train[:, None])


def test_clone_get_params_and_pickle(product_texts):
    texts, labels = product_texts
    recommender = NearestNeighborRecommender(4, metric="euclidean", algorithm="ball_tree")
    assert clone(recommender).get_params() == recommender.get_params()
    pipe = _text_pipeline(n_recommendations=4).fit(texts, labels)
    restored = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(restored.predict(texts[:10]), pipe.predict(texts[:10]))
    assert restored.score(texts, labels) == pipe.score(texts, labels)
