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
