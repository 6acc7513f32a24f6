"""Behaviour shared by the embedders: parameters, fit/partial_fit, transform.

A subclass describes its model through four hooks and inherits the rest:

- ``_validate_training_data(X, y, reset)`` -> ``(X, y)``
- ``_initialize_networks(X, y, rng)`` -> dict of name -> :class:`MLP`; each
  network is stored as the fitted attribute ``<name>_``
- ``_make_objective(networks, X, y)`` -> an objective for the engine
- ``_make_batches(X, y)`` -> a ``batches(rng)`` callable

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
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from ._engine import (
    EpochBudget,
    TrainingHistory,
    split_validation,
    train_epochs,
)
from ._optimizers import make_optimizer, resume_optimizer


class BaseEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class for the neural embedders. Not meant to be used directly."""

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"tanh", "relu", "identity"})],
        "solver": [StrOptions({"adam", "sgd"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
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

    def _learning_rate(self):
        """The optimizer's step size, read when a fit creates or resumes its
        optimizer (after ``_initialize_networks``)."""
        return self.learning_rate_init

    def _make_objective(self, networks, X, y):
        raise NotImplementedError

    def _make_batches(self, X, y):
        raise NotImplementedError

    # max_iter="auto" (see EpochBudget); subclasses set their own.
    _auto_epochs = EpochBudget(min_steps=300, min_epochs=20, max_epochs=200, plateau=0.05)
    # Names of the networks returned by ``_initialize_networks``.
    _network_names = ("encoder",)
    # What drop_training_state removes: state only training reads.
    _training_only_attributes = ("_optimizer",)
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

    def _validate_X(self, X, reset, y="no_validation", allow_empty=False):
        """validate_data with the input types every embedder accepts; returns
        ``X``, or ``(X, y)`` when ``y`` is given, as ``validate_data`` does.
        ``allow_empty`` lets X have no rows (transform, an empty block)."""
        try:
            validated = validate_data(
                self,
                X,
                y,
                reset=reset,
                accept_sparse=("csr", "csc"),
                dtype=[np.float64, np.float32],
                ensure_all_finite=self._ensure_all_finite,
                ensure_min_samples=0 if allow_empty else 1,
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
        if self.solver == "adam" and self.beta_1 > np.sqrt(self.beta_2):
            # m_j / sqrt(v_j) grows as (beta_1 / sqrt(beta_2))**j over steps of
            # zero gradient, until sqrt(v_j) falls to epsilon: the weights of
            # a feature no batch row has leap (every sparse fit has them).
            raise ValueError(
                f"beta_2={self.beta_2} is below beta_1**2={self.beta_1**2:.6g}: Adam "
                "then takes ever larger steps on the weights of features absent from "
                "the batches. Use beta_2 >= beta_1**2 (the default 0.999 with beta_1=0.9), "
                "or lower beta_1."
            )
        if incremental and self.early_stopping:
            # As scikit-learn's MLP: a single epoch has no validation curve.
            raise ValueError(
                "partial_fit does not support early_stopping=True; set "
                "early_stopping=False, or use fit for early stopping."
            )
        if incremental and hasattr(self, "_history") and _has_no_rows(X):
            # An empty block of a stream (boolean filtering of a dask array
            # makes them): nothing to learn, but the columns must still fit.
            self._check_training_state("partial_fit")
            self._validate_X(X, reset=False, allow_empty=True)
            return self
        # Training works on copies and assigns the fitted attributes at the end.
        # If anything interrupts it (an error, a KeyboardInterrupt), the
        # estimator is put back exactly as it was before the call.
        saved_state = dict(self.__dict__)
        try:
            self._train(X, y, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved_state)
            raise
        return self

    def _train(self, X, y, incremental):
        """The body of :meth:`_fit`, which restores the estimator if it fails."""
        fitted = hasattr(self, "_history")
        reset = not fitted or not (incremental or self.warm_start)
        if not reset:
            self._check_training_state("partial_fit" if incremental else "fit with warm_start=True")
        X, y = self._validate_training_data(X, y, reset=reset)
        X = canonical_rows(X)
        rng = check_random_state(self.random_state) if reset else copy.deepcopy(self._rng)
        # The held-out rows are split off first: the initialization reads the
        # rows (the ridge start and the proxies fit the labels), and must not
        # have seen the rows that score it.
        validation = None
        if self.early_stopping and not incremental:
            X, X_val, y, y_val = split_validation(
                X, y, self.validation_fraction, rng, stratify=self._stratify_validation
            )
            validation = (X_val, y_val)
        if reset:
            networks = self._initialize_networks(X, y, rng)
            history = TrainingHistory()
            optimizer = None
        else:
            networks = {
                name: getattr(self, name + "_").copy() for name in self._network_names
            }
            history = copy.deepcopy(self._history)
            optimizer = copy.deepcopy(self._optimizer)

        objective = self._make_objective(networks, X, y)
        hyperparameters = dict(
            learning_rate=self._learning_rate(),
            momentum=self.momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )
        if optimizer is None:
            optimizer = make_optimizer(self.solver, objective.params, **hyperparameters)
        else:
            optimizer = resume_optimizer(
                optimizer, self.solver, objective.params, **hyperparameters
            )
        train_epochs(
            objective,
            optimizer,
            X,
            y,
            self._make_batches(X, y),
            history=history,
            max_iter=1 if incremental else self._epoch_limit(),
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            rng=rng,
            validation=validation,
            verbose=self.verbose,
            check_convergence=not incremental,
        )

        for name, network in networks.items():
            setattr(self, name + "_", network)
        # A continuation draws from the stream this fit left, not from the
        # caller's RandomState (given as random_state), which it may draw from
        # between calls.
        self._rng = copy.deepcopy(rng) if rng is self.random_state else rng
        self._optimizer = optimizer
        self._history = history
        self._weightless_features = _weightless_features(self.encoder_)
        self.input_scale_ = self.encoder_.input_scale
        self.loss_curve_ = list(history.loss_curve)
        self.best_loss_ = history.best_loss
        self.n_iter_ = history.n_iter
        self.t_ = history.n_samples_seen
        if validation is not None:
            self.validation_scores_ = list(history.validation_scores)
            self.best_validation_score_ = history.best_validation_score
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
        self._n_features_out = self.encoder_.layer_sizes[-1]

    def _check_training_state(self, what):
        if any(name not in self.__dict__ for name in self._training_only_attributes):
            raise ValueError(
                f"{type(self).__name__}.{what} continues training, but this model's "
                "training state was removed by drop_training_state(). Fit it anew "
                "(warm_start=False), or keep a copy (copy.deepcopy) of the model before "
                "dropping its training state."
            )

    def drop_training_state(self):
        """Remove what only further training needs, for a smaller saved model.

        A fitted embedder holds the optimizer's state (for the Adam solver,
        two moment estimates of every weight, twice the size of the weights)
        so that ``partial_fit`` and ``warm_start`` resume exactly; the masked
        autoencoder also holds its decoder, as large as its encoder. Neither
        is needed to embed new rows. This method deletes them in place:
        ``transform`` gives the same embeddings as before, and the model
        pickles to a fraction of its size (the encoder and small metadata;
        see the README's "Saving and safe loading"). Afterwards,
        ``partial_fit`` and a fit with ``warm_start=True`` raise a
        ``ValueError`` (``fit`` without ``warm_start`` trains anew as
        always), and so do the autoencoder's ``score`` and
        ``inverse_transform``, which need the decoder. To keep a trainable
        model, drop the state of a copy: ``copy.deepcopy(model).drop_training_state()``.
        A ``TripletEmbedder`` fine-tuned from a fitted ``encoder_init`` holds
        that model as a parameter, and saves it too; its training state can be
        dropped as well, since a fine-tune reads only its encoder.

        Returns
        -------
        self : object
            The same estimator, without its training state.
        """
        check_is_fitted(self)
        for name in self._training_only_attributes:
            self.__dict__.pop(name, None)
        return self

    def _epoch_limit(self):
        """``max_iter``, or the estimator's :class:`EpochBudget` for ``"auto"``."""
        if self.max_iter == "auto":
            return self._auto_epochs
        return self.max_iter

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
        X = self._validate_X(X, reset=False, allow_empty=True)
        return self._encode(X)

    def _encode(self, X):
        """The embedding of validated rows.

        A row with no non-zero feature (an empty text, words all out of the
        vocabulary) carries nothing to place it by, and embeds to the zero
        vector rather than to the point the biases alone give, which every
        such row would share (a cosine similarity of 1 between unrelated
        products). So does a row whose every feature has all-zero weights in
        the first layer: from the ridge start, the words no labeled training
        row had (a vocabulary fitted on more products than the labeled ones)
        have exactly zero weights, and their rows would meet at that same
        point. Duplicate entries of a CSR row are summed first (a copy only
        for non-canonical input; TfidfVectorizer's is canonical), so that
        entries which cancel leave the row empty, as they do in training."""
        X = canonical_rows(X)
        encoder = self.encoder_
        if X.dtype != encoder.dtype:
            X = X.astype(encoder.dtype)
        embedding = encoder.predict(X)
        weightless = getattr(self, "_weightless_features", None)
        embedding[_rows_without_features(X, ignored=weightless)] = 0
        return embedding

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _has_no_rows(X):
    """Whether ``X`` is a table of zero rows (False for what is no table:
    validation says what is wrong with it)."""
    try:
        return _num_samples(X) == 0
    except TypeError:
        return False


def canonical_rows(X):
    """``X`` with one stored entry per non-zero value: a canonical copy of a
    CSR matrix with duplicate indices or stored zeros, else ``X`` itself.

    They hold the same values as their canonical form, but training draws
    one mask per stored entry (a duplicated feature would be half hidden):
    without this the same matrix stored two ways would train differently.
    Unsorted indices (TfidfVectorizer's) are left as they are: they change
    no mask, and sorting would copy every training matrix.
    """
    if not sp.issparse(X) or (X.has_canonical_format and X.data.all()):
        return X
    if X.data.all() and not _has_duplicate_indices(X):
        return X
    X = X.copy()
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


def _has_duplicate_indices(X, block=65536):
    """Whether a row of the CSR matrix ``X`` stores a column twice; checked
    ``block`` rows at a time, so the temporary arrays stay small."""
    for start in range(0, X.shape[0], block):
        part = X[start : start + block]
        rows = np.repeat(np.arange(part.shape[0], dtype=np.int64), np.diff(part.indptr))
        if X.has_sorted_indices:
            if np.any((np.diff(part.indices) == 0) & (np.diff(rows) == 0)):
                return True
            continue
        keys = np.sort(rows * X.shape[1] + part.indices)  # nearly sorted: fast
        if np.any(keys[1:] == keys[:-1]):
            return True
    return False


def _weightless_features(encoder):
    """Increasing indices of the features whose first-layer weights are all zero."""
    return np.flatnonzero(~np.any(encoder.coefs[0] != 0, axis=1))


def _rows_without_features(X, ignored=None):
    """Boolean mask of the rows of ``X`` with no non-zero entry outside the
    ``ignored`` columns (increasing indices, or None)."""
    counted = None
    if ignored is not None and len(ignored):
        counted = np.ones(X.shape[1], dtype=bool)
        counted[ignored] = False
    if sp.issparse(X):
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        present = X.data != 0
        if counted is not None:
            present &= counted[X.indices]
        return np.bincount(rows[present], minlength=X.shape[0]) == 0
    if counted is not None:
        X = X[:, counted]
    return ~np.any(X != 0, axis=1)
