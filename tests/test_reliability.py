"""Bad input and faults: clear errors or defined behaviour, never silent NaN embeddings."""

import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder

FAST = dict(n_components=3, max_iter=3, random_state=0)


def _data(n_samples=60, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    return rng.rand(n_samples, n_features), np.arange(n_samples) % 3


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


ESTIMATORS = [MaskedAutoencoderEmbedder, TripletEmbedder]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_infinite_values_are_rejected(Estimator):
    X, y = _data()
    X[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        Estimator(**FAST).fit(X, y)


def test_triplet_rejects_nan():
    X, y = _data()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TripletEmbedder(**FAST).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_empty_input(Estimator):
    with pytest.raises(ValueError, match="0 sample"):
        Estimator(**FAST).fit(np.empty((0, 4)), np.empty(0))
    with pytest.raises(ValueError, match="0 feature"):
        Estimator(**FAST).fit(np.empty((5, 0)), np.arange(5) % 2)


def test_one_sample():
    X, y = _data(1)
    Z = _fit(MaskedAutoencoderEmbedder(**FAST), X, None).transform(X)
    assert Z.shape == (1, 3) and np.isfinite(Z).all()
    with pytest.raises(ValueError, match="1 class"):
        TripletEmbedder(**FAST).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_feature(Estimator):
    X, y = _data(n_features=1)
    Z = _fit(Estimator(**FAST), X, y).transform(X)
    assert Z.shape == (60, 3) and np.isfinite(Z).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_number_of_features_at_transform(Estimator):
    X, y = _data()
    model = _fit(Estimator(**FAST), X, y)
    with pytest.raises(ValueError, match="6 features"):
        model.transform(X[:, :4])


def test_labels_of_the_wrong_length():
    X, y = _data()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TripletEmbedder(**FAST).fit(X, y[:-1])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("sparse", [False, True])
def test_all_zero_rows_give_finite_embeddings(Estimator, sparse):
    X, y = _data()
    X[::4] = 0
    X = sp.csr_matrix(X) if sparse else X
    Z = _fit(Estimator(**FAST), X, y).transform(X)
    assert np.isfinite(Z).all()
    # A row with no feature has nothing to place it by: the zero vector, not
    # the biases' point, which all such rows would share (a cosine of 1).
    np.testing.assert_array_equal(Z[::4], 0)
    assert (np.abs(Z[1::4]).sum(axis=1) > 0).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_refuses_early_stopping_and_keeps_the_model(Estimator):
    X, y = _data()
    model = _fit(Estimator(**FAST), X, y)
    before = model.transform(X)
    model.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(model.transform(X), before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_duplicated_rows_embed_identically(Estimator):
    X, y = _data()
    X = np.vstack([X, X[:10]])
    y = np.concatenate([y, y[:10]])
    Z = _fit(Estimator(**FAST), X, y).transform(X)
    np.testing.assert_array_equal(Z[-10:], Z[:10])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_values_never_give_nan_embeddings(Estimator, dtype):
    X, y = _data()
    X = (X * 1e30).astype(dtype)
    model = _fit(Estimator(**FAST), X, y)
    assert np.isfinite(model.transform(X)).all()
    # Near the largest float32 values: scaled before the first product.
    X_max = np.full((20, 4), np.finfo(np.float32).max / 2, dtype=np.float32)
    X_max[::2] *= -1
    model = _fit(Estimator(**FAST), X_max, np.arange(20) % 2)
    assert np.isfinite(model.transform(X_max)).all()
    # And the smallest: the scale that would bring these to unit norm is
    # beyond float32's range; it stops at the largest one float32 holds.
    X_tiny = (_data()[0] * 1e-39).astype(dtype)  # subnormal in float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Estimator(**FAST).set_params(max_iter="auto").fit(X_tiny, y)
    assert np.isfinite(model.transform(X_tiny)).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("factor", [2.0**-30, 2.0**20])
def test_the_overall_scale_of_the_features_does_not_change_the_model(Estimator, factor):
    # Features in micro-units or in millions train as the same features near
    # unit scale: a power-of-two factor is undone exactly by input_scale_.
    X, y = _data(120, 8)
    model = _fit(Estimator(n_components=3, max_iter=5, random_state=0), X, y)
    scaled = _fit(Estimator(n_components=3, max_iter=5, random_state=0), X * factor, y)
    assert scaled.input_scale_ == model.input_scale_ / factor
    np.testing.assert_array_equal(scaled.transform(X * factor), model.transform(X))
    np.testing.assert_array_equal(scaled.loss_curve_, model.loss_curve_)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_tiny_features_do_not_collapse_the_embedding(Estimator):
    # At 1e-6 the inputs' part of each embedding was negligible next to the
    # biases: every row had cosine similarity 1 with every other.
    rng = np.random.RandomState(0)
    X, y = rng.randn(200, 8), np.arange(200) % 3  # unrelated rows, centred
    model = _fit(Estimator(n_components=4, random_state=0), X * 1e-6, y)
    E = model.transform(X * 1e-6)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    similarity = E @ E.T
    assert np.median(similarity[np.triu_indices(len(E), 1)]) < 0.5


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_divergence_stops_with_warning_and_keeps_finite_weights(Estimator):
    X, y = _data(200)
    model = Estimator(n_components=3, solver="sgd", momentum=0.0, learning_rate_init=1e30,
                      max_iter=50, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model.fit(X, y)
    assert model.n_iter_ < 50
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("Estimator, params", [
    (MaskedAutoencoderEmbedder, dict(learning_rate_init=1e6, batch_size=50)),
    (TripletEmbedder, dict(learning_rate_init=1e30)),
])
def test_after_a_divergence_a_smaller_step_trains_on(Estimator, params):
    # The velocities of the diverging steps are dropped with them: otherwise
    # the advice of the warning (a lower learning_rate_init) could not work.
    X, y = _data(200)
    model = Estimator(n_components=3, solver="sgd", max_iter=10, random_state=0, **params)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 1"):
        model.fit(X, y)  # the weights stay those of the start
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.set_params(learning_rate_init=1e-6).partial_fit(X, y)
    assert np.isfinite(model.transform(X)).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_the_same_sparse_values_stored_two_ways_train_alike(Estimator):
    # Duplicate indices and explicit zeros are the same matrix; the masks are
    # drawn per stored entry, so they must be summed and dropped first.
    X = sp.random(120, 20, density=0.2, random_state=0, format="csr")
    y = np.arange(120) % 3
    doubled = sp.csr_matrix(
        (np.repeat(X.data / 2, 2), np.repeat(X.indices, 2), 2 * X.indptr), shape=X.shape
    )
    # The same duplicates, each row's entries in reverse order (unsorted indices).
    reversed_rows = doubled.copy()
    for row in range(X.shape[0]):
        entries = slice(reversed_rows.indptr[row], reversed_rows.indptr[row + 1])
        reversed_rows.indices[entries] = reversed_rows.indices[entries][::-1]
        reversed_rows.data[entries] = reversed_rows.data[entries][::-1]
    reversed_rows.has_sorted_indices = False
    padded = X.copy()
    padded.data[::3] = 0  # explicit zeros, stored
    for other, same in ((doubled, X), (reversed_rows, X), (padded, padded.copy())):
        if other is padded:
            same.eliminate_zeros()
        a = _fit(Estimator(**FAST), other, y).transform(other)
        b = _fit(Estimator(**FAST), same, y).transform(same)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_row_of_stored_zeros_embeds_to_zero(Estimator):
    X, y = sp.random(60, 8, density=0.5, random_state=0, format="csr"), np.arange(60) % 3
    model = _fit(Estimator(**FAST), X, y)
    stored_zeros = sp.csr_matrix(([0.0, 0.0], [3, 5], [0, 2]), shape=(1, 8))
    np.testing.assert_array_equal(model.transform(stored_zeros), 0)


def test_rows_whose_features_all_have_zero_weights_embed_to_zero():
    # A vocabulary fitted on more products than the labeled ones: from the
    # ridge start (as many classes as units) the words no labeled row had have
    # exactly zero weights, so every row of such words would land on the
    # biases' point, at cosine 1 from every other such row.
    X = sp.random(200, 30, density=0.2, random_state=0, format="lil")
    X[:, 20:] = 0
    X, y = X.tocsr(), np.repeat(np.arange(4), 50)
    model = _fit(TripletEmbedder(n_components=4, max_iter=3, random_state=0), X, y)
    unseen = sp.csr_matrix(np.eye(30)[20:25])
    np.testing.assert_array_equal(model.transform(unseen), 0)
    np.testing.assert_array_equal(model.transform(unseen.toarray()), 0)
    # A row with a weighted word keeps it.
    mixed = sp.csr_matrix(np.eye(30)[[0]] + np.eye(30)[[25]])
    assert np.abs(model.transform(mixed)).sum() > 0
    # A later partial_fit that trains them brings them in.
    more = X.tolil()
    more[:, 20:24] = np.random.RandomState(1).rand(200, 4)
    model.partial_fit(more.tocsr(), y)
    assert np.abs(model.transform(unseen[:4])).sum(axis=1).all()
    np.testing.assert_array_equal(model.transform(unseen[4:]), 0)


def test_untrained_random_weights_still_place_rows():
    # Units beyond the classes keep their random start for words no training
    # row had: a random projection, which tells such rows apart (on Flipkart
    # with 2% of the labels it was worth 0.03 of precision@10), and is kept.
    X = sp.random(200, 30, density=0.2, random_state=0, format="lil")
    X[:, 20:] = 0
    X, y = X.tocsr(), np.repeat(np.arange(2), 100)
    model = _fit(TripletEmbedder(n_components=4, max_iter=3, random_state=0), X, y)
    Z = model.transform(sp.csr_matrix(np.eye(30)[20:25]))
    assert np.abs(Z).sum(axis=1).all()
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    assert (Z @ Z.T)[np.triu_indices(5, 1)].max() < 0.999


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_keyboard_interrupt_leaves_the_previous_fit(Estimator, monkeypatch):
    import sk_prodembed._engine as engine

    X, y = _data()
    model = _fit(Estimator(**FAST), X, y).set_params(warm_start=True)
    before = dict(vars(model))
    Z_before = model.transform(X)
    calls = {"n": 0}
    original = engine._run_epoch

    def interrupted_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "_run_epoch", interrupted_epoch)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert all(vars(model)[k] is v for k, v in before.items())
    np.testing.assert_array_equal(model.transform(X), Z_before)

    calls["n"] = 0
    fresh = Estimator(**FAST)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(X, y)
    with pytest.raises(NotFittedError):
        fresh.transform(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_transform_is_thread_safe(Estimator):
    X, y = _data(500, 20)
    model = _fit(Estimator(**FAST), X, y)
    expected = model.transform(X)
    results, errors = [None] * 8, []

    def work(i):
        try:
            for _ in range(20):
                results[i] = model.transform(X)
                if not np.array_equal(results[i], expected):
                    errors.append(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


def _matrices():
    """Random small matrices: shape, dtype, sparsity, magnitude and zero rows vary."""

    @st.composite
    def build(draw):
        n_samples = draw(st.integers(3, 30))
        n_features = draw(st.integers(1, 12))
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        density = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
        scale = draw(st.sampled_from([1e-6, 1.0, 1e6]))
        seed = draw(st.integers(0, 2**16))
        sparse = draw(st.booleans())
        rng = np.random.RandomState(seed)
        X = rng.randn(n_samples, n_features) * scale * (rng.rand(n_samples, n_features) < density)
        X = X.astype(dtype)
        labels = rng.randint(0, draw(st.integers(2, 4)), n_samples)
        labels[:3] = [0, 1, 0]  # two classes, one of them with a pair
        return (sp.csr_matrix(X) if sparse else X), labels

    return build()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_matrices(), Estimator=st.sampled_from(ESTIMATORS))
def test_fit_transform_properties(data, Estimator):
    X, y = data
    model = _fit(Estimator(n_components=2, max_iter=2, random_state=0), X, y)
    Z = model.transform(X)
    assert Z.shape == (X.shape[0], 2)
    assert Z.dtype == X.dtype
    assert np.isfinite(Z).all()
    # transform is deterministic and row-wise: a subset embeds the same.
    np.testing.assert_allclose(model.transform(X[:1]), Z[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_duplicate_sparse_entries_embed_as_their_sum(Estimator):
    # Row 0 stores feature 3 twice, +0.5 and -0.5: it is an empty row and
    # embeds to zero, not to the biases' point; row 1 stores 0.25 twice, the
    # same row as 0.5 stored once.
    X, y = _data()
    model = _fit(Estimator(**FAST), sp.csr_matrix(X), y)
    duplicated = sp.csr_matrix(
        (np.array([0.5, -0.5, 0.25, 0.25]), np.array([3, 3, 1, 1]), np.array([0, 2, 4])),
        shape=(2, X.shape[1]),
    )
    assert not duplicated.has_canonical_format
    canonical = sp.csr_matrix(([0.5], ([1], [1])), shape=(2, X.shape[1]))
    np.testing.assert_allclose(model.transform(duplicated), model.transform(canonical))
    assert not model.transform(duplicated)[0].any()
