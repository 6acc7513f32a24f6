"""TripletEmbedder's labels across array types: the integer -1 marks unlabeled
rows, the string "-1" is rejected whatever holds it, and the same labels give
the same fit from numpy, object arrays, lists and pandas."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sk_prodembed import TripletEmbedder

pd = pytest.importorskip("pandas")

NAMES = np.array(["bread", "cheese", "fruit"])


def _data(n_samples=60):
    rng = np.random.RandomState(0)
    codes = np.arange(n_samples) % 3
    X = rng.rand(n_samples, 6) + 2 * np.eye(3)[codes].repeat(2, axis=1)
    return X, NAMES[codes]


def _fit(y, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return TripletEmbedder(n_components=2, max_iter=2, random_state=0).fit(X, y)


def _with_string_minus_one(labels):
    labels = labels.astype(object)
    labels[[0, 4]] = "-1"
    return labels


STRING_MINUS_ONE = {
    "numpy str": lambda labels: _with_string_minus_one(labels).astype(str),
    "numpy bytes": lambda labels: _with_string_minus_one(labels).astype("S"),
    "object array": _with_string_minus_one,
    "list": lambda labels: list(_with_string_minus_one(labels)),
    "pandas object": lambda labels: pd.Series(_with_string_minus_one(labels), dtype=object),
    "pandas string": lambda labels: pd.Series(_with_string_minus_one(labels), dtype="string"),
    "pandas category": lambda labels: pd.Series(_with_string_minus_one(labels), dtype="category"),
}


@pytest.mark.parametrize("container", list(STRING_MINUS_ONE))
def test_string_minus_one_is_rejected_in_every_array_type(container):
    X, labels = _data()
    y = STRING_MINUS_ONE[container](labels)
    model = TripletEmbedder(n_components=2, max_iter=2)
    with pytest.raises(ValueError, match=r"y contains the string '-1' \(2 rows\).*dtype=object"):
        model.fit(X, y)
    assert not hasattr(model, "classes_")


def test_string_minus_one_is_rejected_by_partial_fit_and_score():
    X, labels = _data()
    model = _fit(labels, X)
    y = _with_string_minus_one(labels)
    with pytest.raises(ValueError, match="the string '-1'"):
        model.score(X, y)
    with pytest.raises(ValueError, match="the string '-1'"):
        model.partial_fit(X, pd.Series(y))


def test_the_suggested_conversion_marks_the_rows_unlabeled():
    X, labels = _data()
    y = np.asarray(pd.Series(_with_string_minus_one(labels), dtype="string"), dtype=object)
    y[y == "-1"] = -1
    converted = _fit(y, X)
    expected = labels.astype(object)
    expected[[0, 4]] = -1
    reference = _fit(expected, X)
    np.testing.assert_array_equal(converted.classes_, NAMES)
    np.testing.assert_array_equal(converted.transform(X), reference.transform(X))


UNLABELED_INTEGER = {
    "object array": lambda y: y,
    "pandas object": lambda y: pd.Series(y, dtype=object),
}


def test_a_list_mixing_strings_and_minus_one_is_rejected_with_the_reason():
    # numpy turns ["bread", -1] into strings, so the -1 arrives as "-1".
    X, labels = _data()
    y = list(labels)
    y[0] = -1
    with pytest.raises(ValueError, match="a list mixing strings and -1 becomes all strings"):
        TripletEmbedder(n_components=2).fit(X, y)


@pytest.mark.parametrize("container", list(UNLABELED_INTEGER))
def test_integer_minus_one_is_unlabeled_in_every_array_type(container):
    X, labels = _data()
    y = labels.astype(object)
    y[[0, 4]] = -1
    reference = _fit(y, X)
    model = _fit(UNLABELED_INTEGER[container](y), X)
    np.testing.assert_array_equal(model.classes_, NAMES)  # -1 is not a class
    np.testing.assert_array_equal(model.transform(X), reference.transform(X))


@pytest.mark.parametrize(
    "labels", [np.array([0, 1, 2, -1] * 15), np.array([0.0, 1.0, 2.0, -1.0] * 15)]
)
def test_numeric_minus_one_is_unlabeled_in_numpy_and_pandas(labels):
    X, _ = _data()
    numpy_model = _fit(labels, X)
    pandas_model = _fit(pd.Series(labels), X)
    np.testing.assert_array_equal(numpy_model.classes_, [0, 1, 2])
    np.testing.assert_array_equal(numpy_model.transform(X), pandas_model.transform(X))


def test_other_strings_are_classes_in_every_array_type():
    X, labels = _data()
    reference = _fit(labels, X)
    for y in (labels.astype(object), list(labels), pd.Series(labels, dtype="string"),
              pd.Series(labels, dtype="category")):
        model = _fit(y, X)
        np.testing.assert_array_equal(model.classes_, NAMES)
        np.testing.assert_array_equal(model.transform(X), reference.transform(X))


def test_pandas_missing_labels_get_the_missing_label_message():
    X, y = _data()
    labels = pd.Series(y, dtype="string")
    labels[[0, 5]] = pd.NA
    with pytest.raises(ValueError, match="2 missing label"):
        _fit(labels, X)


def test_labels_mixing_strings_and_numbers_are_refused():
    X, y = _data()
    mixed = y.astype(object)
    mixed[:3] = 7
    with pytest.raises(ValueError, match="mixes strings and numbers"):
        _fit(mixed, X)


@pytest.mark.parametrize("first, then", [
    (lambda y: y, lambda y: np.arange(len(y)) % 3),  # strings, then numbers
    (lambda y: np.arange(len(y)) % 3, lambda y: y),  # numbers, then strings
    (lambda y: np.arange(len(y)) % 3, lambda y: y.astype(object)),
])
def test_partial_fit_refuses_labels_of_another_kind_and_keeps_the_model(first, then):
    # numpy would merge the integer 0 into the class "0", or fail comparing them.
    X, y = _data()
    model = TripletEmbedder(n_components=2, random_state=0).partial_fit(X, first(y))
    classes = model.classes_.copy()
    with pytest.raises(ValueError, match="labels, but the model was fitted on"):
        model.partial_fit(X, then(y))
    np.testing.assert_array_equal(model.classes_, classes)


def test_single_row_classes_beside_unlabeled_rows_left_out_by_encoder_init_say_why():
    # From a pre-trained encoder, unlabeled_weight="auto" leaves the -1 rows
    # out; the error said there was no unlabeled row at all (297 of 300 were).
    from sk_prodembed import MaskedAutoencoderEmbedder

    X = np.abs(np.random.RandomState(0).randn(300, 8))
    y = np.full(300, -1)
    y[:3] = [0, 1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pretrained = MaskedAutoencoderEmbedder(n_components=4, max_iter=2).fit(X)
        with pytest.raises(ValueError, match="the 297 unlabeled rows .* are left out: with a "
                           "pre-trained encoder_init, unlabeled_weight='auto'"):
            TripletEmbedder(n_components=4, encoder_init=pretrained).fit(X, y)
        model = TripletEmbedder(n_components=4, encoder_init=pretrained, unlabeled_weight=1,
                                max_iter=2).fit(X, y)
    assert model.unlabeled_weight_ == 1


def test_boolean_labels_beside_unlabeled_rows_are_classes():
    # An object column of booleans with -1 for unlabeled rows was refused as
    # an "unknown" label type, while the same labels without -1 fitted.
    X = np.abs(np.random.RandomState(0).randn(100, 6))
    y = (np.arange(100) % 2 == 1).astype(object)
    y[50:] = -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = TripletEmbedder(n_components=3, max_iter=2, random_state=0).fit(X, y)
    assert model.classes_.tolist() == [False, True]
