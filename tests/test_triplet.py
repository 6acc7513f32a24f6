import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV

from sk_prodembed import MaskedAutoencoderEmbedder
from sk_prodembed._contrastive import leave_one_out_precision
from sk_prodembed._triplet import TripletEmbedder

N_NOISE_WORDS, WORDS_PER_CLASS = 40, 8


def _catalog(n_per_class=30, n_classes=5, seed=0, dtype=np.float64):
    """Sparse rows of 2 words of their class's vocabulary drowned in 4 shared noise words.

    The class vocabularies are the same for every seed, so rows drawn with
    another seed are held-out rows of the same catalog.
    """
    rng = np.random.RandomState(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    X = sp.lil_matrix((len(labels), N_NOISE_WORDS + n_classes * WORDS_PER_CLASS))
    for i, c in enumerate(labels):
        first_word = N_NOISE_WORDS + c * WORDS_PER_CLASS
        X[i, first_word + rng.choice(WORDS_PER_CLASS, 2, replace=False)] = rng.uniform(0.5, 1.0, 2)
        X[i, rng.choice(N_NOISE_WORDS, 4, replace=False)] = rng.uniform(0.5, 1.5, 4)
    return X.tocsr().astype(dtype), labels


def _fit(estimator, X, y, method="fit", **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(estimator, method)(X, y, **fit_params)


def _small(**params):
    # The triplet loss unless a test says otherwise: loss="auto" would pick the
    # proxy loss for these classes of 30 rows (its tests are below).
    defaults = dict(
        n_components=8, classes_per_batch=5, samples_per_class=4, learning_rate_init=1e-2,
        max_iter=10, random_state=0, loss="triplet",
    )
    return TripletEmbedder(**{**defaults, **params})


def test_learns_an_embedding_better_than_the_raw_input_on_held_out_rows():
    X, y = _catalog(seed=0)
    X_test, y_test = _catalog(seed=1)
    model = _fit(_small(max_iter=30), X, y)
    raw = leave_one_out_precision(X_test.toarray(), y_test, "cosine")
    learned = model.score(X_test, y_test)
    assert learned > raw + 0.2, (raw, learned)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("miner", ["batch_hard", "semi_hard", "batch_all"])
@pytest.mark.parametrize("margin", ["auto", "soft"])
def test_every_miner_metric_and_margin_learns(metric, miner, margin):
    X, y = _catalog(seed=0)
    model = _fit(_small(metric=metric, miner=miner, margin=margin, max_iter=15), X, y)
    assert model.score(X, y) > leave_one_out_precision(X.toarray(), y, "cosine") + 0.2
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_string_labels_and_object_labels_with_unlabeled_rows():
    X, y = _catalog()
    names = np.array(["bread", "cheese", "fruit", "soap", "tea"])[y]
    model = _fit(_small(), X, names)
    np.testing.assert_array_equal(model.classes_, np.unique(names))
    assert model.score(X, names) > 0.5

    partly = names.astype(object)
    partly[::3] = -1
    model = _fit(_small(), X, partly)
    np.testing.assert_array_equal(model.classes_, np.unique(names))


def test_string_minus_one_is_rejected_as_ambiguous():
    X, y = _catalog()
    names = np.array(["bread", "cheese", "fruit", "soap", "tea"])[y]
    names[0] = "-1"
    with pytest.raises(ValueError, match="dtype=object"):
        _small().fit(X, names)


@pytest.mark.parametrize("unlabeled", [False, True])
def test_sparse_and_dense_input_give_the_same_embedding(unlabeled):
    # Sparse input trains with lazy updates, which equal dense ones exactly
    # for SGD without an L2 penalty (Adam's catch-up is approximate and the
    # lazy penalty only reaches the touched rows: see the next test).
    X, y = _catalog()
    if unlabeled:
        y = y.copy()
        y[::3] = -1
    params = dict(max_iter=3, solver="sgd", alpha=0.0)
    sparse_model = _fit(_small(**params), X, y)
    dense_model = _fit(_small(**params), X.toarray(), y)
    np.testing.assert_allclose(
        sparse_model.transform(X), dense_model.transform(X.toarray()), atol=1e-6
    )


def test_sparse_input_updates_only_the_rows_of_stored_features():
    X, y = _catalog()
    absent = np.arange(X.shape[1], X.shape[1] + 5)
    X = sp.hstack([X, sp.csr_matrix((X.shape[0], absent.shape[0]))]).tocsr()
    initial = _fit(_small(max_iter=1), X, y).encoder_.coefs[0].copy()
    # One epoch is enough for the first fit; ten more for the comparison.
    sparse_model = _fit(_small(max_iter=10, alpha=0.1), X, y)
    dense_model = _fit(_small(max_iter=10, alpha=0.1), X.toarray(), y)
    # Rows of features that no row stores get no gradient: lazily updated,
    # they are never touched, L2 penalty included; dense updates shrink them.
    np.testing.assert_array_equal(sparse_model.encoder_.coefs[0][absent], initial[absent])
    dense_rows = dense_model.encoder_.coefs[0][absent]
    assert np.abs(dense_rows).sum() < np.abs(initial[absent]).sum()
    present = np.setdiff1d(np.arange(X.shape[1]), absent)
    assert not np.allclose(sparse_model.encoder_.coefs[0][present], initial[present])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    X, y = _catalog(dtype=dtype)
    y = y.copy()
    y[::4] = -1  # the self-supervised term too
    model = _fit(_small(max_iter=2), X, y)
    assert all(W.dtype == dtype for W in model.encoder_.params)
    assert model.transform(X).dtype == dtype


def test_random_state_makes_fit_repeatable():
    X, y = _catalog()
    y = y.copy()
    y[::4] = -1
    first = _fit(_small(max_iter=3, early_stopping=True), X, y).transform(X)
    second = _fit(_small(max_iter=3, early_stopping=True), X, y).transform(X)
    np.testing.assert_array_equal(first, second)
    third = _fit(_small(max_iter=3, early_stopping=True, random_state=1), X, y).transform(X)
    assert not np.allclose(first, third)


def test_cosine_embedding_has_unit_rows():
    X, y = _catalog()
    model = _fit(_small(max_iter=2), X, y)
    np.testing.assert_allclose(np.linalg.norm(model.transform(X), axis=1), 1, rtol=1e-6)
    euclidean = _fit(_small(max_iter=2, metric="euclidean"), X, y)
    assert not np.allclose(np.linalg.norm(euclidean.transform(X), axis=1), 1)


def test_partial_fit_continues_and_accepts_new_labels():
    X, y = _catalog()
    model = _small()
    model.partial_fit(X[y < 3], y[y < 3])
    assert model.n_iter_ == 1
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])
    weights = model.encoder_.coefs[0].copy()
    model.partial_fit(X, y)
    assert model.n_iter_ == 2 and len(model.loss_curve_) == 2
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3, 4])
    assert not np.allclose(weights, model.encoder_.coefs[0])


def test_partial_fit_matches_fit_epoch_by_epoch():
    X, y = _catalog()
    fitted = _fit(_small(max_iter=3, tol=0), X, y)
    stepped = _small()
    for _ in range(3):
        stepped.partial_fit(X, y)
    np.testing.assert_allclose(fitted.transform(X), stepped.transform(X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", ["triplet", "proxy"])
def test_the_ridge_start_and_proxies_never_see_the_held_out_rows(monkeypatch, loss):
    import sk_prodembed._base as base

    seen = {}

    def recording_split(*args, **kwargs):
        split = base_split(*args, **kwargs)
        seen["val"] = split[1]
        return split

    def recording_init(self, X, y, rng):
        seen["init"] = X
        return init(self, X, y, rng)

    base_split, init = base.split_validation, TripletEmbedder._initialize_networks
    monkeypatch.setattr(base, "split_validation", recording_split)
    monkeypatch.setattr(TripletEmbedder, "_initialize_networks", recording_init)
    X, y = _catalog()
    X = sp.csr_matrix(X)
    X.data += np.arange(X.nnz) * 1e-6  # every row distinct
    _fit(_small(early_stopping=True, validation_fraction=0.2, loss=loss), X, y)
    init_rows = {tuple(row) for row in seen["init"].toarray()}
    val_rows = {tuple(row) for row in seen["val"].toarray()}
    assert len(init_rows) == X.shape[0] - seen["val"].shape[0]
    assert not init_rows & val_rows


def test_early_stopping_records_validation_precision_and_restores_the_best(monkeypatch):
    import sk_prodembed._base as base

    held_out = {}

    def recording_split(*args, **kwargs):
        split = base_split(*args, **kwargs)
        held_out["X"], held_out["y"] = split[1], split[3]
        return split

    base_split = base.split_validation
    monkeypatch.setattr(base, "split_validation", recording_split)
    X, y = _catalog()
    params = dict(
        early_stopping=True, validation_fraction=0.3, max_iter=12, n_iter_no_change=2,
        learning_rate_init=1.0, tol=0, random_state=1,  # a step this large overshoots
    )
    model = _fit(_small(**params), X, y)
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_
    assert all(0 <= s <= 1 for s in scores)
    assert model.best_validation_score_ == max(scores)
    # The last epoch was not the best, and the model has the best one's weights.
    assert scores[-1] < max(scores)
    E = model.transform(held_out["X"])
    assert leave_one_out_precision(E, held_out["y"], "cosine") == pytest.approx(max(scores))


def test_fully_unlabeled_fit_is_self_supervised():
    X, _ = _catalog()
    unlabeled = np.full(X.shape[0], -1)
    model = _fit(_small(max_iter=20, tol=0, n_iter_no_change=20), X, unlabeled)
    assert model.classes_.size == 0
    curve = model.loss_curve_
    assert np.mean(curve[-3:]) < np.mean(curve[:3]) - 0.05  # NT-Xent goes down
    stopped = _fit(_small(max_iter=3, early_stopping=True), X, unlabeled)
    assert all(s < 0 for s in stopped.validation_scores_)  # minus the NT-Xent loss


def test_semi_supervised_fit_learns_from_its_few_labels():
    X, y = _catalog(seed=0)
    X_test, y_test = _catalog(seed=1)
    partly = y.copy()
    partly[np.arange(len(y)) % 5 != 0] = -1  # 20% labeled
    model = _fit(_small(max_iter=50, tol=0), X, partly)
    raw = leave_one_out_precision(X_test.toarray(), y_test, "cosine")
    assert model.score(X_test, y_test) > raw + 0.1


def _autoencoder(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        autoencoder = MaskedAutoencoderEmbedder(n_components=8, max_iter=3, random_state=0)
        return autoencoder.set_params(**params).fit(X)


@pytest.mark.parametrize("loss", ["triplet", "proxy"])
def test_ridge_start_classifies_held_out_rows_before_training(loss):
    X, y = _catalog(seed=0)
    X_test, y_test = _catalog(seed=1)
    untrained = dict(learning_rate_init=1e-12, max_iter=1, loss=loss)
    by_ridge = _fit(_small(encoder_init="ridge", **untrained), X, y)
    at_random = _fit(_small(encoder_init="random", **untrained), X, y)
    raw = leave_one_out_precision(X_test.toarray(), y_test, "cosine")
    assert by_ridge.score(X_test, y_test) > raw + 0.3
    assert by_ridge.score(X_test, y_test) > at_random.score(X_test, y_test) + 0.3


def test_ridge_start_puts_each_proxy_at_its_class_mean_embedding():
    X, y = _catalog()
    model = _fit(_small(loss="proxy", learning_rate_init=1e-12, max_iter=1), X, y)
    E = model.transform(X)
    means = np.array([E[y == c].mean(axis=0) for c in model.classes_])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    np.testing.assert_allclose(model.proxies_, means, atol=1e-6)


def test_ridge_start_ignores_unlabeled_rows():
    X, y = _catalog()
    partly = y.copy()
    partly[::4] = -1
    untrained = dict(learning_rate_init=1e-12, max_iter=1, unlabeled_weight=1.0)
    with_unlabeled = _fit(_small(**untrained), X, partly)
    labeled = partly >= 0
    only_labeled = _fit(_small(**untrained), X[labeled], partly[labeled])
    np.testing.assert_allclose(
        with_unlabeled.encoder_.coefs[0][:, :5], only_labeled.encoder_.coefs[0][:, :5], atol=1e-9
    )


def test_auto_learning_rate_is_smaller_from_the_ridge_start_with_labeled_rows():
    X, y = _catalog()
    one_step = dict(max_iter=1, learning_rate_init="auto")

    def rate(model, labels):
        return _fit(model, X, labels)._optimizer.learning_rate

    assert rate(_small(**one_step), y) == pytest.approx(3e-4)
    assert rate(_small(encoder_init="random", **one_step), y) == pytest.approx(3e-3)
    assert rate(_small(max_iter=1, learning_rate_init=0.05), y) == 0.05
    # Unlabeled rows move it towards 3e-3, geometrically in the labeled fraction.
    partly = y.copy()
    partly[::2] = -1
    assert rate(_small(**one_step), partly) == pytest.approx(np.sqrt(3e-4 * 3e-3))


def test_default_fit_refines_the_ridge_start_without_undoing_it():
    # The ridge start already classifies; the default fit must end above it.
    X, y = _catalog(n_per_class=20, n_classes=8, seed=0)
    X_test, y_test = _catalog(n_per_class=20, n_classes=8, seed=1)
    start = _fit(TripletEmbedder(8, max_iter=1, learning_rate_init=1e-12, random_state=0), X, y)
    trained = _fit(TripletEmbedder(8, random_state=0), X, y)
    assert trained.score(X_test, y_test) >= start.score(X_test, y_test)


def test_encoder_init_starts_from_the_autoencoder_without_changing_it():
    X, y = _catalog()
    autoencoder = _autoencoder(X)
    before = [W.copy() for W in autoencoder.encoder_.params]
    tiny_step = dict(learning_rate_init=1e-12, max_iter=1)
    unscaled = _fit(_small(encoder_init=autoencoder, encoder_init_scale=1.0, **tiny_step), X, y)
    for W, W0 in zip(unscaled.encoder_.params, before):
        np.testing.assert_allclose(W, W0, atol=1e-9)
    tuned = _fit(_small(encoder_init=autoencoder, max_iter=5), X, y)
    assert not np.allclose(tuned.encoder_.coefs[0], 0.1 * before[0])
    for W, W0 in zip(autoencoder.encoder_.params, before):
        np.testing.assert_array_equal(W, W0)
    assert tuned.encoder_.coefs[0] is not autoencoder.encoder_.coefs[0]


def test_encoder_init_scale_shrinks_the_embedding_layer_and_keeps_its_directions():
    X, y = _catalog()
    autoencoder = _autoencoder(X, hidden_layer_sizes=(6,))
    hidden_before, last_before = autoencoder.encoder_.coefs
    params = dict(hidden_layer_sizes=(6,), learning_rate_init=1e-12, max_iter=1)
    scaled = _fit(_small(encoder_init=autoencoder, **params), X, y)
    hidden, last = scaled.encoder_.coefs
    np.testing.assert_allclose(hidden, hidden_before, atol=1e-9)  # hidden layers as they were
    np.testing.assert_allclose(last, 0.1 * last_before, atol=1e-9)
    np.testing.assert_allclose(
        scaled.encoder_.intercepts[-1], 0.1 * autoencoder.encoder_.intercepts[-1], atol=1e-9
    )
    original = autoencoder.transform(X)
    original /= np.linalg.norm(original, axis=1, keepdims=True)
    cosines = np.sum(original * scaled.transform(X), axis=1)
    assert cosines.min() > 0.95


def test_encoder_init_from_a_linear_embedding_takes_this_models_activation():
    X, y = _catalog()
    autoencoder = _autoencoder(X)
    assert autoencoder.encoder_.output_activation == "identity"  # the default "auto"
    tiny_step = dict(learning_rate_init=1e-12, max_iter=1)
    start = _fit(_small(encoder_init=autoencoder, **tiny_step), X, y)
    assert start.encoder_.output_activation == "tanh"
    expected = np.tanh(0.1 * autoencoder.transform(X))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)  # transform's unit rows
    np.testing.assert_allclose(start.transform(X), expected, atol=1e-8)


def test_encoder_init_keeps_the_input_scale_its_weights_were_trained_for():
    X, y = _catalog()
    X = X * 1e-5
    autoencoder = _autoencoder(X)
    assert autoencoder.input_scale_ > 1e4
    tiny_step = dict(learning_rate_init=1e-12, max_iter=1)
    start = _fit(_small(encoder_init=autoencoder, **tiny_step), X, y)
    assert start.input_scale_ == autoencoder.input_scale_
    expected = np.tanh(0.1 * autoencoder.transform(X))  # as in the test above
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(start.transform(X), expected, atol=1e-8)


def test_encoder_init_whose_input_scale_the_dtype_cannot_hold_is_a_clear_error():
    X, y = _catalog()
    autoencoder = _autoencoder(X * 1e-42)  # float64: its input_scale_ is beyond float32's
    with pytest.raises(ValueError, match="float32 cannot hold"):
        _small(encoder_init=autoencoder).fit((X * 1e-42).astype(np.float32), y)


def test_encoder_init_is_cast_to_the_input_dtype():
    X, y = _catalog()
    autoencoder = _autoencoder(X)
    model = _fit(_small(encoder_init=autoencoder, max_iter=1), X.astype(np.float32), y)
    assert model.encoder_.dtype == np.float32
    assert autoencoder.encoder_.dtype == np.float64


@pytest.mark.parametrize(
    "autoencoder_params, triplet_params, fit_columns",
    [
        (dict(n_components=4), {}, None),  # embedding width
        (dict(hidden_layer_sizes=(6,)), {}, None),  # depth
        (dict(hidden_layer_sizes=(6,)), dict(hidden_layer_sizes=(6,), activation="relu"), None),
        ({}, {}, slice(0, 50)),  # input width
    ],
)
def test_encoder_init_with_another_shape_is_a_clear_error(
    autoencoder_params, triplet_params, fit_columns
):
    X, y = _catalog()
    params = {"n_components": 8, **autoencoder_params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        autoencoder = MaskedAutoencoderEmbedder(max_iter=1, random_state=0, **params).fit(X)
    X_fit = X if fit_columns is None else X[:, fit_columns]
    model = _small(encoder_init=autoencoder, **triplet_params)
    message = r"encoder_init has an encoder of layer sizes \[.*needs layer sizes \["
    with pytest.raises(ValueError, match=message):
        model.fit(X_fit, y)
    assert not hasattr(model, "encoder_")


def test_encoder_init_fitted_on_other_columns_is_a_clear_error():
    # Same width, columns in another order: the weights would read the wrong words.
    pd = pytest.importorskip("pandas")
    X, y = _catalog()
    frame = pd.DataFrame(X.toarray() if sp.issparse(X) else X,
                         columns=[f"w{i}" for i in range(X.shape[1])])
    autoencoder = _autoencoder(frame)
    with pytest.raises(ValueError, match="columns named differently, or in another order"):
        _small(encoder_init=autoencoder).fit(frame[frame.columns[::-1]], y)
    _fit(_small(encoder_init=autoencoder), frame, y)  # the same columns fit


def test_encoder_init_must_be_fitted():
    X, y = _catalog()
    with pytest.raises(NotFittedError):
        _small(encoder_init=MaskedAutoencoderEmbedder(n_components=8)).fit(X, y)


def test_zero_unlabeled_weight_trains_as_the_labeled_rows_alone():
    X, y = _catalog()
    partly = y.copy()
    partly[::3] = -1
    labeled = partly >= 0
    for init in ("ridge", "random", _autoencoder(X)):
        ignoring = _fit(_small(encoder_init=init, unlabeled_weight=0.0), X, partly)
        alone = _fit(_small(encoder_init=init), X[labeled], partly[labeled])
        np.testing.assert_array_equal(ignoring.transform(X), alone.transform(X))
        assert ignoring.unlabeled_weight_ == 0.0
        assert ignoring.n_iter_ == alone.n_iter_ and ignoring.t_ == alone.t_
    # With a weight, the unlabeled rows train the self-supervised term.
    weighted = _fit(_small(unlabeled_weight=1.0), X, partly)
    assert not np.array_equal(weighted.transform(X), alone.transform(X))


def test_auto_unlabeled_weight_leaves_the_unlabeled_rows_out_from_a_pretrained_encoder():
    X, y = _catalog()
    partly = y.copy()
    partly[::3] = -1
    autoencoder = _autoencoder(X)
    auto = _fit(_small(encoder_init=autoencoder), X, partly)
    assert auto.unlabeled_weight_ == 0.0
    explicit = _fit(_small(encoder_init=autoencoder, unlabeled_weight=0.0), X, partly)
    np.testing.assert_array_equal(auto.transform(X), explicit.transform(X))
    # From the ridge or the random start, the unlabeled rows keep their term.
    for init in ("ridge", "random"):
        model = _fit(_small(encoder_init=init), X, partly)
        assert model.unlabeled_weight_ == 1.0
        weighted = _fit(_small(encoder_init=init, unlabeled_weight=1.0), X, partly)
        np.testing.assert_array_equal(model.transform(X), weighted.transform(X))
    # Nothing but unlabeled rows: the self-supervised fine-tune, as before.
    unlabeled = np.full(X.shape[0], -1)
    assert _fit(_small(encoder_init=autoencoder), X, unlabeled).unlabeled_weight_ == 1.0
    # Pairs are supervision too.
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    with_pairs = _fit(_small(encoder_init=autoencoder, max_iter=1), X, partly, pairs=pairs)
    assert with_pairs.unlabeled_weight_ == 0.0


def test_zero_unlabeled_weight_without_labeled_rows_is_a_clear_error():
    X, _ = _catalog()
    model = _small(unlabeled_weight=0.0)
    with pytest.raises(ValueError, match="unlabeled_weight=0 leaves the unlabeled rows out"):
        model.fit(X, np.full(X.shape[0], -1))
    assert not hasattr(model, "encoder_")


def test_partial_fit_with_zero_unlabeled_weight_skips_the_unlabeled_rows_of_each_chunk():
    X, y = _catalog()
    partly = y.copy()
    partly[::3] = -1
    order = np.random.RandomState(0).permutation(X.shape[0])
    chunks = np.array_split(order, 3)
    ignoring, alone = _small(unlabeled_weight=0.0), _small()
    for rows in chunks:
        keep = rows[partly[rows] >= 0]
        _fit(ignoring, X[rows], partly[rows], method="partial_fit")
        _fit(alone, X[keep], partly[keep], method="partial_fit")
    np.testing.assert_array_equal(ignoring.transform(X), alone.transform(X))


def test_clone_keeps_the_fitted_encoder_init():
    X, y = _catalog()
    autoencoder = _autoencoder(X)
    model = _small(encoder_init=autoencoder)
    assert clone(model).encoder_init is autoencoder
    search = GridSearchCV(model, {"margin": [0.1, 0.3]}, cv=2)
    _fit(search, X, y)
    assert search.best_estimator_.encoder_init is autoencoder


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.zeros(150, dtype=int), "at least two classes"),
        (np.r_[np.zeros(149, dtype=int), -1], "at least two classes"),
        (np.arange(150), "single row"),
        (np.r_[0.0, 1.0, np.nan, np.ones(147)], "missing label"),
        (np.array(["a", None] + ["b"] * 148, dtype=object), "missing label"),
        (np.r_[0, 1] * 74, "inconsistent numbers of samples"),
        (np.linspace(0, 1, 150), "Unknown label type"),
    ],
)
def test_unusable_labels_are_clear_errors(labels, message):
    X, _ = _catalog()
    with pytest.raises(ValueError, match=message):
        _small().fit(X, labels)


def test_singleton_classes_are_fine_with_unlabeled_rows():
    # Ten classes of one row each have no positive pair: they serve as
    # negatives only, and the fit learns through the self-supervised term.
    X, _ = _catalog()
    labels = np.r_[np.arange(10), np.full(140, -1)]
    # One step an epoch: the mean of the last five epochs' losses against the
    # first five's (single steps differ by their random masks).
    model = _fit(_small(max_iter=30, tol=0, learning_rate_init=3e-2), X, labels)
    np.testing.assert_array_equal(model.classes_, np.arange(10))
    assert all(np.isfinite(loss) and loss > 0 for loss in model.loss_curve_)
    assert np.mean(model.loss_curve_[-5:]) < np.mean(model.loss_curve_[:5]) - 0.05
    Z = model.transform(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1, rtol=1e-6)


def test_score_is_leave_one_out_precision_at_10_ignoring_unlabeled_rows():
    X, y = _catalog()
    model = _fit(_small(max_iter=3), X, y)
    Z = model.transform(X)
    similarities = Z @ Z.T
    np.fill_diagonal(similarities, -np.inf)
    nearest = np.argsort(-similarities, axis=1)[:, :10]
    expected = np.mean(y[nearest] == y[:, None])
    assert model.score(X, y) == pytest.approx(expected)

    partly = y.copy()
    partly[::2] = -1
    labeled = partly != -1
    assert model.score(X, partly) == pytest.approx(model.score(X[labeled], y[labeled]))
    with pytest.raises(ValueError, match="two labeled rows"):
        model.score(X, np.full(len(y), -1))


def test_grid_search_selects_by_score():
    X, y = _catalog()
    grid = {"n_components": [2, 8], "miner": ["batch_hard", "batch_all"]}
    search = GridSearchCV(_small(max_iter=5), grid, cv=3)
    _fit(search, X, y)
    assert search.best_score_ > 0.5
    assert set(search.cv_results_["params"][0]) == {"n_components", "miner"}


def test_feature_names_out_and_pickle():
    X, y = _catalog()
    model = _fit(_small(max_iter=2), X, y)
    assert list(model.get_feature_names_out()) == [f"tripletembedder{i}" for i in range(8)]
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.transform(X), model.transform(X))


def test_target_is_required():
    assert _small().__sklearn_tags__().target_tags.required


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", momentum=1.0),
        dict(solver="sgd", momentum=0.0),
        dict(beta_1=0.9, beta_2=0.81),
        dict(beta_1=0.0),
        dict(beta_1=0.0, beta_2=0.0),
    ],
)
def test_boundary_optimizer_settings_train_on_sparse_input_as_on_dense(params):
    # Sparse input trains with lazy updates whose closed-form catch-up has a
    # geometric ratio of 0 or 1 at these settings (1 divided 0 by 0, which
    # made the sparse fit diverge in its first epoch while the dense one trained).
    # beta_2=0 with beta_1 > 0 is refused (test_training_state).
    X, y = _catalog()

    def fit(X):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = _small(max_iter=4, **params).fit(X, y)
        diverged = any("diverged" in str(w.message) for w in caught)
        return model, diverged

    sparse_model, sparse_diverged = fit(X)
    dense_model, dense_diverged = fit(X.toarray())
    assert sparse_diverged == dense_diverged
    assert sparse_model.n_iter_ == dense_model.n_iter_
    assert np.isfinite(sparse_model.transform(X)).all()
    assert np.isfinite(dense_model.transform(X.toarray())).all()


def test_proxy_loss_learns_its_classes_and_carries_on_with_known_ones():
    X, y = _catalog(seed=0)
    X_test, y_test = _catalog(seed=1)
    model = _fit(_small(loss="proxy", max_iter=15), X, y)
    assert model.proxies_.shape == (5, 8)
    assert model.score(X_test, y_test) > leave_one_out_precision(X_test.toarray(), y_test, "cosine") + 0.2
    # Known classes and unlabeled rows continue training.
    partly = y.copy()
    partly[::2] = -1
    model.partial_fit(X, partly)
    assert model.n_iter_ == 16 and model.proxies_.shape == (5, 8)


def _new_classes_catalog():
    """Classes 0, 2 and 4 first; 1 and 3 arrive later (between the known ones)."""
    X, y = _catalog(seed=0)
    X_test, y_test = _catalog(seed=1)
    first = np.isin(y, [0, 2, 4])
    return X, y, first, X_test, y_test


@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
def test_proxy_loss_gives_each_new_class_a_proxy_at_its_mean_embedding(method, monkeypatch):
    from sk_prodembed import _engine

    X, y, first, _, _ = _new_classes_catalog()
    model = _fit(_small(loss="proxy", max_iter=15), X[first], y[first])
    old_proxies = model.proxies_.copy()
    embeddings = model.transform(X)  # unit rows, the encoder before the new fit
    # What the first epoch of the next fit starts from.
    starts = []
    run_epoch = _engine._run_epoch

    def recording_epoch(objective, optimizer, *args):
        if not starts:
            starts.append((objective.params[-1].copy(), optimizer.first_moments[-1].copy()))
        return run_epoch(objective, optimizer, *args)

    monkeypatch.setattr(_engine, "_run_epoch", recording_epoch)
    if method == "partial_fit":
        model.partial_fit(X, y)
    else:
        _fit(model.set_params(warm_start=True, max_iter=1), X, y)
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3, 4])
    assert model.proxies_.shape == (5, 8)
    proxies, first_moments = starts[0]
    # The known proxies move to their classes' new rows, with their optimizer
    # state; the new ones start at their rows' mean unit embedding, with a
    # zero state.
    np.testing.assert_array_equal(proxies[[0, 2, 4]], old_proxies)
    for c in (1, 3):
        mean = embeddings[y == c].mean(axis=0)
        np.testing.assert_allclose(proxies[c], mean / np.linalg.norm(mean), rtol=1e-6)
    saved = model._optimizer  # after the fit; the state before it is in starts
    assert saved.first_moments[-1].shape == (5, 8)
    assert np.all(first_moments[[1, 3]] == 0) and np.all(first_moments[[0, 2, 4]] != 0)


def test_proxy_loss_learns_the_classes_a_later_fit_brings():
    X, y, first, X_test, y_test = _new_classes_catalog()
    model = _fit(_small(loss="proxy", max_iter=15), X[first], y[first])
    new = np.isin(y_test, [1, 3])
    before = leave_one_out_precision(model.transform(X_test[new]), y_test[new], "cosine")
    model.set_params(warm_start=True)
    _fit(model, X, y)
    assert model.n_iter_ > 15
    after = leave_one_out_precision(model.transform(X_test[new]), y_test[new], "cosine")
    # Held-out rows of the two new classes: told apart after, barely before
    # (the encoder had never been asked to separate their words).
    assert after > before + 0.1 and after > 0.9
    assert model.score(X_test, y_test) > leave_one_out_precision(X_test.toarray(), y_test, "cosine") + 0.2


def test_proxy_loss_takes_new_classes_with_pairs_too():
    X, y, first, _, _ = _new_classes_catalog()
    pairs = np.column_stack([np.arange(0, 40, 2), np.arange(1, 41, 2)])
    model = _fit(_small(loss="proxy", max_iter=3), X, np.where(first, y, -1), pairs=pairs)
    assert model.proxies_.shape == (3, 8)
    model.set_params(warm_start=True)
    _fit(model, X, y, pairs=pairs)
    assert model.proxies_.shape == (5, 8) and model.n_iter_ == 6
    assert np.isfinite(model.transform(X)).all()
    # A first fit on pairs alone has no proxy; the labels of a later fit
    # bring them, and the optimizer trains them (a state of their own).
    model = _fit(_small(loss="proxy", max_iter=3), X, None, pairs=pairs)
    assert model.proxies_.shape == (0, 8)
    model.set_params(warm_start=True)
    _fit(model, X, y, pairs=pairs)
    assert model.proxies_.shape == (5, 8)
    assert model._optimizer.first_moments[-1].shape == (5, 8)
    assert np.all(model._optimizer.first_moments[-1] != 0)


def test_an_interrupted_fit_with_new_classes_keeps_the_old_proxies(monkeypatch):
    from sk_prodembed import _engine

    X, y, first, _, _ = _new_classes_catalog()
    model = _fit(_small(loss="proxy", max_iter=3), X[first], y[first])
    proxies, optimizer = model.proxies_.copy(), model._optimizer
    moments = [m.copy() for m in optimizer.first_moments]

    def interrupted_epoch(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_engine, "_run_epoch", interrupted_epoch)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(model.classes_, [0, 2, 4])
    np.testing.assert_array_equal(model.proxies_, proxies)
    assert model._optimizer is optimizer
    for kept, saved in zip(optimizer.first_moments, moments):
        np.testing.assert_array_equal(kept, saved)


def test_auto_loss_is_the_proxy_loss_for_small_classes_and_the_triplet_loss_for_large():
    """loss="auto": the proxy loss when the median class has fewer than 50
    labeled rows, else the triplet loss; either way the very fit of that loss."""
    for n_per_class, chosen in ((30, "proxy"), (60, "triplet")):
        X, y = _catalog(n_per_class=n_per_class)
        auto = _fit(_small(loss="auto", max_iter=3), X, y)
        explicit = _fit(_small(loss=chosen, max_iter=3), X, y)
        assert auto.loss_ == chosen
        assert hasattr(auto, "proxies_") == (chosen == "proxy")
        np.testing.assert_array_equal(auto.transform(X), explicit.transform(X))


def test_auto_loss_counts_labeled_rows_by_the_median_class():
    X, y = _catalog(n_per_class=60)
    # Unlabeled rows do not count: 36 labeled rows a class is a small class...
    partly = np.where(np.arange(len(y)) % 5 < 3, y, -1)
    assert _fit(_small(loss="auto", max_iter=1), X, partly).loss_ == "proxy"
    # ...but with fewer than half of the rows labeled, the triplet loss (it
    # scored higher with 2% and 10% of the labels on both catalogs measured).
    scarce = np.where(np.arange(len(y)) % 5 < 2, y, -1)
    assert _fit(_small(loss="auto", max_iter=1), X, scarce).loss_ == "triplet"
    # The median class, not the mean: one huge class among small ones.
    skewed = y.copy()
    skewed[skewed == 1] = 0  # class 0: 120 rows, the others 60
    assert _fit(_small(loss="auto", max_iter=1), X, skewed).loss_ == "triplet"
    skewed[(skewed >= 2) & (np.arange(len(y)) % 2 == 0)] = 0  # others 30, class 0 210
    assert _fit(_small(loss="auto", max_iter=1), X, skewed).loss_ == "proxy"


def test_auto_loss_is_the_triplet_loss_in_partial_fit_which_takes_new_classes():
    X, y = _catalog(n_per_class=30)
    model = _small(loss="auto")
    model.partial_fit(X[y < 3], y[y < 3])
    assert model.loss_ == "triplet"
    model.partial_fit(X, y)  # new classes 3 and 4: fine for the triplet loss
    np.testing.assert_array_equal(model.classes_, [0, 1, 2, 3, 4])
    # A warm-started fit keeps the loss of the first fit.
    warm = _fit(_small(loss="auto", max_iter=1, warm_start=True), X, y)
    assert warm.loss_ == "proxy"
    _fit(warm, X, y)
    assert warm.loss_ == "proxy" and warm.n_iter_ == 2


def test_auto_loss_is_the_triplet_loss_from_any_start_but_the_ridge_start():
    X, y = _catalog(n_per_class=30)
    assert _fit(_small(loss="auto", max_iter=1, encoder_init="random"), X, y).loss_ == "triplet"
    autoencoder = MaskedAutoencoderEmbedder(8, max_iter=1, random_state=0)
    _fit(autoencoder, X, None)
    tuned = _fit(_small(loss="auto", max_iter=1, encoder_init=autoencoder), X, y)
    assert tuned.loss_ == "triplet"


def test_auto_loss_is_the_triplet_loss_with_pairs():
    X, y = _catalog(n_per_class=30)
    pairs = np.column_stack([np.arange(0, 20), np.arange(1, 21)])
    model = _fit(_small(loss="auto", max_iter=1), X, y, pairs=pairs)
    assert model.loss_ == "triplet"
    assert _fit(_small(loss="auto", max_iter=1), X, None, pairs=pairs).loss_ == "triplet"
