"""Default fits adapt their length to the catalog (max_iter="auto")."""

import math
import warnings

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder
from sk_prodembed.datasets import make_product_catalog


def _small_catalog(n_products=600):
    texts, labels = make_product_catalog(n_products, 12, noise=0.5, random_state=0)
    return TfidfVectorizer(dtype=np.float32).fit_transform(texts), labels


def _rows_per_step(estimator, n_samples, n_classes):
    if isinstance(estimator, MaskedAutoencoderEmbedder):
        return min(512, n_samples)
    return min(estimator.classes_per_batch, n_classes) * estimator.samples_per_class


@pytest.mark.parametrize("Estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
def test_a_default_fit_on_a_small_catalog_runs_enough_steps_without_a_warning(Estimator):
    # 600 rows are two autoencoder batches an epoch (three triplet batches):
    # the former default of 20 epochs gave 40 (60) optimizer steps. The
    # default aims at 300 or more, ending when the loss has converged (its
    # plateau, or no improvement above tol): no ConvergenceWarning.
    X, y = _small_catalog()
    estimator = Estimator(n_components=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimator.fit(X, y)
    steps_per_epoch = math.ceil(X.shape[0] / _rows_per_step(estimator, X.shape[0], 12))
    steps = estimator.n_iter_ * steps_per_epoch
    assert steps >= 300 or estimator.n_iter_ >= 5 * 20, steps
    assert estimator.n_iter_ < 200


@pytest.mark.parametrize("Estimator", [MaskedAutoencoderEmbedder, TripletEmbedder])
def test_a_default_fit_on_a_large_catalog_needs_fewer_least_epochs(Estimator):
    # A large catalog needs fewer epochs: the budget's least epochs fall once
    # an epoch holds more than full_epochs_rows rows. A catalog of 600 rows
    # is "large" for a budget whose threshold is 150 rows (the default's is
    # 50,000, too many rows for a unit test): at least ceil(40 / 2) = 20
    # epochs instead of 40. tol=1e9 makes every epoch after the first a
    # non-improvement, so the fit stops as soon as its least epochs allow.
    from dataclasses import replace

    X, y = _small_catalog()
    n_iter = {}
    for full_epochs_rows in (10_000, 150):
        estimator = Estimator(n_components=8, tol=1e9, n_iter_no_change=1, random_state=0)
        estimator._auto_epochs = replace(
            Estimator._auto_epochs, min_steps=1, min_epochs=40, full_epochs_rows=full_epochs_rows
        )
        estimator.fit(X, y)
        n_iter[full_epochs_rows] = estimator.n_iter_
    assert n_iter == {10_000: 40, 150: 20}


def test_a_fixed_max_iter_is_kept_and_warns_when_reached():
    X, y = _small_catalog()
    with pytest.warns(Warning, match="maximum iterations \\(3\\)"):
        model = MaskedAutoencoderEmbedder(n_components=8, max_iter=3, random_state=0).fit(X)
    assert model.n_iter_ == 3
