"""TripletEmbedder trained on pairs of rows: the API, the objective, the errors."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from _gradients import objective_gradient_error
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder
from sk_prodembed._contrastive import TripletObjective
from sk_prodembed._network import MLP
from sk_prodembed._pair_batches import pair_batches
from sk_prodembed._pair_metrics import make_pair_scorer, pair_ranking_score
from sk_prodembed._pair_objective import PairObjective
from sk_prodembed._proxies import initial_proxies
from sk_prodembed.pairs import PairSplit, RowPairs

N_GROUPS, GROUP_SIZE, N_NOISE_WORDS, N_ATTRIBUTE_WORDS = 60, 4, 30, 24


def _catalog(seed=0, dtype=np.float64):
    """Products (groups of 4 rows: the same product sold by 4 shops), each named
    by 3 of 24 attribute words (brand, model, size) of which a row shows 2,
    drowned in 4 louder noise words. The pairs are the rows of a group.

    Products share attribute words, so pairs of some products teach which
    words matter for the others."""
    rng = np.random.RandomState(seed)
    groups = np.repeat(np.arange(N_GROUPS), GROUP_SIZE)
    names = [rng.choice(N_ATTRIBUTE_WORDS, 3, replace=False) for _ in range(N_GROUPS)]
    X = np.zeros((len(groups), N_NOISE_WORDS + N_ATTRIBUTE_WORDS))
    for i, g in enumerate(groups):
        X[i, N_NOISE_WORDS + rng.choice(names[g], 2, replace=False)] = rng.uniform(0.4, 0.6, 2)
        X[i, rng.choice(N_NOISE_WORDS, 4, replace=False)] = rng.uniform(0.5, 1.5, 4)
    pairs = np.array(
        [(i, j) for i in range(len(X)) for j in range(i + 1, len(X)) if groups[i] == groups[j]]
    )
    return sp.csr_matrix(X, dtype=dtype), pairs, groups


def _small(**params):
    defaults = dict(n_components=16, pairs_per_batch=16, learning_rate_init=1e-2, max_iter=15,
                    random_state=0)
    return TripletEmbedder(**{**defaults, **params})


def _fit(model, X, y=None, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **fit_params)


def _clique(rows):
    """Every pair of ``rows``."""
    rows = list(rows)
    return np.array([(a, b) for i, a in enumerate(rows) for b in rows[i + 1 :]])


def _held_out(pairs, groups):
    """Training pairs of the first 45 groups; the last 15 are new products."""
    known = groups[pairs[:, 0]] < 45
    return pairs[known], pairs[~known]


# -- learning ------------------------------------------------------------------


def test_pairs_alone_learn_to_embed_new_products_near_their_partners():
    X, pairs, groups = _catalog()
    train_pairs, test_pairs = _held_out(pairs, groups)
    test_rows = np.unique(test_pairs)
    model = _fit(_small(), X, pairs=train_pairs)
    untrained = _fit(_small(max_iter=1, learning_rate_init=1e-9), X, pairs=train_pairs)
    trained = pair_ranking_score(model.transform(X), test_pairs, queries=test_rows, k=3)
    before = pair_ranking_score(untrained.transform(X), test_pairs, queries=test_rows, k=3)
    # The noise words dominate the raw rows; the pairs teach which words matter.
    raw = pair_ranking_score(X, test_pairs, queries=test_rows, k=3)
    assert trained > max(before, raw) + 0.1
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert len(model.classes_) == 0


def test_explicit_triples_learn_with_the_triplet_loss():
    X, pairs, groups = _catalog()
    rng = np.random.RandomState(0)
    negatives = rng.randint(len(groups), size=len(pairs))
    keep = groups[negatives] != groups[pairs[:, 0]]
    triples = np.column_stack([pairs, negatives])[keep]
    model = _fit(_small(), X, pairs=triples)
    E = model.transform(X)
    a, p, n = triples.T
    closer = np.einsum("ij,ij->i", E[a], E[p]) > np.einsum("ij,ij->i", E[a], E[n])
    raw = X.toarray()
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    raw_closer = np.einsum("ij,ij->i", raw[a], raw[p]) > np.einsum("ij,ij->i", raw[a], raw[n])
    assert closer.mean() > 0.95 > raw_closer.mean() + 0.1


def test_labels_and_pairs_train_one_objective():
    """With labels, each step adds the label objective's loss to the pair loss."""
    X, pairs, groups = _catalog()
    labels = np.where(groups < 6, groups % 3, -1)
    both = _fit(_small(max_iter=1, learning_rate_init=1e-9), X, labels, pairs=pairs)
    pairs_only = _fit(_small(max_iter=1, learning_rate_init=1e-9), X, pairs=pairs)
    assert both.loss_curve_[0] > pairs_only.loss_curve_[0] + 0.5
    np.testing.assert_array_equal(both.classes_, [0, 1, 2])
    # All rows -1: the masked-view (NT-Xent) term joins the pairs.
    unlabeled = _fit(_small(max_iter=1, learning_rate_init=1e-9), X, np.full(len(groups), -1),
                     pairs=pairs)
    assert unlabeled.loss_curve_[0] > pairs_only.loss_curve_[0] + 0.5
    assert len(unlabeled.classes_) == 0


@pytest.mark.parametrize("with_labels", [False, "triplet", "proxy"])
@pytest.mark.parametrize("width", [2, 3])
def test_pair_objective_gradient_matches_numerical_gradient(with_labels, width):
    X, pairs, groups = _catalog()
    X = X.toarray()
    rng = np.random.RandomState(0)
    if width == 3:
        pairs = np.column_stack([pairs, (pairs[:, 0] + GROUP_SIZE) % len(groups)])
    weights = rng.uniform(0.5, 2.0, len(pairs)) if width == 2 else None
    encoder = MLP.initialize([X.shape[1], 5, 4], "tanh", "tanh", np.float64, rng)
    labels = np.where(groups < 6, groups % 3, -1)
    label_objective = TripletObjective(
        # A low mask ratio: a view with every feature hidden would embed at the
        # origin, where the unit-length scaling is not differentiable.
        encoder, metric="cosine", miner="batch_all", margin=None, mask_ratio=0.2,
        corruption="zero", temperature=1.0, unlabeled_weight=1.0, alpha=1e-3,
        proxies=initial_proxies(3, 4, np.float64, rng) if with_labels == "proxy" else None,
        proxy_temperature=0.2,
    )
    objective = PairObjective(
        encoder, metric="cosine", temperature=0.3, margin=None, alpha=1e-3,
        label_objective=label_objective if with_labels else None,
    )

    def label_batches(rng):
        yield np.arange(0, len(groups), 2)

    batches = pair_batches(pairs, len(groups), 20, weights, label_batches if with_labels else None)
    indices, pair_batch = next(batches(np.random.RandomState(1)))

    class OneBatch:
        params = objective.params

        def prepare_batch(self, X_batch, y_batch, rng):
            return objective.prepare_batch(X_batch, y_batch, rng, pair_batch)

        def loss_and_gradient(self, batch):
            return objective.loss_and_gradient(batch)

    error, scale = objective_gradient_error(OneBatch(), X[indices], labels[indices])
    assert scale > 0 and error < 1e-5 * scale


def test_sparse_and_dense_input_and_float32():
    X, pairs, _ = _catalog()
    sparse = _fit(_small(solver="sgd", alpha=0.0), X, pairs=pairs)
    dense = _fit(_small(solver="sgd", alpha=0.0), X.toarray(), pairs=pairs)
    np.testing.assert_allclose(sparse.transform(X), dense.transform(X.toarray()), atol=1e-8)
    single = _fit(_small(), X.astype(np.float32), pairs=pairs)
    assert single.transform(X.astype(np.float32)).dtype == np.float32


def test_pair_weight_changes_the_fit_and_zero_weights_ignore_pairs():
    X, pairs, groups = _catalog()
    weights = np.where(groups[pairs[:, 0]] < 6, 1.0, 0.0)
    weighted = _fit(_small(max_iter=3), X, pairs=pairs, pair_weight=weights)
    kept = _fit(_small(max_iter=3), X, pairs=pairs[weights > 0])
    plain = _fit(_small(max_iter=3), X, pairs=pairs)
    assert not np.allclose(weighted.transform(X), plain.transform(X))
    # RowPairs carry their weights.
    from_row_pairs = _fit(_small(max_iter=3), X, pairs=RowPairs(pairs, X.shape[0], weights))
    np.testing.assert_allclose(from_row_pairs.transform(X), weighted.transform(X))
    assert kept.n_iter_ == weighted.n_iter_


def test_random_state_makes_pair_fits_repeatable():
    X, pairs, _ = _catalog()
    first = _fit(_small(max_iter=3), X, pairs=pairs).transform(X)
    second = _fit(_small(max_iter=3), X, pairs=pairs).transform(X)
    np.testing.assert_array_equal(first, second)


def test_partial_fit_with_pairs_continues():
    X, pairs, _ = _catalog()
    model = _small()
    model.partial_fit(X, pairs=pairs)
    first = model.transform(X)
    model.partial_fit(X, pairs=pairs[:10])
    assert model.n_iter_ == 2
    assert not np.allclose(first, model.transform(X))
    # Labels may arrive later, after a fit on pairs only.
    model.partial_fit(X, np.repeat(["a", "b"], X.shape[0] // 2))
    assert model.classes_.tolist() == ["a", "b"]


def test_encoder_init_fine_tunes_with_pairs_without_changing_the_autoencoder():
    X, pairs, groups = _catalog()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        autoencoder = MaskedAutoencoderEmbedder(n_components=16, max_iter=3, random_state=0).fit(X)
    saved = [W.copy() for W in autoencoder.encoder_.coefs]
    train_pairs, test_pairs = _held_out(pairs, groups)
    model = _fit(_small(encoder_init=autoencoder), X, pairs=train_pairs)
    for W, W0 in zip(autoencoder.encoder_.coefs, saved):
        np.testing.assert_array_equal(W, W0)
    start = _fit(_small(encoder_init=autoencoder, max_iter=1, learning_rate_init=1e-9), X,
                 pairs=train_pairs)
    # The single layer is the embedding layer, scaled by encoder_init_scale;
    # an epoch of 17 Adam steps of 1e-9 moves a weight by at most 1.7e-8.
    np.testing.assert_allclose(
        start.encoder_.coefs[0], 0.1 * autoencoder.encoder_.coefs[0], rtol=0, atol=2e-8
    )
    test_rows = np.unique(test_pairs)
    assert pair_ranking_score(model.transform(X), test_pairs, queries=test_rows, k=3) > (
        pair_ranking_score(autoencoder.transform(X), test_pairs, queries=test_rows, k=3)
    )


def test_a_fit_on_pairs_only_starts_at_random_whatever_encoder_init():
    # Without labels there is no class to regress onto.
    X, pairs, _ = _catalog()
    by_ridge = _fit(_small(encoder_init="ridge", max_iter=2), X, pairs=pairs)
    at_random = _fit(_small(encoder_init="random", max_iter=2), X, pairs=pairs)
    np.testing.assert_array_equal(by_ridge.encoder_.coefs[0], at_random.encoder_.coefs[0])


# -- errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "fit_params, message",
    [
        (
            dict(pairs=np.array([[0, 240]])),
            r"pairs\[0, 1\] = 240 is not a row index of X, which has 240",
        ),
        (dict(pairs=np.array([[0, 1], [-1, 2]])), r"pairs\[1, 0\] = -1 is not a row index"),
        (dict(pairs=np.array([[0.5, 1.0]])), "pairs must hold integer row indices"),
        (dict(pairs=np.array([0, 1])), r"pairs must have shape \(n_pairs, 2\)"),
        (dict(pairs=np.zeros((2, 4), dtype=int)), r"pairs must have shape \(n_pairs, 2\)"),
        (dict(pairs=np.array([[3, 3]])), r"pairs\[0\] = \[3, 3\] pairs a row with itself"),
        (dict(pairs=np.array([[1, 2, 1]])), "pairs a row with itself"),
        (dict(pairs=np.zeros((0, 2), dtype=int)), "pairs is empty"),
        (dict(pairs=np.array([[0, 1]]), pair_weight=[0.0]), "zero for every pair"),
        (
            dict(pairs=np.array([[0, 1]]), pair_weight=[1.0, 2.0]),
            r"pair_weight must have shape \(1,\)",
        ),
        (dict(pairs=np.array([[0, 1]]), pair_weight=[-1.0]), "finite and non-negative"),
        (dict(pairs=np.array([[0, 1]]), pair_weight=[np.nan]), "finite and non-negative"),
        (dict(pairs=np.array([[0, 1, 2]]), pair_weight=[1.0]), "triples are trained unweighted"),
        (dict(pair_weight=[1.0]), "pair_weight was given without pairs"),
        (dict(), "requires y to be passed, but the target y is None, and no pairs"),
        (dict(pairs=RowPairs([[0, 1]], 10)), "RowPairs of 10 rows but X has 240 rows"),
        (dict(pairs=RowPairs([[0, 1]], 240, [1.0]), pair_weight=[2.0]), "in one place"),
        # Every row paired with every other: no batch has a negative.
        (dict(pairs=np.array([[0, 1]])), "each of their 2 rows with every other"),
        (dict(pairs=_clique(range(5))), "each of their 5 rows with every other"),
    ],
)
def test_bad_pairs_are_clear_errors_and_leave_a_fitted_model_unchanged(fit_params, message):
    X, pairs, _ = _catalog()
    model = _fit(_small(max_iter=2), X, pairs=pairs)
    before = pickle.dumps(model)
    with pytest.raises(ValueError, match=message):
        model.fit(X, **fit_params)
    assert pickle.dumps(model) == before
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X, **fit_params)
    assert pickle.dumps(model) == before


def test_pairs_with_negatives_train_and_complete_ones_beside_labels_warn():
    X, _, y = _catalog()
    # Two cliques: each row has the other clique's rows as negatives.
    two_cliques = np.vstack([_clique(range(5)), _clique(range(5, 10))])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _fit(_small(max_iter=2), X, pairs=two_cliques)
    with pytest.warns(UserWarning, match="Only the labels train this fit"):
        model = _fit(_small(max_iter=2), X, y, pairs=_clique(range(5)))
    assert np.isfinite(model.transform(X)).all()


def test_early_stopping_with_pairs_is_a_clear_error():
    X, pairs, _ = _catalog()
    with pytest.raises(ValueError, match="early_stopping=True is not available with pairs"):
        _small(early_stopping=True).fit(X, pairs=pairs)


# -- pipelines and model selection ---------------------------------------------


def _texts():
    """The titles of :func:`_catalog`'s rows: two attribute words of the product
    among four filler words, with the pairs of rows of the same product."""
    rng = np.random.RandomState(0)
    _, pairs, groups = _catalog()
    names = [rng.choice(N_ATTRIBUTE_WORDS, 3, replace=False) for _ in range(N_GROUPS)]
    texts = [
        " ".join(
            [f"attribute{w}" for w in rng.choice(names[g], 2, replace=False)]
            + [f"filler{w}" for w in rng.choice(N_NOISE_WORDS, 4, replace=False)]
        )
        for g in groups
    ]
    return np.array(texts), pairs


def test_pipeline_passes_pairs_to_the_embedder():
    texts, pairs = _texts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(TfidfVectorizer(), _small(max_iter=2))
        pipe.fit(texts, tripletembedder__pairs=pairs)
    assert pipe.transform(texts).shape == (len(texts), 16)
    assert pipe[-1].n_iter_ == 2


def test_metadata_routing_requests_pairs():
    texts, pairs = _texts()
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(
            TfidfVectorizer(), _small(max_iter=2).set_fit_request(pairs=True, pair_weight=True)
        )
        pipe.fit(texts, pairs=pairs, pair_weight=np.ones(len(pairs)))
        assert pipe[-1].n_iter_ == 2
        unrequested = make_pipeline(TfidfVectorizer(), _small(max_iter=2))
        with pytest.raises(Exception, match="pairs"):
            unrequested.fit(texts, pairs=pairs)


def test_grid_search_tunes_a_pair_pipeline_on_held_out_items():
    texts, pairs = _texts()
    row_pairs = RowPairs(pairs, len(texts))
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(TfidfVectorizer(), _small().set_fit_request(pairs=True))
        search = GridSearchCV(
            pipe,
            {"tripletembedder__learning_rate_init": [1e-9, 1e-2]},
            cv=PairSplit(row_pairs, n_splits=3, random_state=0),
            scoring=make_pair_scorer("recall", k=2),
        )
        search.fit(texts, pairs=row_pairs)
    scores = search.cv_results_["mean_test_score"]
    # Training on the folds' own pairs finds the model numbers; an untrained
    # encoder (learning rate 1e-9) does not.
    assert search.best_params_ == {"tripletembedder__learning_rate_init": 1e-2}
    assert scores[1] > scores[0] + 0.1


def test_score_with_pairs_as_the_target_is_their_recall():
    # GridSearchCV(cv=PairSplit) with y a RowPairs and no scoring= calls
    # estimator.score(X_test, row_pairs[test]).
    X, pairs, _ = _catalog()
    row_pairs = RowPairs(pairs, X.shape[0])
    model = _fit(_small(), X, row_pairs)
    assert model.score(X, row_pairs) == pair_ranking_score(model.transform(X), pairs, k=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(_small(), {"learning_rate_init": [1e-9, 1e-2]},
                              cv=PairSplit(row_pairs, n_splits=3, random_state=0))
        search.fit(X, row_pairs)
    assert search.best_params_ == {"learning_rate_init": 1e-2}
    with pytest.raises(ValueError, match="RowPairs of 3 rows, but X has"):
        model.score(X, RowPairs(np.array([[0, 1]]), 3))


def test_popularity_correction_uses_the_log_degree_of_each_candidate():
    from sk_prodembed._contrastive import l2_normalize
    from sk_prodembed._pair_losses import multiple_negatives_ranking_loss

    X, pairs, _ = _catalog()
    X = X.toarray()
    # A popular row: row 0 paired with 20 others besides its group.
    pairs = np.vstack([pairs, [(0, j) for j in range(100, 120)]])
    rng = np.random.RandomState(0)
    encoder = MLP.initialize([X.shape[1], 4], "tanh", "tanh", np.float64, rng)
    objective = PairObjective(
        encoder, metric="cosine", temperature=0.3, margin=None, alpha=0.0,
        popularity_correction=True,
    )
    indices, pair_batch = next(pair_batches(pairs, len(X), 64)(np.random.RandomState(0)))
    degrees = np.bincount(pairs.ravel(), minlength=len(X))[indices]
    assert degrees.max() > 3 * degrees.min()
    batch = objective.prepare_batch(X[indices], None, rng, pair_batch)
    loss, _ = objective.loss_and_gradient(batch)
    E = l2_normalize(encoder.predict(X[indices]))[0]
    expected, _ = multiple_negatives_ranking_loss(
        E, pair_batch.anchors, pair_batch.positives, temperature=0.3,
        partners=pair_batch.partners, log_prior=np.log(degrees),
    )
    assert loss == pytest.approx(expected)
    plain = _fit(_small(max_iter=2), X, pairs=pairs).transform(X)
    corrected = _fit(_small(max_iter=2, pair_popularity_correction=True), X, pairs=pairs)
    assert not np.allclose(plain, corrected.transform(X))


def test_pairs_with_the_proxy_loss_on_labels():
    X, pairs, groups = _catalog()
    labels = np.where(groups < 30, groups % 5, -1)
    model = _fit(_small(loss="proxy", max_iter=3), X, labels, pairs=pairs)
    assert model.proxies_.shape == (5, 16)
    untrained = _fit(
        _small(loss="proxy", max_iter=1, learning_rate_init=1e-9), X, labels, pairs=pairs
    )
    assert not np.allclose(model.proxies_, untrained.proxies_, atol=1e-4)
    # Pairs alone with loss="proxy": no class, no proxy to learn.
    alone = _fit(_small(loss="proxy", max_iter=2), X, pairs=pairs)
    assert alone.proxies_.shape == (0, 16)


def test_row_pairs_as_the_target_tune_without_metadata_routing():
    texts, pairs = _texts()
    row_pairs = RowPairs(pairs, len(texts))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(
            make_pipeline(TfidfVectorizer(), _small()),
            {"tripletembedder__learning_rate_init": [1e-9, 1e-2]},
            cv=PairSplit(row_pairs, n_splits=3, random_state=0),
            scoring=make_pair_scorer("recall", k=2),
        )
        search.fit(texts, row_pairs)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"tripletembedder__learning_rate_init": 1e-2}
    assert scores[1] > scores[0] + 0.1
    with pytest.raises(ValueError, match="give the pairs once"):
        _small().fit(texts[:5], RowPairs([[0, 1]], 5), pairs=[[0, 1]])
