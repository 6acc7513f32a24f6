"""NearestNeighborRecommender beyond plain queries: filters, queries by id, catalog
updates, rows with no information, and the public label_ground_truth."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from sk_prodembed import NearestNeighborRecommender
from sk_prodembed.metrics import recall_at_k

ALGORITHMS = ["brute", "kd_tree", "hnsw"]


@pytest.fixture
def catalog_and_queries():
    rng = np.random.default_rng(0)
    return rng.normal(size=(80, 5)), rng.normal(size=(12, 5))


def _recommender(algorithm, n=5, **params):
    # A search list wider than the catalog makes HNSW exact on these sizes.
    extra = {"ef_search": 200} if algorithm == "hnsw" else {}
    return NearestNeighborRecommender(n, algorithm=algorithm, **extra, **params)


def _brute_force(queries, catalog, n, excluded_per_query):
    """Top n cosine items per query by a Python loop over allowed items."""
    result = []
    for query, excluded in zip(queries, excluded_per_query):
        scored = sorted(
            (-(query @ item) / (np.linalg.norm(query) * np.linalg.norm(item)), j)
            for j, item in enumerate(catalog) if j not in excluded
        )
        result.append([j for _, j in scored[:n]])
    return np.array(result)


# -- filters


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_exclude_items_by_id_lists(catalog_and_queries, algorithm):
    catalog, queries = catalog_and_queries
    ids = np.array([f"sku{j}" for j in range(80)])
    recommender = _recommender(algorithm).fit(catalog, item_ids=ids)
    plain = NearestNeighborRecommender(5).fit(catalog).predict(queries)
    # Query i excludes its own top i items, an unknown id, and nothing for i = 0.
    excluded_rows = [set(plain[i, :i].tolist()) for i in range(12)]
    exclude_items = [None] + [list(ids[sorted(rows)]) + ["gone"] for rows in excluded_rows[1:]]
    found = recommender.predict(queries, exclude_items=exclude_items)
    assert_array_equal(found, ids[_brute_force(queries, catalog, 5, excluded_rows)])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_exclude_items_as_a_sparse_mask_with_exclude_self(catalog_and_queries, algorithm):
    catalog, _ = catalog_and_queries
    rng = np.random.default_rng(1)
    mask = sp.random(80, 80, density=0.1, format="csr", random_state=rng)
    recommender = _recommender(algorithm).fit(catalog)
    found = recommender.predict(catalog, exclude_self=True, exclude_items=mask)
    excluded = [set(mask[i].indices.tolist()) | {i} for i in range(80)]
    assert_array_equal(found, _brute_force(catalog, catalog, 5, excluded))


def test_exclusions_that_leave_few_items_shrink_every_row(catalog_and_queries):
    catalog, queries = catalog_and_queries
    recommender = NearestNeighborRecommender(5).fit(catalog[:6])
    # One query's exclusions cut the other's list too: said, not silent.
    with pytest.warns(UserWarning, match="every query gets 2"):
        ids, _ = recommender.recommend(queries[:2], exclude_items=[[0, 1, 2, 3], [5]])
    assert ids.shape == (2, 2)
    assert not np.isin(ids[0], [0, 1, 2, 3]).any()
    # A catalog smaller than n_recommendations shortens the lists as documented.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert NearestNeighborRecommender(10).fit(catalog[:6]).recommend(queries[:2])[0].shape == (2, 6)


def test_bad_exclusions_are_named(catalog_and_queries):
    catalog, queries = catalog_and_queries
    recommender = NearestNeighborRecommender().fit(catalog)
    with pytest.raises(ValueError, match=r"exclude_items must hold one sequence .* \(12\)"):
        recommender.predict(queries, exclude_items=[[1]])
    with pytest.raises(ValueError, match=r"shape \(12, 80\)"):
        recommender.predict(queries, exclude_items=sp.csr_matrix((12, 79)))


def test_exclusions_given_as_a_flat_list_of_ids_are_named(catalog_and_queries):
    # ["sku1", "sku2"] for two queries would read each string as its characters.
    catalog, queries = catalog_and_queries
    ids = [f"sku{i}" for i in range(len(catalog))]
    recommender = NearestNeighborRecommender().fit(catalog, item_ids=ids)
    with pytest.raises(ValueError, match=r"entry 0 is 'sku1', not a sequence"):
        recommender.predict(queries[:2], exclude_items=["sku1", "sku2"])


@pytest.mark.parametrize("dtype", [str, object])  # object: ids from a pandas column
def test_an_id_of_another_kind_is_ignored_alone(catalog_and_queries, dtype):
    # A None among string ids (a missing value in a purchase history) must not
    # cancel the other exclusions or candidates.
    catalog, queries = catalog_and_queries
    ids = np.array([f"sku{i}" for i in range(len(catalog))], dtype=dtype)
    recommender = NearestNeighborRecommender(3).fit(catalog, item_ids=ids)
    best = recommender.predict(queries[:2])
    with_none = recommender.predict(queries[:2], exclude_items=[[best[0, 0]], [best[1, 0], None]])
    assert best[0, 0] not in with_none[0] and best[1, 0] not in with_none[1]
    chosen = ids[[3, 7, 9]]
    among = recommender.predict(queries[:2], candidate_items=[*chosen, None])
    assert set(among.ravel()) <= set(chosen) and among.shape == (2, 3)


def test_row_indices_mixing_ints_and_integral_floats_are_all_excluded(catalog_and_queries):
    catalog, _ = catalog_and_queries
    recommender = NearestNeighborRecommender(3).fit(catalog)
    rows = recommender.predict(catalog[:3], exclude_items=[[0], [1], [2.0]])
    assert [i not in row for i, row in enumerate(rows)] == [True, True, True]


# -- item ids


def test_large_integer_ids_are_kept_exactly(catalog_and_queries):
    pd = pytest.importorskip("pandas")
    catalog, _ = catalog_and_queries
    big = 2**53 + 1  # not a float64
    nullable = pd.Series([big, big + 2, big + 4], dtype="Int64")
    recommender = NearestNeighborRecommender(2).fit(catalog[:3], item_ids=nullable)
    assert recommender.item_ids_.dtype.kind == "i"
    assert recommender.item_ids_.tolist() == [big, big + 2, big + 4]
    recommender.partial_fit(catalog[3:4], item_ids=np.array([7], dtype=np.uint64))
    assert recommender.item_ids_.dtype == np.int64
    assert recommender.item_ids_.tolist() == [big, big + 2, big + 4, 7]
    assert recommender.recommend_for_items([big + 2])[0].dtype == np.int64


@pytest.mark.parametrize("item_ids, message", [
    (["a", 1, 2.5], "all integers or all strings"),
    (["a", None, "c"], "missing values"),
    ([1.0, np.nan, np.nan], "missing values"),
    ([True, False, True], "booleans"),
])
def test_ids_that_would_be_silently_changed_are_refused(catalog_and_queries, item_ids, message):
    # np.asarray(["a", 1, 2.5]) would make the numbers strings ("1"), and NaN
    # ids are never equal to themselves: neither can be looked up again.
    catalog, _ = catalog_and_queries
    with pytest.raises(ValueError, match=message):
        NearestNeighborRecommender(2).fit(catalog[:3], item_ids=item_ids)


def test_missing_ids_in_a_nullable_column_are_refused(catalog_and_queries):
    pd = pytest.importorskip("pandas")
    catalog, _ = catalog_and_queries
    with pytest.raises(ValueError, match="missing values"):
        NearestNeighborRecommender(2).fit(
            catalog[:3], item_ids=pd.Series([1, None, 3], dtype="Int64")
        )


def test_new_ids_the_catalog_kind_cannot_hold_are_refused(catalog_and_queries):
    catalog, _ = catalog_and_queries
    recommender = NearestNeighborRecommender(2).fit(catalog[:2], item_ids=[1, 2])
    for bad in ([2.5], np.array([2**63], dtype=np.uint64)):
        with pytest.raises(ValueError, match="cannot all be held"):
            recommender.partial_fit(catalog[2:3], item_ids=bad)
    assert recommender.item_ids_.tolist() == [1, 2]


def test_the_id_lookup_table_is_rebuilt_on_load_not_saved(catalog_and_queries):
    # It is a sorted copy of the ids: saving it would store every id twice.
    import pickle

    catalog, queries = catalog_and_queries
    ids = np.array([f"sku{i}" for i in range(len(catalog))], dtype=object)
    recommender = NearestNeighborRecommender(3).fit(catalog, item_ids=ids)
    assert not {"_id_order", "_sorted_ids"} & set(recommender.__getstate__())
    loaded = pickle.loads(pickle.dumps(recommender))
    assert_array_equal(loaded.recommend_for_items(["sku7"])[0],
                       recommender.recommend_for_items(["sku7"])[0])
    assert_array_equal(loaded.predict(queries, exclude_items=[["sku1"]] * len(queries)),
                       recommender.predict(queries, exclude_items=[["sku1"]] * len(queries)))


def test_a_boolean_number_of_recommendations_is_refused(catalog_and_queries):
    catalog, queries = catalog_and_queries
    with pytest.raises(ValueError, match="positive int, got True"):
        NearestNeighborRecommender(2).fit(catalog).recommend(queries, n_recommendations=True)
    with pytest.raises(ValueError, match="positive int, got True"):
        NearestNeighborRecommender(True).fit(catalog).predict(queries)


# -- queries by catalog id


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_recommend_for_items_excludes_the_item_itself(catalog_and_queries, algorithm):
    catalog, _ = catalog_and_queries
    ids = np.arange(80) * 7
    recommender = _recommender(algorithm, metric="euclidean").fit(catalog, item_ids=ids)
    asked = ids[[5, 0, 79, 5]]
    found, similarities = recommender.recommend_for_items(asked, exclude_items=[[0], [], [], []])
    expected, expected_similarities = NearestNeighborRecommender(5, metric="euclidean").fit(
        catalog, item_ids=ids
    ).recommend(catalog[[5, 0, 79, 5]], exclude_items=[[35, 0], [0], [553], [35]])
    assert_array_equal(found, expected)
    assert_allclose(similarities, expected_similarities)
    assert not (found == asked[:, None]).any()


def test_recommend_for_items_errors_name_the_unknown_ids(catalog_and_queries):
    catalog, _ = catalog_and_queries
    with_ids = NearestNeighborRecommender().fit(catalog, item_ids=np.arange(80) + 100)
    with pytest.raises(ValueError, match=r"item_ids not in the catalog: \[3\]"):
        with_ids.recommend_for_items([100, 3])
    # Without ids, queries are by row index.
    without_ids = NearestNeighborRecommender(2).fit(catalog)
    assert without_ids.recommend_for_items([4]).__getitem__(0).shape == (1, 2)
    with pytest.raises(ValueError, match=r"row indices in \[0, 80\)"):
        without_ids.recommend_for_items([80])


# -- catalog updates


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("sparse", [False, True])
def test_partial_fit_then_remove_equals_fitting_the_final_catalog(algorithm, sparse):
    rng = np.random.default_rng(2)
    catalog = rng.random((90, 6)) * (rng.random((90, 6)) < 0.7)
    labels = np.arange(90) % 3
    ids = np.arange(90) + 500
    to_input = sp.csr_matrix if sparse else np.asarray
    recommender = _recommender(algorithm)
    for start in (0, 40, 70):  # the first partial_fit fits
        rows = slice(start, {0: 40, 40: 70, 70: 90}[start])
        recommender.partial_fit(to_input(catalog[rows]), labels[rows], item_ids=ids[rows])
    recommender.remove_items(ids[10:30])
    keep = np.r_[0:10, 30:90]
    reference = NearestNeighborRecommender(5).fit(catalog[keep], labels[keep], item_ids=ids[keep])
    queries = rng.random((15, 6))
    assert_array_equal(recommender.predict(queries), reference.predict(queries))
    assert_array_equal(recommender.catalog_labels_, labels[keep])
    assert sp.issparse(recommender.catalog_) == sparse
    assert recommender.score(queries, labels[:15]) == reference.score(queries, labels[:15])


@pytest.mark.parametrize("removed", [slice(10, 30), slice(5, 75)])  # subtracted, summed afresh
def test_catalog_updates_keep_the_euclidean_centre_the_catalog_mean(removed):
    # float32 rows near 100: the search is exact only when centred near the mean.
    rng = np.random.default_rng(5)
    catalog = (100 + 0.1 * rng.normal(size=(90, 6))).astype(np.float32)
    ids = np.arange(90) + 500
    recommender = NearestNeighborRecommender(5, metric="euclidean")
    for rows in (slice(0, 40), slice(40, 70), slice(70, 90)):
        recommender.partial_fit(catalog[rows], item_ids=ids[rows])
    recommender.remove_items(ids[removed])
    keep = np.setdiff1d(np.arange(90), np.arange(90)[removed])
    reference = NearestNeighborRecommender(5, metric="euclidean").fit(
        catalog[keep], item_ids=ids[keep]
    )
    assert_allclose(recommender._row_sum / len(keep),
                    catalog[keep].mean(axis=0, dtype=np.float64), rtol=1e-13)
    queries = (100 + 0.1 * rng.normal(size=(15, 6))).astype(np.float32)
    expected_ids, expected_similarities = reference.recommend(queries)
    ids_found, similarities = recommender.recommend(queries)
    assert_array_equal(ids_found, expected_ids)
    assert_allclose(similarities, expected_similarities, rtol=1e-6)


def test_many_updates_do_not_drift_the_euclidean_centre():
    # The catalog grows and shrinks by a little under half, again and again:
    # every removal subtracts from the kept sum, none sums the catalog afresh.
    rng = np.random.default_rng(6)
    recommender = NearestNeighborRecommender(3, metric="euclidean")
    next_id = 0
    for _ in range(60):
        rows = (1e4 + rng.normal(size=(400, 4))).astype(np.float32)
        recommender.partial_fit(rows, item_ids=np.arange(next_id, next_id + 400))
        next_id += 400
        n_items = recommender.catalog_.shape[0]
        recommender.remove_items(recommender.item_ids_[: (n_items - 1) // 2])
    exact = recommender.catalog_.mean(axis=0, dtype=np.float64)
    assert_allclose(recommender._row_sum / recommender.catalog_.shape[0], exact, rtol=1e-12)
    assert_array_equal(recommender._search_center(), exact.astype(np.float32))


def test_partial_fit_without_ids_numbers_items_on(catalog_and_queries):
    catalog, _ = catalog_and_queries
    recommender = NearestNeighborRecommender(1).fit(catalog[:50])
    recommender.partial_fit(catalog[50:])
    assert_array_equal(recommender.recommend_for_items([]).__getitem__(0).shape, (0, 1))
    assert_array_equal(recommender.predict(catalog[[60, 3]]).ravel(), [60, 3])


def test_failed_updates_leave_the_catalog_unchanged(catalog_and_queries):
    catalog, queries = catalog_and_queries
    recommender = NearestNeighborRecommender(3).fit(catalog[:50], item_ids=np.arange(50))
    before = recommender.predict(queries)
    with pytest.raises(ValueError, match=r"repeated: \[7\]. New item_ids must not"):
        recommender.partial_fit(catalog[50:52], item_ids=[7, 99])
    with pytest.raises(ValueError, match=r"repeated: \[99\]"):
        recommender.partial_fit(catalog[50:52], item_ids=[99, 99])
    with pytest.raises(ValueError, match="pass item_ids to partial_fit exactly when"):
        recommender.partial_fit(catalog[50:52])
    with pytest.raises(ValueError, match="pass y to partial_fit exactly when"):
        recommender.partial_fit(catalog[50:52], [0, 1], item_ids=[98, 99])
    with pytest.raises(ValueError, match="do not match the catalog's ids"):
        recommender.partial_fit(catalog[50:52], item_ids=["a", "b"])
    with pytest.raises(ValueError, match="X has 4 features"):
        recommender.partial_fit(catalog[50:52, :4], item_ids=[98, 99])
    with pytest.raises(ValueError, match=r"item_ids not in the catalog: \[50\]"):
        recommender.remove_items([3, 50])
    with pytest.raises(ValueError, match="would empty the catalog"):
        recommender.remove_items(np.arange(50))
    assert recommender.catalog_.shape == (50, 5)
    assert_array_equal(recommender.predict(queries), before)
    with pytest.raises(ValueError, match="fit the recommender with item_ids"):
        NearestNeighborRecommender().fit(catalog).remove_items([0])


# -- rows with no information


@pytest.mark.parametrize("algorithm", ["brute", "hnsw"])
def test_zero_queries_get_similarity_zero_and_one_warning(catalog_and_queries, algorithm):
    catalog, queries = catalog_and_queries
    queries = queries.copy()
    queries[[2, 5]] = 0.0
    recommender = _recommender(algorithm).fit(catalog)
    with pytest.warns(UserWarning, match="2 of 12 queries are all-zero rows") as caught:
        _, similarities = recommender.recommend(queries)
    assert len([w for w in caught if "all-zero" in str(w.message)]) == 1
    assert_array_equal(similarities[[2, 5]], 0.0)
    assert np.isfinite(similarities).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recommender.recommend(queries[[0, 1]])  # no zero row, no warning


@pytest.mark.parametrize("algorithm", ["brute", "auto", "kd_tree", "ball_tree", "hnsw"])
def test_zero_catalog_items_rank_as_similarity_zero(algorithm):
    # A tree ranks by euclidean distance on unit rows; a zero row lies at
    # distance 1 from every unit query, as an item of cosine 0.5 does, and
    # must not displace the item of cosine 0.35.
    catalog = np.array([[1.0, 0.0, 0.0], [0.3, 0.95, 0.0], [0.0, 0.0, 0.0]])
    recommender = _recommender(algorithm, 2).fit(catalog)
    ids, similarities = recommender.recommend(np.array([[1.0, 0.05, 0.0]]))
    assert_array_equal(ids, [[0, 1]])
    assert_allclose(similarities, [[0.99875, 0.34838]], atol=1e-5)


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
def test_trees_take_sparse_queries_over_a_dense_catalog(catalog_and_queries, algorithm):
    catalog, queries = catalog_and_queries
    recommender = _recommender(algorithm).fit(catalog)
    assert_array_equal(
        recommender.predict(sp.csr_matrix(queries)),
        _recommender("brute").fit(catalog).predict(queries),
    )


def test_zero_catalog_items_never_match_perfectly():
    # Two empty items and one empty query: under cosine nothing is similar to
    # them, so they are not each other's perfect match.
    catalog = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.6, 0.8]])
    recommender = NearestNeighborRecommender(3).fit(catalog)
    ids, similarities = recommender.recommend(np.array([[1.0, 0.1]]))
    assert_array_equal(ids, [[1, 3, 0]])
    assert similarities[0, 2] == 0.0
    with pytest.warns(UserWarning, match="1 of 1 queries"):
        _, similarities = recommender.recommend_for_items([0])
    assert_array_equal(similarities, 0.0)


# -- the interface of the metrics


def test_label_ground_truth_is_what_the_metrics_take():
    rng = np.random.default_rng(3)
    catalog, labels = rng.normal(size=(40, 3)), np.arange(40) % 4
    recommender = NearestNeighborRecommender(6).fit(catalog, labels)
    truth = recommender.label_ground_truth(catalog, n_recommendations=3)
    assert truth.y_pred.shape == (40, 3)
    assert_array_equal(truth.y_true, labels)
    recommended, _ = recommender.recommend(catalog, 3, exclude_self=True)
    assert_array_equal(truth.y_pred, labels[recommended])
    assert_array_equal(truth.n_relevant, np.full(40, 9))  # 10 per label, minus the item
    recall = recall_at_k(truth.y_true, truth.y_pred, n_relevant=truth.n_relevant)
    hits = (truth.y_pred == labels[:, None]).sum(axis=1)
    assert recall == pytest.approx(np.mean(hits / 9))


def test_an_updated_catalog_round_trips_through_skops(catalog_and_queries, tmp_path):
    sio = pytest.importorskip("skops.io")
    from sk_prodembed import SKOPS_TRUSTED_TYPES

    catalog, queries = catalog_and_queries
    ids = np.array([f"sku{j}" for j in range(80)])
    recommender = NearestNeighborRecommender(4).fit(catalog[:70], np.arange(70) % 3,
                                                    item_ids=ids[:70])
    recommender.partial_fit(catalog[70:], np.arange(10) % 3, item_ids=ids[70:])
    recommender.remove_items(ids[:5])
    path = tmp_path / "recommender.skops"
    sio.dump(recommender, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(SKOPS_TRUSTED_TYPES)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
    assert_array_equal(loaded.predict(queries), recommender.predict(queries))
    # The id lookup survives too.
    assert_array_equal(loaded.recommend_for_items(["sku9"])[0],
                       recommender.recommend_for_items(["sku9"])[0])


def test_texts_with_no_known_word_match_nothing_through_tfidf():
    # TF-IDF maps a text with no vocabulary word to the zero row; it must come
    # back with similarity 0 and a warning, not as anyone's perfect match.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    texts = np.array(["red cotton shirt", "blue cotton shirt", "oak desk", "pine desk", ""])
    pipe = make_pipeline(TfidfVectorizer(), NearestNeighborRecommender(2)).fit(texts)
    with pytest.warns(UserWarning, match="2 of 3 queries are all-zero rows"):
        ids, similarities = pipe[-1].recommend(
            pipe[:-1].transform(["", "xyzzy qwerty", "cotton shirt"])
        )
    assert_array_equal(similarities[:2], 0.0)
    assert set(ids[2]) == {0, 1}
    # The empty catalog item (row 4) is similar to nothing, itself included.
    with pytest.warns(UserWarning, match="1 of 1 queries"):
        _, similarities = pipe[-1].recommend_for_items([4])
    assert_array_equal(similarities, 0.0)


def test_texts_with_no_known_word_match_nothing_through_a_text_pipeline():
    # The embedders map a row with no stored feature to the zero vector; the
    # recommender then gives it similarity 0 with everything and warns, instead
    # of returning arbitrary products as perfect matches.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    from sk_prodembed import MaskedAutoencoderEmbedder
    from sk_prodembed.datasets import make_product_catalog

    texts, labels = make_product_catalog(120, 3, noise=0.5, random_state=0)
    catalog_texts = np.r_[texts, ["", "zzzz"]]  # two catalog items with no known word
    pipe = make_pipeline(
        TfidfVectorizer(min_df=2),
        MaskedAutoencoderEmbedder(n_components=4, max_iter=2, random_state=0),
        NearestNeighborRecommender(3),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(catalog_texts, np.r_[labels, ["none", "none"]])
    embedded = pipe[:-1].transform(["", "xyzzy qwerty", texts[0]])
    with pytest.warns(UserWarning, match="2 of 3 queries are all-zero rows"):
        _, similarities = pipe[-1].recommend(embedded)
    assert_array_equal(similarities[:2], 0.0)
    assert similarities[2, 0] > 0.99  # a real text still finds itself
    # The two empty catalog items are not each other's perfect match.
    with pytest.warns(UserWarning, match="1 of 1 queries"):
        _, similarities = pipe[-1].recommend_for_items([len(texts)])
    assert_array_equal(similarities, 0.0)
