"""Raw text given to an embedder: one clear error saying to vectorise first,
instead of numpy's "could not convert string to float"."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder
from sk_prodembed.datasets import make_product_catalog

pd = pytest.importorskip("pandas")

TEXTS, LABELS = make_product_catalog(60, 3, random_state=0)
RAW_TEXT = {
    "list of str": lambda: list(TEXTS),
    "numpy object array": lambda: np.asarray(TEXTS, dtype=object),
    "2-D list": lambda: [[text] for text in TEXTS],
    "pandas Series": lambda: pd.Series(TEXTS),
    "DataFrame with a text column": lambda: pd.DataFrame(
        {"name": TEXTS, "price": np.arange(60.0)}
    ),
}
MESSAGE = r"needs numeric features, but X holds text \(could not convert string to float"


def _fitted(Estimator):
    X = TfidfVectorizer().fit_transform(TEXTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Estimator(n_components=2, max_iter=1, random_state=0).fit(X, LABELS), X


@pytest.mark.parametrize("kind", list(RAW_TEXT))
def test_autoencoder_fit_on_raw_text_says_to_vectorise(kind):
    model = MaskedAutoencoderEmbedder(n_components=2)
    with pytest.raises(ValueError, match=MESSAGE) as error:
        model.fit(RAW_TEXT[kind]())
    assert "make_pipeline(TfidfVectorizer(), MaskedAutoencoderEmbedder())" in str(error.value)
    with pytest.raises(ValueError, match=MESSAGE):
        model.partial_fit(RAW_TEXT[kind]())


# The DataFrame has column names that the fitted (sparse) input had not.
@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
@pytest.mark.parametrize("Estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
@pytest.mark.parametrize("kind", list(RAW_TEXT))
def test_transform_of_raw_text_says_to_vectorise(Estimator, kind):
    model, _ = _fitted(Estimator)
    with pytest.raises(ValueError, match=MESSAGE) as error:
        model.transform(RAW_TEXT[kind]())
    assert f"make_pipeline(TfidfVectorizer(), {Estimator.__name__}())" in str(error.value)


@pytest.mark.parametrize("Estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
def test_the_suggested_pipeline_works(Estimator):
    pipe = make_pipeline(TfidfVectorizer(), Estimator(n_components=2, max_iter=1, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert pipe.fit_transform(TEXTS, LABELS).shape == (60, 2)


@pytest.mark.parametrize("Estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
def test_other_value_errors_are_unchanged(Estimator):
    model, X = _fitted(Estimator)
    with pytest.raises(ValueError, match="features") as error:
        model.transform(np.ones((2, X.shape[1] + 1)))
    assert "holds text" not in str(error.value)


@pytest.mark.parametrize("kind", list(RAW_TEXT))
def test_triplet_fit_on_raw_text_says_to_vectorise(kind):
    model = TripletEmbedder(n_components=2)
    with pytest.raises(ValueError, match=MESSAGE) as error:
        model.fit(RAW_TEXT[kind](), LABELS)
    assert "make_pipeline(TfidfVectorizer(), TripletEmbedder())" in str(error.value)
