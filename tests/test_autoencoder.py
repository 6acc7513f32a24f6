import pickle
import warnings

import numpy as np
from _gradients import batch_loss_and_gradient, objective_gradient_error
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV

from sk_prodembed import MaskedAutoencoderEmbedder
from sk_prodembed._losses import squared_error
from sk_prodembed._reconstruction import MaskedReconstruction


def _sparse_counts(n_samples=120, n_features=40, seed=0, dtype=np.float64):
    """Sparse non-negative rows from a few topics, like small TF-IDF."""
    rng = np.random.RandomState(seed)
    topics = rng.randint(0, 4, n_samples)
    X = sp.random(n_samples, n_features, density=0.05, random_state=rng, format="lil")
    for i, topic in enumerate(topics):
        words = rng.choice(10, 3, replace=False) + 10 * topic
        X[i, words] = rng.rand(3) + 0.5
    return X.tocsr().astype(dtype), topics


def _quiet(estimator, method, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return getattr(estimator, method)(*args)


@pytest.mark.parametrize("loss", ["mse", "multinomial"])
@pytest.mark.parametrize("corruption", ["zero", "marginal"])
def test_full_objective_gradient_matches_numerical_gradient(loss, corruption):
    X, _ = _sparse_counts(20, 40)
    model = _quiet(
        MaskedAutoencoderEmbedder(
            n_components=3, hidden_layer_sizes=(5,), decoder_layer_sizes=(4,),
            loss=loss, corruption=corruption, alpha=0.1, max_iter=1, random_state=0,
        ), "fit", X,
    )
    objective = MaskedReconstruction(
        model.encoder_, model.decoder_, loss, 0.5, corruption, alpha=0.1
    )
    error, _ = objective_gradient_error(objective, X, None)
    assert error < 1e-5


def test_auto_loss_choice():
    X, _ = _sparse_counts()
    assert _quiet(MaskedAutoencoderEmbedder(max_iter=1), "fit", X).loss_ == "multinomial"
    assert _quiet(MaskedAutoencoderEmbedder(max_iter=1), "fit", X.toarray()).loss_ == "mse"
    signed = X.copy()
    signed.data -= 1
    assert _quiet(MaskedAutoencoderEmbedder(max_iter=1), "fit", signed).loss_ == "mse"


@pytest.mark.parametrize(
    "activation, hidden, embedding",
    [("auto", "tanh", "identity"), ("tanh", "tanh", "tanh"), ("relu", "relu", "relu")],
)
def test_activation_of_the_hidden_and_embedding_layers(activation, hidden, embedding):
    X, _ = _sparse_counts()
    model = _quiet(
        MaskedAutoencoderEmbedder(
            n_components=3, hidden_layer_sizes=(5,), activation=activation, max_iter=1
        ), "fit", X,
    )
    assert model.encoder_.hidden_activation == hidden
    assert model.encoder_.output_activation == embedding
    assert model.decoder_.hidden_activation == hidden
    assert model.decoder_.output_activation == "identity"


def test_multinomial_rejects_negative_input():
    X = -np.ones((5, 3))
    with pytest.raises(ValueError, match="non-negative"):
        MaskedAutoencoderEmbedder(loss="multinomial").fit(X)


def test_sparse_and_dense_give_the_same_embedding():
    X, _ = _sparse_counts()
    params = dict(n_components=4, loss="multinomial", max_iter=3, random_state=0)
    dense = _quiet(MaskedAutoencoderEmbedder(**params), "fit_transform", X.toarray())
    sparse = _quiet(MaskedAutoencoderEmbedder(**params), "fit_transform", X)
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-9)
    csc = _quiet(MaskedAutoencoderEmbedder(**params), "fit_transform", X.tocsc())
    np.testing.assert_allclose(csc, dense, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("sparse", [False, True])
def test_float32_in_float32_out(sparse):
    X, _ = _sparse_counts(dtype=np.float32)
    X = X if sparse else X.toarray()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=2, random_state=0), "fit", X)
    assert model.transform(X).dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.encoder_.params + model.decoder_.params)
    assert model.inverse_transform(model.transform(X)).dtype == np.float32


def test_random_state_makes_fit_repeatable():
    X, _ = _sparse_counts()
    a = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=3, random_state=42), "fit_transform", X)
    b = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=3, random_state=42), "fit_transform", X)
    c = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=3, random_state=43), "fit_transform", X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_transform_is_deterministic_and_input_untouched():
    X, _ = _sparse_counts()
    before = X.copy()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=2, random_state=0), "fit", X)
    np.testing.assert_array_equal(model.transform(X), model.transform(X))
    np.testing.assert_array_equal(X.toarray(), before.toarray())


def test_partial_fit_twice_equals_two_epochs_of_fit():
    X, _ = _sparse_counts()
    params = dict(n_components=3, random_state=0, batch_size=32)
    fitted = _quiet(MaskedAutoencoderEmbedder(max_iter=2, tol=0, **params), "fit", X)
    incremental = MaskedAutoencoderEmbedder(**params)
    incremental.partial_fit(X).partial_fit(X)
    np.testing.assert_allclose(incremental.transform(X), fitted.transform(X), rtol=1e-12)
    assert incremental.n_iter_ == 2
    assert incremental.loss_curve_ == pytest.approx(fitted.loss_curve_)


def test_warm_start_continues_training():
    X, _ = _sparse_counts()
    model = MaskedAutoencoderEmbedder(n_components=3, max_iter=2, tol=0, warm_start=True, random_state=0)
    _quiet(model, "fit", X)
    first = model.encoder_.coefs[0].copy()
    _quiet(model, "fit", X)
    assert model.n_iter_ == 4 and len(model.loss_curve_) == 4
    assert not np.allclose(model.encoder_.coefs[0], first)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_continued_fit_takes_the_solver_parameters_set_since(method):
    # set_params between two calls takes effect, as in a fresh fit: a step
    # of 1e-12 leaves the weights where they were; the moment estimates
    # carry on (the step count goes on from the first fit's).
    X, _ = _sparse_counts()
    model = MaskedAutoencoderEmbedder(n_components=3, max_iter=2, tol=0, warm_start=True, random_state=0)
    _quiet(model, "fit", X)
    steps, first = model._optimizer.t, model.encoder_.coefs[0].copy()
    _quiet(model.set_params(learning_rate_init=1e-12), method, X)
    assert model._optimizer.t > steps
    np.testing.assert_allclose(model.encoder_.coefs[0], first, atol=1e-9)
    # Another solver starts its own state.
    _quiet(model.set_params(solver="sgd", learning_rate_init=1e-2), method, X)
    assert type(model._optimizer).__name__ == "SGD"
    # The first fit's two epochs took `steps`; this call counts only its own.
    assert model._optimizer.t == (steps if method == "fit" else steps // 2)


def test_training_reduces_the_loss_and_improves_the_score():
    X, _ = _sparse_counts(400, 40)
    model = _quiet(MaskedAutoencoderEmbedder(n_components=4, max_iter=30, random_state=0,
                                             learning_rate_init=0.01, batch_size=50), "fit", X)
    assert model.loss_curve_[-1] < 0.9 * model.loss_curve_[0]
    untrained = MaskedAutoencoderEmbedder(n_components=4, random_state=0).partial_fit(X[:1])
    assert model.score(X) > untrained.score(X)


@pytest.mark.parametrize("reconstruction_sampling", [None, 5])
def test_embedding_separates_topics(reconstruction_sampling):
    X, topics = _sparse_counts(400, 40)
    model = _quiet(MaskedAutoencoderEmbedder(n_components=4, max_iter=40, random_state=0,
                                             reconstruction_sampling=reconstruction_sampling,
                                             learning_rate_init=0.01, batch_size=50), "fit", X)
    Z = model.transform(X)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    similarity = Z @ Z.T
    same = topics[:, None] == topics[None, :]
    assert similarity[same].mean() > similarity[~same].mean() + 0.3


def test_score_is_deterministic_minus_loss():
    X, _ = _sparse_counts()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=2, random_state=0), "fit", X)
    assert model.score(X) == model.score(X)
    assert model.score(X) < 0


def test_score_refuses_negative_input_under_the_multinomial_loss():
    # Rows without a positive sum are skipped by the multinomial loss: -X
    # would score -0.0, the best score there is.
    X, _ = _sparse_counts()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=2, random_state=0), "fit", X)
    assert model.loss_ == "multinomial"
    with pytest.raises(ValueError, match="non-negative X"):
        model.score(-X)


@pytest.mark.parametrize("name", ["hidden_layer_sizes", "decoder_layer_sizes"])
def test_an_int_is_one_hidden_layer_as_in_mlp(name):
    X, _ = _sparse_counts()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=1, **{name: 8}), "fit", X)
    network = model.encoder_ if name == "hidden_layer_sizes" else model.decoder_
    assert 8 in network.layer_sizes[1:-1]


def test_early_stopping_records_validation_scores_and_restores_best(monkeypatch):
    import sk_prodembed._base as base

    held_out = {}

    def recording_split(*args, **kwargs):
        split = base_split(*args, **kwargs)
        held_out["X"] = split[1]
        return split

    base_split = base.split_validation
    monkeypatch.setattr(base, "split_validation", recording_split)
    X, _ = _sparse_counts(300)
    model = _quiet(MaskedAutoencoderEmbedder(
        n_components=3, max_iter=15, early_stopping=True, n_iter_no_change=2,
        learning_rate_init=0.05, random_state=0), "fit", X)
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    # The restored weights are those of the best epoch, so rescoring the held-out
    # rows the same way reproduces the best score.
    assert model.score(held_out["X"]) == pytest.approx(model.best_validation_score_, rel=1e-10)


def test_inverse_transform_shapes_and_probabilities():
    X, _ = _sparse_counts()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=2, random_state=0), "fit", X)
    reconstruction = model.inverse_transform(model.transform(X))
    assert reconstruction.shape == X.shape
    np.testing.assert_allclose(reconstruction.sum(axis=1), 1, rtol=1e-10)
    with pytest.raises(ValueError, match="n_components=3"):
        model.inverse_transform(np.ones((2, 5)))


def test_inverse_transform_of_scaled_features_is_in_their_units():
    # The model trains on the rows times input_scale_; its reconstruction
    # must still be in X's units.
    X = _low_rank(100)
    params = dict(n_components=2, max_iter=3, random_state=0)
    model = _quiet(MaskedAutoencoderEmbedder(**params), "fit", X)
    large = _quiet(MaskedAutoencoderEmbedder(**params), "fit", X * 2.0**12)
    assert large.input_scale_ == model.input_scale_ * 2.0**-12
    reconstruction = large.inverse_transform(large.transform(X * 2.0**12))
    np.testing.assert_allclose(
        reconstruction, 2.0**12 * model.inverse_transform(model.transform(X)), rtol=1e-12
    )
    assert large.score(X * 2.0**12) == pytest.approx(model.score(X), rel=1e-12)


def test_pickle_round_trip_gives_identical_transform():
    X, _ = _sparse_counts()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=2, random_state=0), "fit", X)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.transform(X), model.transform(X))


def test_feature_names_out():
    X, _ = _sparse_counts()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=1), "fit", X)
    assert list(model.get_feature_names_out()) == [
        "maskedautoencoderembedder0", "maskedautoencoderembedder1", "maskedautoencoderembedder2"]


def test_errors_are_clear():
    with pytest.raises(NotFittedError):
        MaskedAutoencoderEmbedder().transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MaskedAutoencoderEmbedder(hidden_layer_sizes=(0,)).fit(np.ones((4, 3)))
    with pytest.raises(ValueError, match="mask_ratio"):
        MaskedAutoencoderEmbedder(mask_ratio=1.0).fit(np.ones((4, 3)))
    model = _quiet(MaskedAutoencoderEmbedder(n_components=2, max_iter=1), "fit", np.ones((4, 3)))
    with pytest.raises(ValueError, match="3 features"):
        model.transform(np.ones((2, 4)))


def test_interrupted_fit_leaves_the_estimator_unchanged(monkeypatch):
    X, _ = _sparse_counts()
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, max_iter=2, random_state=0), "fit", X)
    before = model.transform(X)
    state = dict(vars(model))

    import sk_prodembed._reconstruction as reconstruction

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reconstruction.MaskedReconstruction, "loss_and_gradient", interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X)
    assert vars(model).keys() == state.keys()
    assert all(vars(model)[k] is v for k, v in state.items())
    np.testing.assert_array_equal(model.transform(X), before)
    fresh = MaskedAutoencoderEmbedder()
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(X)
    with pytest.raises(NotFittedError):
        fresh.transform(X)


def test_divergence_keeps_finite_weights():
    X, _ = _sparse_counts(dtype=np.float32)
    model = MaskedAutoencoderEmbedder(n_components=3, loss="mse", solver="sgd", momentum=0.0,
                                      learning_rate_init=1e12, max_iter=50, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model.fit(X * 1e3)
    assert 0 < model.n_iter_ < 50
    assert np.isfinite(model.transform(X)).all()
    assert all(np.isfinite(p).all() for p in model.encoder_.params + model.decoder_.params)


def test_grid_search_on_score():
    X, _ = _sparse_counts()
    search = GridSearchCV(
        MaskedAutoencoderEmbedder(n_components=2, max_iter=2, random_state=0),
        {"mask_ratio": [0.2, 0.5]}, cv=2,
    )
    _quiet(search, "fit", X)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("loss", ["mse", "multinomial"])
def test_sampled_reconstruction_gradient_matches_numerical_gradient(loss):
    X, _ = _sparse_counts(20, 40)
    model = _quiet(MaskedAutoencoderEmbedder(
        n_components=3, hidden_layer_sizes=(5,), loss=loss, reconstruction_sampling=6,
        alpha=0.1, max_iter=1, random_state=0), "fit", X)
    objective = MaskedReconstruction(model.encoder_, model.decoder_, loss, 0.5, "zero",
                                     alpha=0.1, n_sampled_features=6)
    error, _ = objective_gradient_error(objective, X, None)
    assert error < 1e-5


def test_sampled_squared_error_is_unbiased():
    X, _ = _sparse_counts(10, 60)
    model = _quiet(MaskedAutoencoderEmbedder(n_components=3, loss="mse", max_iter=1,
                                             random_state=0), "fit", X)
    # No masking (mask_ratio=0): the sampled features are the only randomness.
    full = MaskedReconstruction(model.encoder_, model.decoder_, "mse", 0.0, "zero", alpha=0)
    sampled = MaskedReconstruction(model.encoder_, model.decoder_, "mse", 0.0, "zero",
                                   alpha=0, n_sampled_features=5)
    exact = batch_loss_and_gradient(full, X, None, np.random.RandomState(0))[0]
    estimates = [
        batch_loss_and_gradient(sampled, X, None, np.random.RandomState(seed))[0]
        for seed in range(3000)
    ]
    assert np.std(estimates) > 1e-3 * exact  # the estimate really is random
    standard_error = np.std(estimates) / np.sqrt(len(estimates))
    assert np.mean(estimates) == pytest.approx(exact, abs=5 * standard_error)


def test_sparse_and_dense_give_the_same_embedding_with_lazy_updates():
    # With reconstruction sampling, steps update only the weights a batch
    # touches (sparse input: the encoder rows of its stored features too) and
    # bring them up to date before reading them: for SGD without an L2
    # penalty, exactly the dense updates.
    X, _ = _sparse_counts()
    params = dict(
        n_components=4, loss="multinomial", reconstruction_sampling=6, solver="sgd",
        alpha=0.0, learning_rate_init=0.05, batch_size=20, max_iter=3, random_state=0,
    )
    dense = _quiet(MaskedAutoencoderEmbedder(**params), "fit_transform", X.toarray())
    sparse = _quiet(MaskedAutoencoderEmbedder(**params), "fit_transform", X)
    np.testing.assert_allclose(sparse, dense, rtol=1e-6, atol=1e-9)


def _low_rank(n_samples=300, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n_samples, 2) @ rng.randn(2, 8) + 0.05 * rng.randn(n_samples, 8)


def test_missing_values_are_never_targets():
    X = _low_rank(40)
    X_missing = X.copy()
    X_missing[::3, 2] = np.nan
    model = _quiet(MaskedAutoencoderEmbedder(n_components=2, max_iter=1, random_state=0), "fit", X)
    # No masking, so that the loss is a fixed function of the rows: the
    # squared error over the observed entries only.
    objective = MaskedReconstruction(model.encoder_, model.decoder_, "mse", 0.0, "zero",
                                     alpha=1e-4)
    observed = ~np.isnan(X_missing)
    loss_nan = batch_loss_and_gradient(objective, X_missing, None, np.random.RandomState(0))[0]
    filled = np.where(observed, X_missing, 0)
    codes = model.encoder_.predict(filled)
    # The decoder reconstructs the rows as the encoder sees them (input_scale_).
    target = filled * model.input_scale_
    expected, _ = squared_error(target, model.decoder_.predict(codes), observed)
    expected += 0.5 * 1e-4 / 40 * sum(np.sum(W**2) for W in model.encoder_.coefs + model.decoder_.coefs)
    assert loss_nan == pytest.approx(expected, rel=1e-10)
    assert np.isfinite(loss_nan)


@pytest.mark.parametrize("sparse", [False, True])
def test_fit_with_missing_values_gives_finite_embeddings(sparse):
    X = np.abs(_low_rank())
    X[np.random.RandomState(1).rand(*X.shape) < 0.2] = np.nan
    X = sp.csr_matrix(X) if sparse else X
    model = _quiet(MaskedAutoencoderEmbedder(n_components=2, max_iter=3, random_state=0), "fit", X)
    assert np.isfinite(model.transform(X)).all()
    assert np.isfinite(model.score(X))
    assert np.isfinite(model.loss_curve_).all()


def test_inverse_transform_imputes_better_than_the_column_mean():
    X = _low_rank(600)
    missing = np.random.RandomState(2).rand(*X.shape) < 0.1
    X_missing = np.where(missing, np.nan, X)
    model = _quiet(MaskedAutoencoderEmbedder(
        n_components=2, activation="identity", mask_ratio=0.2, max_iter=60, batch_size=64,
        learning_rate_init=0.01, random_state=0), "fit", X_missing)
    imputed = model.inverse_transform(model.transform(X_missing))
    column_means = np.nanmean(X_missing, axis=0)
    error_model = np.mean((imputed[missing] - X[missing]) ** 2)
    error_mean = np.mean((np.broadcast_to(column_means, X.shape)[missing] - X[missing]) ** 2)
    assert error_model < 0.5 * error_mean


def test_infinite_values_are_rejected():
    X = _low_rank(20)
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        MaskedAutoencoderEmbedder().fit(X)


def test_pickle_holds_weights_and_optimizer_state_only():
    small = sp.random(500, 300, density=0.02, format="csr", random_state=0)
    large = sp.random(5000, 300, density=0.02, format="csr", random_state=0)
    params = dict(n_components=8, max_iter=1, random_state=0)
    model = _quiet(MaskedAutoencoderEmbedder(**params), "fit", small)
    n_weights = sum(p.size for p in model.encoder_.params + model.decoder_.params)
    size = len(pickle.dumps(model))
    # Weights plus Adam's two moment estimates (kept so that partial_fit resumes
    # exactly, also across processes), plus small metadata; never the data.
    assert size < 3 * n_weights * small.dtype.itemsize + 20_000
    bigger_fit = _quiet(MaskedAutoencoderEmbedder(**params), "fit", large)
    assert len(pickle.dumps(bigger_fit)) < size + 1000


def test_partial_fit_resumes_exactly_after_pickling():
    X, _ = _sparse_counts()
    params = dict(n_components=3, random_state=0, batch_size=32)
    straight = MaskedAutoencoderEmbedder(**params).partial_fit(X).partial_fit(X)
    resumed = pickle.loads(pickle.dumps(MaskedAutoencoderEmbedder(**params).partial_fit(X)))
    resumed.partial_fit(X)
    np.testing.assert_array_equal(resumed.transform(X), straight.transform(X))


def test_sampled_columns_are_distinct_absent_features():
    rng = np.random.RandomState(0)
    objective = MaskedReconstruction(None, None, "mse", 0.5, "zero", alpha=0)
    for _ in range(200):
        n_features = rng.randint(5, 80)
        X = sp.random(4, n_features, density=rng.rand() * 0.5, format="csr", random_state=rng)
        objective.n_sampled_features = rng.randint(1, n_features)
        columns, weights = objective._sample_columns(X, rng)
        present = np.unique(X.indices)
        n_absent = n_features - present.shape[0]
        if objective.n_sampled_features >= n_absent:
            assert columns is None
            continue
        sampled = columns[present.shape[0]:]
        np.testing.assert_array_equal(columns[: present.shape[0]], present)
        assert np.unique(sampled).shape[0] == objective.n_sampled_features
        assert np.intersect1d(sampled, present).shape[0] == 0
        assert 0 <= sampled.min() and sampled.max() < n_features
        np.testing.assert_allclose(weights[present.shape[0]:], n_absent / sampled.shape[0])


def test_sampling_updates_only_the_weights_of_features_it_sees():
    # Lazy updates: the encoder rows of features absent from every row are
    # never touched, so they keep their initial values however long the fit.
    X, _ = _sparse_counts(100, 60)
    X = sp.hstack([X, sp.csr_matrix((100, 20))]).tocsr()  # 20 features never present
    short, long = (
        _quiet(MaskedAutoencoderEmbedder(n_components=3, reconstruction_sampling=5,
                                         max_iter=n, random_state=0), "fit", X)
        for n in (1, 5)
    )
    np.testing.assert_array_equal(short.encoder_.coefs[0][60:], long.encoder_.coefs[0][60:])
    assert not np.allclose(short.encoder_.coefs[0][:40], long.encoder_.coefs[0][:40])
    # The decoder's output layer is column-major for fast column updates, and
    # stays so through partial_fit and pickling.
    assert long.decoder_.coefs[-1].flags.f_contiguous
    _quiet(long, "partial_fit", X)
    restored = pickle.loads(pickle.dumps(long))
    assert restored.decoder_.coefs[-1].flags.f_contiguous
    np.testing.assert_array_equal(restored.transform(X), long.transform(X))


def test_transform_of_sparse_rows_with_a_missing_value_stays_sparse():
    # One NaN made transform build a dense boolean mask of X's whole shape
    # (a million products of a 100,000-word vocabulary: 100 GB).
    import tracemalloc

    X = sp.random(200, 50_000, density=2e-4, format="csr", random_state=0)
    model = _quiet(MaskedAutoencoderEmbedder(n_components=4, max_iter=1, random_state=0),
                   "fit", X)
    X_missing = X.copy()
    X_missing.data[0] = np.nan
    expected = X.copy()
    expected.data[0] = 0
    tracemalloc.start()
    embedding = model.transform(X_missing)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2e6  # the dense mask alone would be 10 MB
    np.testing.assert_array_equal(embedding, model.transform(expected))
