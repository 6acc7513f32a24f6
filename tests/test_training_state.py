"""drop_training_state: a smaller fitted embedder that embeds as before and refuses to resume."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sk_prodembed import SKOPS_TRUSTED_TYPES, MaskedAutoencoderEmbedder, TripletEmbedder

ESTIMATORS = [MaskedAutoencoderEmbedder, TripletEmbedder]


def _data():
    X = sp.random(400, 300, density=0.04, format="csr", random_state=0, dtype=np.float32)
    X.data[:] = 1.0  # a TF-IDF-like, non-negative sparse matrix
    y = np.arange(400) % 8
    return X, y


def _fitted(Estimator, **params):
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Estimator(n_components=8, max_iter=3, random_state=0, **params).fit(X, y)


def _n_weights(network):
    return sum(p.size for p in network.params)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_embeddings_stay_the_same_and_the_pickle_shrinks_to_the_encoder(Estimator):
    X, _ = _data()
    model = _fitted(Estimator)
    expected = model.transform(X)
    before = len(pickle.dumps(model))
    assert model.drop_training_state() is model
    np.testing.assert_array_equal(model.transform(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).transform(X), expected)
    after = len(pickle.dumps(model))
    encoder_bytes = _n_weights(model.encoder_) * X.dtype.itemsize
    # The encoder and small metadata remain; the optimizer's moments (twice the
    # weights) and, for the autoencoder, the decoder are gone.
    assert after < encoder_bytes + 20_000
    assert before > 2.5 * encoder_bytes
    assert not hasattr(model, "_optimizer")


def test_the_autoencoder_drops_its_decoder_and_says_which_methods_need_it():
    X, _ = _data()
    model = _fitted(MaskedAutoencoderEmbedder).drop_training_state()
    assert not hasattr(model, "decoder_")
    with pytest.raises(ValueError, match=r"score needs the decoder.*drop_training_state"):
        model.score(X)
    with pytest.raises(ValueError, match=r"inverse_transform needs the decoder"):
        model.inverse_transform(model.transform(X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("resume", ["partial_fit", "warm_start"])
def test_resuming_training_raises_and_leaves_the_model_as_it_was(Estimator, resume):
    X, y = _data()
    model = _fitted(Estimator).drop_training_state()
    expected = model.transform(X)
    state = dict(model.__dict__)
    with pytest.raises(ValueError, match="training state was removed by drop_training_state"):
        if resume == "partial_fit":
            model.partial_fit(X, y)
        else:
            model.set_params(warm_start=True).fit(X, y)
    assert model.__dict__.keys() == state.keys()
    assert model.n_iter_ == state["n_iter_"]
    np.testing.assert_array_equal(model.transform(X), expected)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_fit_anew_trains_as_a_fresh_model_does(Estimator):
    X, y = _data()
    model = _fitted(Estimator).drop_training_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    fresh = _fitted(Estimator)
    np.testing.assert_array_equal(model.transform(X), fresh.transform(X))
    model.partial_fit(X, y)  # trainable again


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_copy_keeps_the_original_trainable(Estimator):
    X, y = _data()
    model = _fitted(Estimator)
    copy.deepcopy(model).drop_training_state()
    model.partial_fit(X, y)
    assert hasattr(model, "_optimizer")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_an_unfitted_model_has_no_state_to_drop(Estimator):
    with pytest.raises(NotFittedError):
        Estimator().drop_training_state()


def test_a_fine_tune_can_start_from_an_autoencoder_without_its_training_state():
    X, y = _data()
    autoencoder = _fitted(MaskedAutoencoderEmbedder)
    full = _fitted(TripletEmbedder, encoder_init=autoencoder)
    lean = _fitted(TripletEmbedder, encoder_init=copy.deepcopy(autoencoder).drop_training_state())
    np.testing.assert_array_equal(lean.transform(X), full.transform(X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_skops_round_trip_without_training_state(Estimator, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, _ = _data()
    model = _fitted(Estimator).drop_training_state()
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(SKOPS_TRUSTED_TYPES)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    with pytest.raises(ValueError, match="drop_training_state"):
        loaded.partial_fit(X, np.arange(400) % 8)


@pytest.mark.parametrize("estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
@pytest.mark.parametrize("beta_2", [0.5, 0.0])
def test_adam_with_beta_2_below_beta_1_squared_is_refused_before_training(estimator, beta_2):
    # Adam's steps on the weights of a feature absent from the batches grow as
    # (beta_1 / sqrt(beta_2))**j: on sparse rows a fit ran to weights of 1e2-1e3.
    X = np.abs(np.random.RandomState(0).randn(40, 6))
    y = np.repeat([0, 1], 20)
    with pytest.raises(ValueError, match=rf"beta_2={beta_2} is below beta_1\*\*2=0.81"):
        estimator(n_components=2, beta_2=beta_2, max_iter=2).fit(X, y)
    # At the boundary (ratio 1), and with the sgd solver, which has no beta_2, it fits.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator(n_components=2, beta_2=0.81, max_iter=2).fit(X, y)
        estimator(n_components=2, solver="sgd", beta_2=0.5, max_iter=2).fit(X, y)


@pytest.mark.parametrize("estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
def test_a_continuation_does_not_read_the_callers_random_state(estimator):
    # Given a RandomState as random_state, the fitted model kept that very
    # object as its stream: the caller's own draws between two partial_fit
    # calls changed what the second one learned.
    X = np.abs(np.random.RandomState(0).randn(60, 6))
    y = np.repeat([0, 1, 2], 20)
    models = []
    for draw_between in (False, True):
        random_state = np.random.RandomState(0)
        model = estimator(n_components=2, random_state=random_state)
        model.partial_fit(X, y)
        if draw_between:
            random_state.rand(10)
        models.append(model.partial_fit(X, y))
    np.testing.assert_array_equal(models[0].transform(X), models[1].transform(X))


@pytest.mark.parametrize("estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
@pytest.mark.parametrize("sparse", [False, True])
def test_an_empty_block_embeds_to_no_rows_and_trains_nothing(estimator, sparse):
    # Boolean filtering of a dask array leaves empty blocks, which
    # Incremental.fit and map_blocks(transform) hand to the model as they are.
    X = np.abs(np.random.RandomState(0).randn(60, 6))
    y = np.repeat([0, 1, 2], 20)
    to_input = sp.csr_matrix if sparse else np.asarray
    model = estimator(n_components=2, random_state=0).partial_fit(to_input(X), y)
    assert model.transform(to_input(X[:0])).shape == (0, 2)
    saved = pickle.dumps(model)
    assert model.partial_fit(to_input(X[:0]), y[:0]) is model
    assert pickle.dumps(model) == saved
    with pytest.raises(ValueError, match="X has 5 features"):
        model.partial_fit(to_input(X[:0, :5]), y[:0])
    with pytest.raises(ValueError, match="0 sample"):
        estimator(n_components=2).partial_fit(to_input(X[:0]), y[:0])
