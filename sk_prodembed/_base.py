"""Behaviour shared by the embedders: parameters, fit/partial_fit, transform.

A subclass describes its model through four hooks and inherits the rest:

- ``_validate_training_data(X, y, reset)`` -> ``(X, y)``
- ``_initialize_networks(X, y, rng)`` -> dict of name -> :class:`MLP`; each
  network is stored as the fitted attribute ``<name>_``
- ``_make_objective(networks, X, y)`` -> an objective for the engine
- ``_make_batches(X, y, batch_size)`` -> a ``batches(rng)`` callable

The embedding is the output of the network named ``"encoder"``.
"""

import copy
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._engine import (
    TrainingHistory,
    resolve_batch_size,
    shuffled_batches,
    split_validation,
    train_epochs,
)
from ._masking import split_missing
from ._optimizers import make_optimizer

# Rows encoded at once by ``transform``: bounds the memory of the hidden layers
# and of the densified rows for very large inputs.
_TRANSFORM_CHUNK_ROWS = 8192


class BaseEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class for the neural embedders. Not meant to be used directly."""

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "activation": [StrOptions({"tanh", "relu", "identity"})],
        "solver": [StrOptions({"adam", "sgd"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # -- hooks -------------------------------------------------------------

    def _validate_training_data(self, X, y, reset):
        raise NotImplementedError

    def _initialize_networks(self, X, y, rng):
        raise NotImplementedError

    def _make_objective(self, networks, X, y):
        raise NotImplementedError

    def _make_batches(self, X, y, batch_size):
        return shuffled_batches(X.shape[0], batch_size)

    # Names of the networks returned by ``_initialize_networks``.
    _network_names = ("encoder",)
    # Whether the early-stopping split keeps label proportions.
    _stratify_validation = False
    # Passed to validate_data: True rejects NaN and inf, "allow-nan" lets NaN
    # through as missing (the subclass must then handle it, and set the
    # allow_nan tag).
    _ensure_all_finite = True

    # -- shared machinery --------------------------------------------------

    def _check_hidden_layer_sizes(self, name="hidden_layer_sizes"):
        sizes = getattr(self, name)
        sizes = [sizes] if np.ndim(sizes) == 0 else list(sizes)
        if any(not isinstance(s, Integral) or s < 1 for s in sizes):
            raise ValueError(
                f"{name} must be a sequence of positive integers, got {getattr(self, name)!r}."
            )
        return [int(s) for s in sizes]

    def _validate_X(self, X, reset, y="no_validation"):
        """validate_data with the input types every embedder accepts; returns
        ``X``, or ``(X, y)`` when ``y`` is given, as ``validate_data`` does."""
        try:
            validated = validate_data(
                self,
                X,
                y,
                reset=reset,
                accept_sparse=("csr", "csc"),
                dtype=[np.float64, np.float32],
                ensure_all_finite=self._ensure_all_finite,
            )
        except ValueError as error:
            # numpy's message for a list of product names, a text column of a
            # DataFrame, ...: say what to do instead.
            if "could not convert string to float" not in str(error):
                raise
            name = type(self).__name__
            raise ValueError(
                f"{name} needs numeric features, but X holds text ({error}). Vectorise "
                f"the text first, for example make_pipeline(TfidfVectorizer(), {name}()); "
                "for a DataFrame with a text column, put ColumnTransformer([('text', "
                "TfidfVectorizer(), 'name')]) before the embedder."
            ) from error
        X = validated[0] if isinstance(validated, tuple) else validated
        if sp.issparse(X) and X.format != "csr":
            X = X.tocsr()
        if isinstance(validated, tuple):
            return X, validated[1]
        return X

    def _fit(self, X, y, incremental):
        # Training works on copies and assigns the fitted attributes at the end.
        # If anything interrupts it (an error, a KeyboardInterrupt), the
        # estimator is put back exactly as it was before the call.
        saved_state = dict(self.__dict__)
        try:
            self._fit_unsafe(X, y, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            raise
        return self

    def _fit_unsafe(self, X, y, incremental):
        fitted = hasattr(self, "_history")
        reset = not fitted or not (incremental or self.warm_start)
        X, y = self._validate_training_data(X, y, reset=reset)
        if reset:
            rng = check_random_state(self.random_state)
            networks = self._initialize_networks(X, y, rng)
            history = TrainingHistory()
            optimizer = None
        else:
            rng = copy.deepcopy(self._rng)
            networks = {
                name: getattr(self, name + "_").copy() for name in self._network_names
            }
            history = copy.deepcopy(self._history)
            optimizer = copy.deepcopy(self._optimizer)

        validation = None
        if self.early_stopping and not incremental:
            X, X_val, y, y_val = split_validation(
                X, y, self.validation_fraction, rng, stratify=self._stratify_validation
            )
            validation = (X_val, y_val)

        objective = self._make_objective(networks, X, y)
        if optimizer is None:
            optimizer = make_optimizer(
                self.solver,
                objective.params,
                learning_rate=self.learning_rate_init,
                momentum=self.momentum,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
            )
        batch_size = resolve_batch_size(self.batch_size, X.shape[0])

        train_epochs(
            objective,
            optimizer,
            X,
            y,
            self._make_batches(X, y, batch_size),
            history=history,
            max_iter=1 if incremental else self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            rng=rng,
            validation=validation,
            verbose=self.verbose,
            check_convergence=not incremental,
        )

        for name, network in networks.items():
            setattr(self, name + "_", network)
        self._rng = rng
        self._optimizer = optimizer
        self._history = history
        self.loss_curve_ = list(history.loss_curve)
        self.best_loss_ = history.best_loss
        self.n_iter_ = history.n_iter
        if validation is not None:
            self.validation_scores_ = list(history.validation_scores)
            self.best_validation_score_ = history.best_validation_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._n_features_out = self.encoder_.layer_sizes[-1]

    def transform(self, X):
        """Embed ``X`` with the trained encoder (deterministic: no masking).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_embedded : ndarray of shape (n_samples, n_components)
            In the dtype of the model's weights, which is the dtype of the
            training data (float32 or float64).
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._encode(X)

    def _encode(self, X):
        encoder = self.encoder_
        if X.dtype != encoder.dtype:
            X = X.astype(encoder.dtype)
        if self._ensure_all_finite == "allow-nan":
            # Missing entries enter the encoder as masked (zero) ones.
            X, _ = split_missing(X)
        chunks = [
            encoder.predict(X[start : start + _TRANSFORM_CHUNK_ROWS])
            for start in range(0, X.shape[0], _TRANSFORM_CHUNK_ROWS)
        ]
        if not chunks:
            return np.empty((0, self._n_features_out), dtype=encoder.dtype)
        return np.vstack(chunks)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
