"""MaskedAutoencoderEmbedder: self-supervised embeddings by masked reconstruction."""

from numbers import Integral, Real

import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseEmbedder, canonical_rows
from ._engine import resolve_batch_size, shuffled_batches
from ._masking import fill_missing
from ._network import MLP, unit_input_scale
from ._reconstruction import MaskedReconstruction, has_negative_values


# reconstruction_sampling="auto": measured on the shared catalogs (see
# benchmarks/RESULTS.md), sampling 2048 absent features costs about one point of
# precision@10 and saves more than half the training time on a 22k-word
# vocabulary; below 8192 features the full softmax is cheap enough.
_AUTO_SAMPLING_MIN_FEATURES = 8192
_AUTO_SAMPLED_FEATURES = 2048


class MaskedAutoencoderEmbedder(BaseEmbedder):
    """Product embeddings learned by reconstructing randomly masked features.

    Each training row has a random fraction ``mask_ratio`` of its features
    hidden; the encoder maps the corrupted row to ``n_components`` dimensions
    and the decoder reconstructs the whole row from that code. No labels are
    needed, so the model can pre-train on a whole catalog. The embedding
    (:meth:`transform`) is the encoder's output on the uncorrupted row.

    Parameters
    ----------
    n_components : int, default=64
        Dimension of the embedding (width of the encoder's last layer).
        It may exceed the number of input features (an overcomplete
        embedding, accepted without a warning): the embedding then has more
        dimensions than the information it encodes, which costs memory and
        search time downstream but not correctness.
    hidden_layer_sizes : array-like of int or int, default=()
        Widths of the encoder's hidden layers (an int: one layer), between the input and the
        embedding. The default, a single layer from the features to the
        embedding, is both fast and, on product-title TF-IDF, as good as
        deeper encoders or better: a tanh hidden layer of 256 units scored
        0.026 to 0.046 lower precision@10 on six catalog shapes of the zoo and
        0.0005 higher on the seventh, at 2 to 4 times the fit time
        (``benchmarks/RESULTS.md``).
    decoder_layer_sizes : array-like of int or int, default=None
        Widths of the decoder's hidden layers, between the embedding and the
        reconstruction. None mirrors ``hidden_layer_sizes``.
    activation : {"auto", "tanh", "relu", "identity"}, default="auto"
        Activation of every encoder layer (the embedding included) and of
        the decoder's hidden layers; the decoder's output is linear.
        ``"auto"``: a linear embedding layer, and tanh on the hidden layers
        (of the encoder and the decoder) if there are any. With the default
        single layer it is a linear autoencoder, which scored above a tanh
        embedding on every one of the 21 catalog shapes of the zoo in
        ``benchmarks/RESULTS.md`` (by 0.0003 to 0.010 of precision@10).
        An explicit value applies to every layer; ``"identity"`` with no
        hidden layers equals ``"auto"``.
    mask_ratio : float in [0, 1), default=0.5
        Probability that each feature of a training row is hidden. For sparse
        input only the stored (non-zero) entries are masked.
    corruption : {"zero", "marginal"}, default="zero"
        How a hidden feature is hidden: set to zero, or replaced by the same
        feature of another random row of the batch (SCARF).
    loss : {"auto", "mse", "multinomial"}, default="auto"
        Reconstruction loss. ``"mse"``: squared error on every feature.
        ``"multinomial"``: each row, normalised to sum to one, is treated as a
        distribution over features and scored by the log-likelihood of a
        softmax over the decoder's outputs (Mult-DAE). It suits non-negative
        bag-of-words input such as TF-IDF or counts, where squared error is
        dominated by the many zeros; it requires non-negative X. ``"auto"``
        chooses ``"multinomial"`` for sparse non-negative input and
        ``"mse"`` otherwise. The choice is stored in ``loss_``.
    reconstruction_sampling : "auto", int or None, default="auto"
        Reconstruction sampling for wide sparse input (Dauphin, Glorot and
        Bengio, 2011): each training batch reconstructs only the features
        present in the batch plus this many features drawn at random among
        the absent ones, reweighted so the loss is estimated without bias
        (``"mse"``) or consistently (the ``"multinomial"`` normaliser). Each
        step then updates only the weights the batch touches: the encoder
        rows of the features stored in the batch and the decoder columns it
        reconstructs, with their share of the L2 penalty (lazy updates; the
        other weights catch up on their momentum in closed form before a
        batch next reads them and at the end of each epoch, so that training
        follows dense updates, exactly for SGD with ``alpha=0``; Adam's
        catch-up is approximate), so the cost of a step grows
        with the number of stored entries rather than with the vocabulary.
        None reconstructs every feature.
        ``"auto"`` samples 2048 features for sparse input with more than
        8192 features, where the full reconstruction dominates the cost,
        and reconstructs every feature otherwise. :meth:`score` and early
        stopping always use every feature.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer; ``"sgd"`` uses Nesterov momentum ``momentum``.
    alpha : float, default=1e-4
        L2 penalty on the weights, scaled as in scikit-learn's MLP. It sets
        how much of the rare words that tell one product from another the
        embedding keeps: the default keeps them (same-product neighbours,
        pre-training for pairs); about 0.1 gave broader, category-like
        neighbours on most catalogs measured, and less same-product recall
        (README, "Which neighbours"). Much larger values collapse the
        embedding.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(512, n_samples)``.
    learning_rate_init : float, default=1e-2
        Step size of the optimizer. Higher than MLPRegressor's 1e-3: on
        TF-IDF input the decoder's reconstruction converges in far fewer
        epochs, and the embedding was as good or better at 20 epochs than
        with 3e-3 on every catalog measured (``benchmarks/RESULTS.md``).
    max_iter : int or "auto", default="auto"
        Maximum number of epochs. ``"auto"`` follows the data: at least 20
        epochs (beyond 50,000 rows an epoch, ``ceil(20 * sqrt(50000 /
        rows))``: 5 at 1,000,000 rows, which need fewer epochs) and enough
        for 300 optimizer steps (a small catalog has few steps an epoch),
        then until the training loss improves by less than 5% over
        ``n_iter_no_change`` epochs (its plateau: no warning), at most 200
        epochs (a ``ConvergenceWarning`` if no plateau came by then). With
        early stopping, the validation score decides instead.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation score) that counts.
    n_iter_no_change : int, default=5
        Epochs without improvement before training stops (with
        ``max_iter="auto"``, only once its least epochs have run).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when the masked
        reconstruction score on them stops improving, and restore the
        weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the rows held out when ``early_stopping`` is True.
    momentum : float, default=0.9
        Momentum of the ``"sgd"`` solver.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Parameters of the ``"adam"`` solver. ``beta_2`` must be at least
        ``beta_1**2``: below, Adam's steps grow while a weight's gradient is
        zero (a feature absent from the batches), so a fit raises a
        ``ValueError``.
    warm_start : bool, default=False
        Continue from the previous fit instead of reinitialising: its
        weights and the optimizer's state (step count, moment estimates),
        as ``partial_fit`` does. The solver's parameters
        (``learning_rate_init``, ``momentum``, ``beta_1``, ``beta_2``,
        ``epsilon``) are read anew, so ``set_params`` between two calls
        takes effect; another ``solver`` starts with a fresh state.
    verbose : bool or int, default=False
        1 (True) prints one line per epoch (loss, validation score, seconds)
        and why training stopped; 2 adds the optimizer steps, rows per
        second and the epochs without improvement.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the masks, the batch order and the validation
        split. An int makes ``fit`` repeatable.

    Attributes
    ----------
    encoder_ : MLP
        The encoder network (``encoder_.coefs``, ``encoder_.intercepts``).
    decoder_ : MLP
        The decoder network (removed by :meth:`drop_training_state`).
    loss_ : str
        The reconstruction loss used, ``"mse"`` or ``"multinomial"``.
    input_scale_ : float
        The power of two the encoder multiplies its input rows by, chosen at
        the first fit so that they have a root mean square norm between
        0.71 and 1.41 (1.0 for l2-normalised rows such as TF-IDF's; rows
        without a feature are not counted). The defaults were measured on
        unit-norm rows; with it, features at any overall scale (counts, raw
        measurements, values near 1e-6) train as well. The ``"mse"`` loss,
        ``loss_curve_`` and :meth:`score` are on the scaled rows;
        :meth:`inverse_transform` returns X's units. The relative scale of
        the columns is kept: standardise columns of different units first.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_scores_ : list of float or None
        Validation score (minus the reconstruction loss) of each epoch, when
        ``early_stopping`` is True.
    best_loss_ : float
        Lowest training loss seen.
    best_validation_score_ : float or None
        Best validation score, when ``early_stopping`` is True.
    n_iter_ : int
        Number of epochs run.
    t_ : int
        Number of training rows the optimizer has seen, over all epochs and
        ``partial_fit`` calls (as in scikit-learn's MLP).
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of str
        Input feature names, when X has string column names.

    See Also
    --------
    TripletEmbedder : Supervised embeddings that can start from this model.
    sklearn.decomposition.TruncatedSVD : The linear baseline.

    Notes
    -----
    Missing values (NaN) are allowed: they are hidden from the encoder like
    masked features and are never a reconstruction target, so
    ``inverse_transform(transform(X))`` fills them in (the model doubles as an
    imputer). Infinite values are rejected.

    If training is interrupted (an exception or a KeyboardInterrupt), the
    estimator is left exactly as it was before the call: unfitted, or with
    its previous fit. If the loss becomes non-finite, training stops with a
    ``ConvergenceWarning`` and keeps the weights of the last finite epoch.

    pandas or polars output of a text pipeline: ``make_pipeline(TfidfVectorizer(),
    embedder).set_output(transform="pandas")`` raises, because the
    vectorizer's sparse output has no ``set_output``. Set it on the embedder
    step, ``pipe[-1].set_output(transform="pandas")`` (or on the embedder
    before building the pipeline), or run the pipeline inside
    ``with sklearn.config_context(transform_output="pandas"):``; the columns
    are named ``maskedautoencoderembedder0``, ``maskedautoencoderembedder1``, ...

    Examples
    --------
    >>> import numpy as np
    >>> from sk_prodembed import MaskedAutoencoderEmbedder
    >>> X = np.random.RandomState(0).rand(100, 20)
    >>> embedder = MaskedAutoencoderEmbedder(n_components=4, max_iter=5, random_state=0)
    >>> embedder.fit_transform(X).shape
    (100, 4)
    >>> len(embedder.loss_curve_)
    5
    """

    _parameter_constraints: dict = {
        **BaseEmbedder._parameter_constraints,
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "decoder_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "activation": [StrOptions({"auto", "tanh", "relu", "identity"})],
        "mask_ratio": [Interval(Real, 0, 1, closed="left")],
        "corruption": [StrOptions({"zero", "marginal"})],
        "loss": [StrOptions({"auto", "mse", "multinomial"})],
        "reconstruction_sampling": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
    }

    _network_names = ("encoder", "decoder")
    _training_only_attributes = ("_optimizer", "decoder_")
    _ensure_all_finite = "allow-nan"

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(),
        decoder_layer_sizes=None,
        activation="auto",
        mask_ratio=0.5,
        corruption="zero",
        loss="auto",
        reconstruction_sampling="auto",
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate_init=1e-2,
        max_iter="auto",
        tol=1e-4,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        momentum=0.9,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        warm_start=False,
        verbose=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.decoder_layer_sizes = decoder_layer_sizes
        self.activation = activation
        self.mask_ratio = mask_ratio
        self.corruption = corruption
        self.loss = loss
        self.reconstruction_sampling = reconstruction_sampling
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.momentum = momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state

    # -- hooks of BaseEmbedder ---------------------------------------------

    def _validate_training_data(self, X, y, reset):
        X = self._validate_X(X, reset=reset)
        loss = self._resolve_loss(X) if reset else self.loss_
        _check_non_negative(X, loss)
        self.loss_ = loss
        return X, None

    def _resolve_loss(self, X):
        if self.loss != "auto":
            return self.loss
        if sp.issparse(X) and not has_negative_values(X):
            return "multinomial"
        return "mse"

    def _initialize_networks(self, X, y, rng):
        encoder_hidden = self._check_hidden_layer_sizes("hidden_layer_sizes")
        if self.decoder_layer_sizes is None:
            decoder_hidden = encoder_hidden[::-1]
        else:
            decoder_hidden = self._check_hidden_layer_sizes("decoder_layer_sizes")
        n_features = X.shape[1]
        hidden_activation, embedding_activation = self._layer_activations()
        encoder = MLP.initialize(
            [n_features, *encoder_hidden, self.n_components],
            hidden_activation,
            embedding_activation,
            X.dtype,
            rng,
            input_scale=unit_input_scale(X),
        )
        decoder = MLP.initialize(
            [self.n_components, *decoder_hidden, n_features],
            hidden_activation,
            "identity",
            X.dtype,
            rng,
        )
        return {"encoder": encoder, "decoder": decoder}

    def _layer_activations(self):
        """(hidden layers', embedding layer's) activations."""
        if self.activation == "auto":
            return "tanh", "identity"
        return self.activation, self.activation

    def _make_objective(self, networks, X, y):
        return self._objective(networks["encoder"], networks["decoder"], X)

    def _objective(self, encoder, decoder, X=None):
        """The reconstruction objective; ``X`` is the training data, None for
        scoring, which reconstructs every feature."""
        return MaskedReconstruction(
            encoder,
            decoder,
            loss=self.loss_,
            mask_ratio=self.mask_ratio,
            corruption=self.corruption,
            alpha=self.alpha,
            n_sampled_features=None if X is None else self._n_sampled_features(X),
        )

    def _make_batches(self, X, y):
        return shuffled_batches(X.shape[0], resolve_batch_size(self.batch_size, X.shape[0]))

    def _n_sampled_features(self, X):
        if self.reconstruction_sampling != "auto":
            return self.reconstruction_sampling
        if sp.issparse(X) and X.shape[1] > _AUTO_SAMPLING_MIN_FEATURES:
            return _AUTO_SAMPLED_FEATURES
        return None

    def _encode(self, X):
        # Missing entries enter the encoder as masked (zero) ones.
        return super()._encode(fill_missing(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- public API --------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on X for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows; sparse input is never densified beyond a batch.
        y : None
            Ignored.

        Returns
        -------
        self : MaskedAutoencoderEmbedder
        """
        return self._fit(X, None, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """One epoch over X, continuing from the current weights and optimizer.

        The first call initialises the model from X; a later call with no
        rows (an empty block of a dask array) changes nothing. As in
        scikit-learn's MLP, ``early_stopping=True`` raises a ``ValueError``
        (a single epoch has no validation curve).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : MaskedAutoencoderEmbedder
        """
        return self._fit(X, None, incremental=True)

    def inverse_transform(self, X):
        """Decode embeddings back to feature space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features_in_)
            The reconstruction with ``loss_="mse"``; with
            ``loss_="multinomial"``, the predicted distribution over features
            (rows sum to one, the scale of the original row is not modelled).
        """
        check_is_fitted(self)
        self._check_decoder("inverse_transform")
        X = self._check_codes(X)
        return self._objective(self.encoder_, self.decoder_).reconstruct(X)

    def _check_decoder(self, what):
        if "decoder_" not in self.__dict__:
            raise ValueError(
                f"MaskedAutoencoderEmbedder.{what} needs the decoder, which "
                "drop_training_state() removed; transform still works. Keep a copy "
                "(copy.deepcopy) of the model before dropping its training state to "
                f"use {what}."
            )

    def _check_codes(self, X):
        X = check_array(X, dtype=self.encoder_.dtype)
        if X.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {X.shape[1]} columns, but inverse_transform expects "
                f"embeddings with n_components={self._n_features_out} columns."
            )
        return X

    def score(self, X, y=None):
        """Minus the mean masked-reconstruction loss of X (higher is better).

        The masks are drawn with a fixed seed, so the score is deterministic
        and comparable between models; ``GridSearchCV`` can tune the
        estimator on its own.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        self._check_decoder("score")
        X = canonical_rows(self._validate_X(X, reset=False))  # the masks, as in training
        # A multinomial loss of negative X would skip rows and score -0.0, the best.
        _check_non_negative(X, self.loss_)
        if X.dtype != self.encoder_.dtype:
            X = X.astype(self.encoder_.dtype)
        return self._objective(self.encoder_, self.decoder_).validation_score(X)


def _check_non_negative(X, loss):
    if loss == "multinomial" and has_negative_values(X):
        raise ValueError(
            "loss='multinomial' needs non-negative X (such as TF-IDF or counts), "
            "but X has negative values. Use loss='mse' for signed features."
        )
