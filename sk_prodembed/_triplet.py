"""TripletEmbedder: supervised embeddings by minibatch triplet mining, semi-supervised
through masked views, optionally fine-tuned from a MaskedAutoencoderEmbedder."""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples, check_is_fitted

from ._base import BaseEmbedder
from ._contrastive import TripletObjective, leave_one_out_precision, to_embedding
from ._engine import resolve_batch_size
from ._miners import UNLABELED
from ._network import MLP, unit_input_scale
from ._pair_batches import pair_batches
from ._pair_objective import PairFitInput, PairObjective, PairTargets, check_pair_supervision
from ._proxies import initial_proxies, place_at_class_means
from ._sampling import class_balanced_batches
from ._supervised_start import initialize_from_labels
from ._values import is_missing
from .pairs import RowPairs

# Margins of ``margin="auto"``: a cosine distance lives in [0, 2]; tanh
# embeddings of 64 dimensions are a few units apart in euclidean distance.
DEFAULT_MARGINS = {"cosine": 0.2, "euclidean": 1.0}
SCORE_NEIGHBOURS = 10


def _unlabeled_mask(y):
    """Rows marked unlabeled: the integer -1, scikit-learn's convention.

    The string ``"-1"`` is rejected in every array type (numpy ``U``/``S``
    arrays, object arrays, which is what pandas Series of strings become):
    it could be a real class name or a mark that lost its type on the way
    from a file, and guessing either way silently changes the fit.
    """
    if y.dtype.kind in "USO":
        is_string_minus_one = np.fromiter(
            (
                (isinstance(v, str) and v == "-1") or (isinstance(v, bytes) and v == b"-1")
                for v in y.ravel()
            ),
            dtype=bool,
            count=y.size,
        )
        if is_string_minus_one.any():
            raise ValueError(
                f"y contains the string '-1' ({int(is_string_minus_one.sum())} rows), which "
                "could be a class name or a mark of unlabeled rows. Unlabeled rows are marked "
                "by the integer -1: pass y with dtype=object holding -1 for them, for example "
                "y = np.asarray(y, dtype=object); y[y == '-1'] = -1 (a list mixing strings "
                "and -1 becomes all strings in numpy), or rename the class if it is one."
            )
    if y.dtype.kind in "US":
        return np.zeros(y.shape[0], dtype=bool)
    return np.asarray(y == UNLABELED, dtype=bool)


def _check_no_missing_labels(y):
    y = np.asarray(y)
    if y.dtype.kind == "f":
        missing = np.isnan(y)
    elif y.dtype.kind == "O":
        # pandas' NA (a nullable "string" or "Int64" column) is neither None nor NaN.
        missing = np.array([is_missing(v) for v in y.ravel()], dtype=bool)
    else:
        return
    if missing.any():
        raise ValueError(
            f"y has {int(missing.sum())} missing label(s) (NaN, None or NA). Every row "
            "needs a label; mark rows without one as unlabeled with the integer -1."
        )


def _kind_of_labels(labels):
    """"number" or "string" (None for no labels); a ValueError if they mix."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return None
    if labels.dtype.kind in "US":
        return "string"
    if labels.dtype.kind != "O":
        return "number"
    kinds = {"string" if isinstance(v, (str, bytes)) else "number" for v in labels.ravel()}
    if len(kinds) > 1:
        raise ValueError(
            "y mixes strings and numbers as labels; give every labeled row a label of "
            "the same kind (unlabeled rows are the integer -1)."
        )
    return kinds.pop()


def _merge_classes(classes, new_labels):
    """The sorted union of ``classes`` (None or possibly empty, after a fit
    on pairs only) and ``new_labels``, which must be labels of the same kind
    (numbers or strings): numpy would otherwise compare 0 with "0" as equal
    strings, or fail on the comparison. ``new_labels`` passed _validate_X_y,
    which checked that they do not mix kinds: the first one tells theirs."""
    if classes is None or len(classes) == 0:
        return np.unique(new_labels)
    new_kind = _kind_of_labels(new_labels[:1])
    known_kind = _kind_of_labels(classes[:1])
    if new_kind is not None and new_kind != known_kind:
        raise ValueError(
            f"y has {new_kind} labels, but the model was fitted on {known_kind} labels "
            f"(classes_ {classes[:5].tolist()}...). partial_fit and warm_start continue "
            "with labels of the same kind."
        )
    return np.union1d(classes, new_labels)


# learning_rate_init="auto": from the ridge start, training refines a map
# that already classifies, and the step size of a random start (3e-3) undid
# it within a few epochs on small catalogs; but the self-supervised term of
# unlabeled rows learns from scratch and needs the larger step (Instacart at
# 2% labels: 0.463 at 3e-4, 0.504 at 3e-3; benchmarks/RESULTS.md). The step
# goes geometrically from one to the other with the fraction of labeled rows.
DEFAULT_LEARNING_RATE = 3e-3
RIDGE_START_LEARNING_RATE = 3e-4

# loss="auto": the proxy loss when the classes are small, the triplet loss when
# they are large. Over three seeds on the 21 shapes of the catalog zoo
# (benchmarks/RESULTS.md; every row labeled, the ridge start) the proxy loss
# scored at or above the triplet loss (within 0.0005) on every shape whose
# median class has fewer than 45 training rows (by up to 0.008), and the
# triplet loss at or above the proxy loss (within 0.0005) on every shape whose
# median class has more than 60 (by up to 0.009): a batch of a few classes of 4
# rows holds few distinct positives of a small class, while a proxy stands for
# its whole class at every step. But with 2% or 10% of the rows labeled (the
# rest -1) and from a pre-trained autoencoder, the proxy loss scored below
# the triplet loss on both catalogs of bench_triplet (semi-supervised -0.002 to
# -0.004, fine-tuned -0.001 to -0.014), so "auto" keeps the triplet loss unless
# the fit starts at the ridge start with at least half of its rows labeled.
AUTO_PROXY_ROWS_PER_CLASS = 50
AUTO_PROXY_LABELED_FRACTION = 0.5


def _encode_against(y, unlabeled, classes):
    codes = np.full(y.shape[0], UNLABELED, dtype=np.intp)
    codes[~unlabeled] = np.searchsorted(classes, y[~unlabeled])
    return codes


class TripletEmbedder(BaseEmbedder):
    """Embeddings in which rows of the same label are closer than other rows, by a margin.

    Each minibatch draws ``classes_per_batch`` labels and
    ``samples_per_class`` rows of each; a miner picks (anchor, positive,
    negative) triples among them and the triplet loss pulls each anchor
    towards its positive and away from its negative. Rows labelled -1
    (unlabeled) take part through a self-supervised term: two masked views of
    the same row must be closer to each other than to the other rows' views
    (NT-Xent). All rows -1 is a fully self-supervised fit. The encoder can
    start from a pre-trained :class:`MaskedAutoencoderEmbedder`
    (``encoder_init``), which has learned from the unlabeled rows already:
    a fine-tune with labels then leaves them out (``unlabeled_weight``).

    ``fit(X, pairs=...)`` learns from pairs of rows that belong together
    instead of, or along with, labels: products bought together, the same
    product sold by two shops. Each batch of ``pairs_per_batch`` pairs pulls
    every row towards its partner and away from the batch's other rows,
    except its known partners (an in-batch softmax, InfoNCE); (anchor,
    positive, negative) triples are trained by the triplet loss.

    Parameters
    ----------
    n_components : int, default=64
        Dimension of the embedding.
        It may exceed the number of input features (an overcomplete
        embedding, accepted without a warning): the embedding then has more
        dimensions than the information it encodes, which costs memory and
        search time downstream but not correctness.
    hidden_layer_sizes : array-like of int or int, default=()
        Widths of the encoder's hidden layers. The default, one layer from
        the features to the embedding, is fast on wide sparse input and as
        good as deeper encoders on product-title TF-IDF.
    activation : {"tanh", "relu", "identity"}, default="tanh"
        Activation of every encoder layer, the embedding included.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance of the embedding. ``"cosine"``: the encoder's output is
        scaled to unit length and the distance is ``1 - cos``; ``transform``
        returns the unit vectors, so cosine and euclidean nearest neighbours
        agree downstream. ``"euclidean"``: the plain euclidean distance of
        the raw outputs.
    loss : {"auto", "triplet", "proxy"}, default="auto"
        The supervised loss of the labeled rows. ``"triplet"``: mined
        triplets with ``miner`` and ``margin``. ``"proxy"``: the
        normalised-softmax loss (Zhai and Wu 2018): each class learns a proxy
        direction and each labeled row is classified among all proxies by
        cosine similarity over ``proxy_temperature``, so every row is
        trained against every class at every step, which suits many small
        classes; it compares directions whatever the ``metric``. A later
        ``partial_fit`` or warm-started fit may bring new classes: each gets
        a proxy at the mean unit embedding of its rows, the known proxies
        carry on. ``"auto"``: ``"proxy"`` when the median class has fewer
        than 50 labeled rows, the fit starts at ``encoder_init="ridge"`` and
        at least half of the rows are labeled; ``"triplet"`` otherwise, and
        in ``partial_fit`` (whose first call sees one chunk of the catalog,
        with smaller classes than the catalog's; only whole fits were
        measured) and with pairs.
        Over three seeds on the 21 shapes of the catalog zoo
        (``benchmarks/RESULTS.md``, all rows labeled) the proxy loss scored
        at or above the triplet loss (within 0.0005) on every shape whose
        median class has fewer than 45 rows, the triplet loss at or above it
        on every shape whose median class has more than 60; with 2% or 10%
        of the rows labeled, or fine-tuning a pre-trained autoencoder, the
        triplet loss scored higher. The choice is stored in ``loss_``.
    proxy_temperature : float, default=0.3
        Temperature of the ``"proxy"`` loss. On the catalog zoo of
        ``benchmarks/RESULTS.md`` 0.3 scored above 0.05 (Zhai and Wu's value)
        on all 21 catalog shapes, by 0.006 to 0.064, and within 0.005 of the
        better of 0.1 and 0.2 on every one: a low temperature makes every
        training row certain of its class, which over-fits catalogs of short
        names and small classes.
    miner : {"batch_hard", "semi_hard", "batch_all"}, default="batch_hard"
        Which triples of a batch are trained on. ``"batch_hard"``: each
        anchor with its farthest positive and closest negative.
        ``"semi_hard"``: each positive pair with its closest negative that
        is farther than the positive (FaceNet). ``"batch_all"``: every
        triple that violates the margin.
    margin : float, "auto" or "soft", default="soft"
        ``"soft"``: the soft margin ``log(1 + exp(d(a, p) - d(a, n)))``
        (Hermans et al. 2017), which needs no scale, so it suits both
        metrics, and keeps pulling triples that already satisfy a margin; it
        scored 0.5-1 point of precision@10 above the hinge on the shared
        catalogs (``benchmarks/RESULTS.md``). A float: the hinge
        ``max(0, d(a, p) - d(a, n) + margin)``. ``"auto"``: the hinge with a
        margin suited to the metric, 0.2 for the cosine distance (which lies
        in [0, 2]) and 1.0 for the euclidean one.
    classes_per_batch : int, default=64
        Labels drawn per batch (P). Larger batches mean fewer optimizer steps
        per epoch, which is what a fit on wide sparse input spends its time
        on, and they scored as well as 32 on the shared catalogs.
    samples_per_class : int, default=4
        Rows drawn per label (K, on average with ``class_sampling="sqrt"``);
        labels with fewer rows are drawn with replacement, and a label with a
        single row serves only as a negative.
    class_sampling : {"sqrt", "uniform"}, default="sqrt"
        How batches weigh the labels. ``"uniform"``: P labels drawn
        uniformly, K rows of each (Hermans et al. 2017), so the largest
        category of a catalog counts as much as the smallest, and the
        embedding leans towards the rare ones. ``"sqrt"``: labels drawn, and
        the batch's P x K labeled rows split among them, in proportion to
        the square roots of their sizes (at least 2 rows each): large
        categories are seen more often than small ones, less than in
        proportion to their size. On the catalog zoo of
        ``benchmarks/RESULTS.md`` it scored at or above ``"uniform"`` on
        every entry but one, most on the skewed Instacart departments.
    mask_ratio : float in [0, 1), default=0.5
        Share of the (stored) features of an unlabeled row hidden in each of
        its two views, as in :class:`MaskedAutoencoderEmbedder`.
    corruption : {"zero", "marginal"}, default="zero"
        How hidden features of the views are hidden.
    temperature : float, default=1.0
        Temperature of the self-supervised NT-Xent term. Low temperatures
        (0.1, as in SimCLR) make it an instance discrimination that pulls
        the embedding back towards word overlap and, on product titles, cost
        precision as soon as a tenth of the rows are labeled.
    unlabeled_weight : float or "auto", default="auto"
        Weight of the self-supervised term, relative to the triplet loss,
        in batches that hold both labeled and unlabeled rows. 0 leaves the
        unlabeled rows out of training altogether, as if they had not been
        given (an error if no row is labeled); with pairs, the rows stay
        (pairs index them) but no longer train the term. ``"auto"`` is 0 when
        ``encoder_init`` is a fitted model and the fit has labeled rows or
        pairs, 1 otherwise: a pre-trained encoder has already learned what
        the unlabeled rows teach, and the term pulled its fine-tuning away
        from it (bench_triplet, in ``benchmarks/RESULTS.md``: fine-tuned at
        2% of Flipkart's labels 0.774 with the term, 0.795 without it, at a
        tenth of the time); from any other start the term helps (Instacart
        at 2% of the labels: 0.504 with the unlabeled rows, 0.396 without).
        The value used is ``unlabeled_weight_``.
    encoder_init : {"ridge", "random"} or fitted MaskedAutoencoderEmbedder, \
            default="ridge"
        Where the encoder starts. ``"ridge"``: the first layer's first units
        (as many as there are classes, up to the layer's width) start at a
        ridge regression of the labeled rows onto codes of their classes
        (one-hot up to ``n_components`` classes, orthonormal random codes
        beyond; linear discriminant analysis by optimal scoring, solved by
        10 conjugate-gradient steps on the sparse rows: 0.06 s for Flipkart's
        8,068 float32 rows, 0.2-0.3 s for Instacart's 34,781, 2-3% of a
        default fit), the rest Glorot-uniform: the fit starts as a linear
        classifier instead of a random map, and with ``loss="proxy"`` each
        proxy starts at its class's mean embedding. On the catalog zoo of
        ``benchmarks/RESULTS.md`` this start (with ``learning_rate_init``
        "auto"; both with the triplet loss) scored above the random start on
        17 of 21 catalog shapes over three seeds (by up to 0.043, most on
        short Instacart names) and within 0.001 on the other 4. It holds an
        ``(n_samples, k)`` array twice during its steps. A fit without
        labeled rows (pairs only, or all rows -1) starts at random.
        ``"random"``: Glorot-uniform weights.
        A fitted :class:`MaskedAutoencoderEmbedder`: start from a copy of
        its encoder, which is never modified. Its input width must be the
        number of features of X, its layer sizes those of this model
        (``hidden_layer_sizes``, ``n_components``) and its hidden layers'
        activation this model's ``activation``; the copied embedding layer
        takes this model's activation (the autoencoder's default embedding
        is linear, and tanh of its scaled copy, see ``encoder_init_scale``,
        keeps its neighbours nearly unchanged). Cloning a TripletEmbedder
        (as ``GridSearchCV`` does) keeps the same fitted ``encoder_init``.
    encoder_init_scale : float, default=0.1
        Factor applied to the copied weights and biases of the embedding
        layer (the encoder's last layer) of ``encoder_init``. A masked
        autoencoder ends with weights far larger than a fresh
        initialisation (15 to 45 times on the shared catalogs), where steps
        of ``learning_rate_init`` barely move them and saturated tanh units
        pass little gradient: fine-tuned unscaled, it stayed at the
        autoencoder's precision even with all labels. Near zero, tanh is
        almost linear, so scaling the layer down keeps the direction of
        each embedding, hence its cosine neighbours, nearly unchanged (the
        precision@10 of the scaled, untrained model moved by less than one
        point, upwards), while training then moves as fast as from a fresh
        start.
        1.0 copies the weights unchanged.
    solver : {"adam", "sgd"}, default="adam"
        Optimizer; ``"sgd"`` uses Nesterov momentum ``momentum``.
    alpha : float, default=1e-4
        L2 penalty on the weights, scaled as in scikit-learn's MLP.
    unlabeled_batch_size : int or "auto", default="auto"
        The most unlabeled (-1) rows per batch; ``"auto"`` is
        ``min(512, n_samples)``, the autoencoder's default batch size. Labeled
        rows are drawn as ``classes_per_batch * samples_per_class``;
        unlabeled rows join in proportion to their share of the data, up to
        this many (a fully unlabeled fit draws exactly this many). Named
        apart from the autoencoder's ``batch_size``, the rows of a whole
        batch, which it is not.
    pairs_per_batch : int, default=256
        Pairs (or triples) per batch of a fit with ``pairs``; their distinct
        rows are the batch, and every other row of the batch is a negative
        of each pair. An epoch covers every pair once (or, with labels too,
        as many steps as the labels need if those are more).
    pair_temperature : float, default=0.1
        Temperature of the in-batch softmax over pairs: the cosine
        similarities are divided by it. Separate from ``temperature`` (of
        the self-supervised term), since pairs are far sharper evidence than
        two masked views of one row.
    pair_popularity_correction : bool, default=False
        Subtract from each candidate's logit the log of its number of pairs
        (the sampling-bias correction of Yi et al. 2019): a product in many
        pairs is drawn into many batches, so without it the softmax pushes
        popular products away from everything, although they are the
        partners new products most often have.
    learning_rate_init : float or "auto", default="auto"
        Step size of the optimizer. ``"auto"``: from the ridge start
        (``encoder_init="ridge"`` with labeled rows), ``3e-4 ** f * 3e-3 **
        (1 - f)`` for a fraction ``f`` of labeled rows: 3e-4 when every row
        is labeled, as the start already classifies and 3e-3 undid it within
        a few epochs on small catalogs, towards 3e-3 as unlabeled rows
        dominate, whose self-supervised term learns from scratch (at 2%
        labels on Instacart, 3e-4 scored 0.04 below 3e-3). 3e-3 from any
        other start (random, a fitted autoencoder, pairs only).
    max_iter : int or "auto", default="auto"
        Maximum number of epochs; an epoch draws about ``n_samples`` rows.
        ``"auto"`` follows the data: at least 20 epochs (beyond 50,000 rows
        an epoch, ``ceil(20 * sqrt(50000 / rows))``: 5 at 1,000,000 rows,
        which need fewer epochs) and enough for 300 optimizer steps (a small
        catalog has few steps an epoch), then until the training loss
        improves by less than 5% over ``n_iter_no_change`` epochs (its
        plateau: no warning), at most 200 epochs (a ``ConvergenceWarning``
        if no plateau came by then). With early stopping, the validation
        score decides instead.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation score) that counts.
    n_iter_no_change : int, default=5
        Epochs without improvement before training stops (with
        ``max_iter="auto"``, only once its least epochs have run).
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the rows, stop when
        their leave-one-out precision@10 stops improving, and restore the
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
        Seeds the weights, the batches, the masks and the validation split.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in training, unlabeled (-1) excluded.
    encoder_ : MLP
        The encoder network (``encoder_.coefs``, ``encoder_.intercepts``).
    loss_ : str
        The supervised loss used, ``"triplet"`` or ``"proxy"`` (see ``loss``).
    input_scale_ : float
        The power of two the encoder multiplies its input rows by, chosen at
        the first fit so that they have a root mean square norm between
        0.71 and 1.41 (1.0 for l2-normalised rows such as TF-IDF's; rows
        without a feature are not counted), or the ``encoder_init`` model's,
        whose weights expect it. The defaults were measured on unit-norm
        rows; with it, features at any overall scale train as well. The
        relative scale of the columns is kept: standardise columns of
        different units first.
    unlabeled_weight_ : float
        The weight of the self-supervised term in the last fit or
        ``partial_fit`` call (see ``unlabeled_weight``).
    proxies_ : ndarray of shape (n_classes, n_components)
        The class proxies, with the proxy loss (row ``i`` for
        ``classes_[i]``; only their directions count).
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_scores_ : list of float or None
        Validation precision@10 of each epoch, when ``early_stopping`` is
        True (minus the self-supervised loss if no validation row is
        labeled).
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
    MaskedAutoencoderEmbedder : Self-supervised pre-training for ``encoder_init``.
    sklearn.neighbors.NeighborhoodComponentsAnalysis : Linear metric learning.

    Notes
    -----
    Pairs are row indices into ``X``, which cross-validation does not
    re-index: to tune a pair fit with ``GridSearchCV``, wrap them in a
    :class:`sk_prodembed.pairs.RowPairs` and split with
    :class:`sk_prodembed.pairs.PairSplit`. ``early_stopping`` does not apply
    to a fit with pairs (a split of the rows would cut pairs in two).

    Labels are discrete classes: integers, or strings (floats of integer
    value, such as 3.0, count as integers; other floats are refused as
    continuous targets, and so are mixes of strings and numbers). The
    integer -1 marks an unlabeled row; with string labels, pass ``y`` with
    ``dtype=object`` to mix them
    with -1. The string ``"-1"`` is rejected as ambiguous, whatever holds
    it (a numpy string or object array, a list, a pandas Series of any
    string dtype), with the one-line conversion to use; labels read from a
    file, where -1 arrives as text, need that conversion. NaN labels are an
    error. Unlabeled rows are never used as positives or negatives of the
    labeled rows, since they may share an anchor's label.

    On sparse input, each step updates only the encoder's first-layer rows of
    the features stored in the batch, with their share of the L2 penalty
    (lazy updates, as :class:`MaskedAutoencoderEmbedder` with reconstruction
    sampling): the other rows catch up on their momentum in closed form
    before a batch next reads them and at the end of each epoch. A step then
    costs in proportion to the stored entries, not to the vocabulary; with
    ``solver="sgd"`` and ``alpha=0`` the model equals the one trained on the
    dense form of the same input.

    pandas or polars output of a text pipeline: ``make_pipeline(TfidfVectorizer(),
    embedder).set_output(transform="pandas")`` raises, because the
    vectorizer's sparse output has no ``set_output``. Set it on the embedder
    step, ``pipe[-1].set_output(transform="pandas")`` (or on the embedder
    before building the pipeline), or run the pipeline inside
    ``with sklearn.config_context(transform_output="pandas"):``; the columns
    are named ``tripletembedder0``, ``tripletembedder1``, ...

    Examples
    --------
    >>> import numpy as np
    >>> from sk_prodembed import TripletEmbedder
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat(["shoes", "toys", "books"], 30)
    >>> X = rng.rand(90, 12) + 2 * (y[:, None] == np.array(["shoes", "toys", "books"] * 4))
    >>> embedder = TripletEmbedder(n_components=4, max_iter=5, random_state=0)
    >>> embedder.fit_transform(X, y).shape
    (90, 4)
    >>> embedder.score(X, y) > 0.9
    True

    Pairs instead of labels: rows 3k, 3k + 1 and 3k + 2 are one product.

    >>> pairs = np.array([(i, i + j) for i in range(0, 90, 3) for j in (1, 2)])
    >>> embedder = TripletEmbedder(n_components=4, max_iter=5, random_state=0)
    >>> embedder.fit(X, pairs=pairs).transform(X).shape
    (90, 4)
    """

    _parameter_constraints: dict = {
        **BaseEmbedder._parameter_constraints,
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "miner": [StrOptions({"batch_hard", "semi_hard", "batch_all"})],
        "margin": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto", "soft"})],
        "classes_per_batch": [Interval(Integral, 2, None, closed="left")],
        "samples_per_class": [Interval(Integral, 2, None, closed="left")],
        "class_sampling": [StrOptions({"sqrt", "uniform"})],
        "mask_ratio": [Interval(Real, 0, 1, closed="left")],
        "corruption": [StrOptions({"zero", "marginal"})],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions({"auto", "triplet", "proxy"})],
        "proxy_temperature": [Interval(Real, 0, None, closed="neither")],
        "unlabeled_weight": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "encoder_init": [StrOptions({"ridge", "random"}), HasMethods(["transform"])],
        "encoder_init_scale": [Interval(Real, 0, None, closed="neither")],
        "unlabeled_batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "pairs_per_batch": [Interval(Integral, 1, None, closed="left")],
        "pair_temperature": [Interval(Real, 0, None, closed="neither")],
        "pair_popularity_correction": ["boolean"],
    }

    _stratify_validation = True

    def __init__(
        self,
        n_components=64,
        *,
        hidden_layer_sizes=(),
        activation="tanh",
        metric="cosine",
        loss="auto",
        proxy_temperature=0.3,
        miner="batch_hard",
        margin="soft",
        classes_per_batch=64,
        samples_per_class=4,
        class_sampling="sqrt",
        mask_ratio=0.5,
        corruption="zero",
        temperature=1.0,
        unlabeled_weight="auto",
        encoder_init="ridge",
        encoder_init_scale=0.1,
        solver="adam",
        alpha=1e-4,
        unlabeled_batch_size="auto",
        pairs_per_batch=256,
        pair_temperature=0.1,
        pair_popularity_correction=False,
        learning_rate_init="auto",
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
        self.activation = activation
        self.metric = metric
        self.loss = loss
        self.proxy_temperature = proxy_temperature
        self.miner = miner
        self.margin = margin
        self.classes_per_batch = classes_per_batch
        self.samples_per_class = samples_per_class
        self.class_sampling = class_sampling
        self.mask_ratio = mask_ratio
        self.corruption = corruption
        self.temperature = temperature
        self.unlabeled_weight = unlabeled_weight
        self.encoder_init = encoder_init
        self.encoder_init_scale = encoder_init_scale
        self.solver = solver
        self.alpha = alpha
        self.unlabeled_batch_size = unlabeled_batch_size
        self.pairs_per_batch = pairs_per_batch
        self.pair_temperature = pair_temperature
        self.pair_popularity_correction = pair_popularity_correction
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

    # -- labels ------------------------------------------------------------

    def _validate_X_y(self, X, y, reset):
        if y is not None:
            _check_no_missing_labels(y)
        X, y = self._validate_X(X, reset=reset, y=y)
        unlabeled = _unlabeled_mask(y)
        _kind_of_labels(y[~unlabeled])
        if not unlabeled.all():
            # Not check_classification_targets: its warning about many classes
            # of few rows is noise here, where such labels are common.
            labeled = y[~unlabeled]
            if labeled.dtype == object:
                # Of one kind (checked above): numpy's own dtype for that kind,
                # which type_of_target reads (it calls an object array of
                # booleans "unknown").
                labeled = np.asarray(labeled.tolist())
            target_type = type_of_target(labeled, input_name="y")
            if target_type not in ("binary", "multiclass"):
                raise ValueError(
                    f"Unknown label type: {target_type}. TripletEmbedder needs "
                    "discrete class labels, such as integers or strings."
                )
        return X, y, unlabeled

    def _check_supervision(self, y, unlabeled, n_left_out=0):
        classes, counts = np.unique(y[~unlabeled], return_counts=True)
        if len(classes) == 1:
            raise ValueError(
                f"TripletEmbedder needs at least two classes to learn from labels, "
                f"but y has 1 class: {classes.tolist()[0]!r}. Mark rows without a label as -1; "
                "all rows -1 gives a self-supervised fit."
            )
        if len(classes) and counts.max() < 2 and not unlabeled.any():
            why = "no unlabeled row (-1) for the self-supervised term."
            if n_left_out:
                because = (
                    "with a pre-trained encoder_init, unlabeled_weight='auto' gives them "
                    "weight 0 (its pre-training used them)"
                    if self.unlabeled_weight == "auto"
                    else f"unlabeled_weight={self.unlabeled_weight!r} gives them weight 0"
                )
                why = (
                    f"the {n_left_out} unlabeled rows (-1) are left out: {because}. Set "
                    "unlabeled_weight=1 to train on them."
                )
            raise ValueError(
                f"Every one of the {len(classes)} classes of y has a single row, so "
                f"there is no pair of rows with the same label to learn from, and {why}"
            )
        return classes

    # -- hooks of BaseEmbedder ---------------------------------------------

    def _resolve_unlabeled_weight(self, supervised):
        """``unlabeled_weight``, or for ``"auto"`` 0 from a fitted ``encoder_init``
        when the fit is ``supervised`` (labeled rows or pairs), else 1."""
        if not isinstance(self.unlabeled_weight, str):
            return float(self.unlabeled_weight)
        pretrained = not isinstance(self.encoder_init, str)
        return 0.0 if pretrained and supervised else 1.0

    def _validate_training_data(self, X, y, reset):
        if isinstance(y, PairFitInput):
            return self._validate_pair_data(X, y, reset)
        X, y, unlabeled = self._validate_X_y(X, y, reset)
        self.unlabeled_weight_ = self._resolve_unlabeled_weight(not unlabeled.all())
        if self.unlabeled_weight_ == 0 and unlabeled.any():
            if unlabeled.all():
                raise ValueError(
                    "unlabeled_weight=0 leaves the unlabeled rows out, and every row of y "
                    "is unlabeled (-1): there is nothing to train on. Give labeled rows, "
                    "or a positive unlabeled_weight for a self-supervised fit."
                )
            # As if they had not been given (their weight would be zero).
            n_left_out = int(unlabeled.sum())
            X, y, unlabeled = X[~unlabeled], y[~unlabeled], unlabeled[~unlabeled]
        else:
            n_left_out = 0
        if reset:
            self.classes_ = self._check_supervision(y, unlabeled, n_left_out)
            self.loss_ = self._resolve_loss(y[~unlabeled], y.shape[0])
        else:
            self._add_classes(X, y, unlabeled)
        return X, _encode_against(y, unlabeled, self.classes_)

    def _validate_pair_data(self, X, given, reset):
        if self.early_stopping:
            raise ValueError(
                "early_stopping=True is not available with pairs (a split of the rows "
                "would cut pairs in two); set early_stopping=False, and tune max_iter "
                "with sk_prodembed.pairs.PairSplit."
            )
        # Pairs are supervision: "auto" leaves the term out from a pre-trained encoder.
        self.unlabeled_weight_ = self._resolve_unlabeled_weight(True)
        if given.labels is None:
            X = self._validate_X(X, reset=reset)
            labels = None
            if reset:
                self.classes_ = np.array([])
        else:
            X, y, unlabeled = self._validate_X_y(X, given.labels, reset)
            # Pairs supervise on their own: labels need not give triples.
            if reset:
                self.classes_ = _merge_classes(None, y[~unlabeled])
            else:
                self._add_classes(X, y, unlabeled)
            labels = _encode_against(y, unlabeled, self.classes_)
        if reset:
            # loss="auto" was measured on labels alone: with pairs, the triplet loss.
            self.loss_ = "triplet" if self.loss == "auto" else self.loss
        pairs, weights = check_pair_supervision(
            given.pairs, given.pair_weight, X.shape[0], labels_train=labels is not None
        )
        return X, PairTargets(labels, pairs, weights)

    def _add_classes(self, X, y, unlabeled):
        """Merge the classes of a warm-started fit or ``partial_fit`` into
        ``classes_``; with the proxy loss, give each new class a proxy.

        A new class's proxy starts at the mean unit embedding of its rows
        under the current encoder, as each proxy of a fit from the ridge
        start does; the known proxies, and the optimizer's state for them,
        move to their classes' new rows (``classes_`` stays sorted). The
        grown proxies and optimizer are new objects, so a fit that fails
        afterwards restores the old ones.
        """
        classes = _merge_classes(self.classes_, y[~unlabeled])
        if self.loss_ == "proxy" and len(classes) > len(self.classes_):
            known = np.searchsorted(classes, self.classes_)
            labels = _encode_against(y, unlabeled, classes)
            is_new = np.ones(len(classes), dtype=bool)
            is_new[known] = False
            rows = np.flatnonzero(~unlabeled)
            rows = rows[is_new[labels[rows]]]
            # Copies, caught up with the optimizer's last step (as every epoch
            # ends), then moved to the rows of their classes.
            known_proxies = self.proxies_.copy()
            optimizer = copy.deepcopy(self._optimizer)
            # The proxies follow the encoder's parameters in the objective's params.
            optimizer.grow_rows(len(self.encoder_.params), known_proxies, known, len(classes))
            # The new ones as at the first fit: random directions (drawn from a
            # copy, so the fit's own stream, and should the fit fail the
            # estimator, is left as it was), moved to their rows' mean.
            proxies = initial_proxies(
                len(classes), known_proxies.shape[1], known_proxies.dtype,
                copy.deepcopy(self._rng),
            )
            # Embedded as transform does (rows of no weighted feature at zero).
            place_at_class_means(proxies, self._encode(X[rows]), labels[rows])
            proxies[known] = known_proxies
            self.proxies_ = proxies
            self._optimizer = optimizer
        self.classes_ = classes

    def _resolve_loss(self, labels, n_samples):
        """``loss``, or for ``"auto"`` the loss for the labeled rows' class sizes."""
        if self.loss != "auto":
            return self.loss
        if (
            not self._auto_loss_may_be_proxy
            or not (isinstance(self.encoder_init, str) and self.encoder_init == "ridge")
            or labels.size < AUTO_PROXY_LABELED_FRACTION * n_samples
        ):
            return "triplet"
        sizes = np.unique(labels, return_counts=True)[1]
        return "proxy" if np.median(sizes) < AUTO_PROXY_ROWS_PER_CLASS else "triplet"

    def _train(self, X, y, incremental):
        # partial_fit's first call sees one chunk, whose classes are smaller
        # than the catalog's, and only whole fits were measured: there
        # loss="auto" is the triplet loss.
        self._auto_loss_may_be_proxy = not incremental
        try:
            super()._train(X, y, incremental)
        finally:
            del self._auto_loss_may_be_proxy

    @property
    def _network_names(self):
        return ("encoder", "proxies") if self.loss_ == "proxy" else ("encoder",)

    def _initialize_networks(self, X, y, rng):
        layer_sizes = [
            X.shape[1],
            *self._check_hidden_layer_sizes("hidden_layer_sizes"),
            self.n_components,
        ]
        labels = y.labels if isinstance(y, PairTargets) else y
        directions = None
        if not isinstance(self.encoder_init, str):
            # With the autoencoder's input scale, which its weights expect.
            encoder = self._copy_initial_encoder(layer_sizes, X.dtype)
        elif self.encoder_init == "random" or labels is None:
            encoder = MLP.initialize(
                layer_sizes,
                self.activation,
                self.activation,
                X.dtype,
                rng,
                input_scale=unit_input_scale(X),
            )
        else:
            encoder, directions = initialize_from_labels(
                layer_sizes, self.activation, X, labels, X.dtype, rng, unit_input_scale(X)
            )
        labeled = None if directions is None else labels >= 0
        # Read by _learning_rate when the optimizer is made: the fraction of
        # labeled rows of a fit from the ridge start, else 0.
        self._ridge_start_labeled_fraction = 0.0 if labeled is None else float(labeled.mean())
        networks = {"encoder": encoder}
        if self.loss_ == "proxy":
            proxies = initial_proxies(len(self.classes_), self.n_components, X.dtype, rng)
            if labeled is not None:
                place_at_class_means(proxies, encoder.predict(X[labeled]), labels[labeled])
            networks["proxies"] = proxies
        return networks

    def _learning_rate(self):
        if self.learning_rate_init != "auto":
            return self.learning_rate_init
        labeled = self._ridge_start_labeled_fraction
        return float(RIDGE_START_LEARNING_RATE**labeled * DEFAULT_LEARNING_RATE ** (1 - labeled))

    def _copy_initial_encoder(self, layer_sizes, dtype):
        source = self.encoder_init
        check_is_fitted(source)
        encoder = getattr(source, "encoder_", None)
        if not isinstance(encoder, MLP):
            raise ValueError(
                "encoder_init must be a fitted MaskedAutoencoderEmbedder (a model "
                f"with an encoder_ network), got {type(source).__name__}."
            )
        has_hidden = len(layer_sizes) > 2  # the hidden layers are copied as they are
        if encoder.layer_sizes != layer_sizes or (
            has_hidden and encoder.hidden_activation != self.activation
        ):
            theirs = ours = same = ""
            if has_hidden:
                theirs = f" and hidden activation {encoder.hidden_activation!r}"
                ours = f" and activation {self.activation!r}"
                same = " and the same activation on the hidden layers"
            raise ValueError(
                f"encoder_init has an encoder of layer sizes {encoder.layer_sizes} "
                f"(n_features_in_={getattr(source, 'n_features_in_', None)}){theirs}, "
                f"but this TripletEmbedder needs layer sizes {layer_sizes} (X with "
                f"{layer_sizes[0]} features, hidden_layer_sizes="
                f"{tuple(layer_sizes[1:-1])}, n_components={layer_sizes[-1]}){ours}. "
                f"Give both models the same features and layer sizes{same}."
            )
        theirs = getattr(source, "feature_names_in_", None)
        ours = getattr(self, "feature_names_in_", None)
        if theirs is not None and ours is not None and not np.array_equal(theirs, ours):
            raise ValueError(
                "encoder_init was fitted on columns named differently, or in another order, "
                f"than X's (theirs start {list(theirs[:3])}, X's {list(ours[:3])}): its "
                "weights would read the wrong features. Give X the columns, in the order, "
                "the autoencoder was fitted on."
            )
        info = np.finfo(dtype)
        if not info.tiny <= encoder.input_scale <= info.max:
            raise ValueError(
                f"encoder_init multiplies its input by {encoder.input_scale:g} (its "
                f"input_scale_, for features of {1 / encoder.input_scale:g} or so), which "
                f"{np.dtype(dtype).name} cannot hold. Fit both models on X of the same dtype."
            )
        # astype copies, so training never writes into the given model.
        coefs = [W.astype(dtype) for W in encoder.coefs]
        intercepts = [b.astype(dtype) for b in encoder.intercepts]
        coefs[-1] *= self.encoder_init_scale
        intercepts[-1] *= self.encoder_init_scale
        # The embedding layer takes this model's activation: a linear encoder
        # (the autoencoder's default) scaled by encoder_init_scale is nearly
        # unchanged under tanh, which is almost linear near zero.
        return MLP(coefs, intercepts, self.activation, self.activation, encoder.input_scale)

    def _make_objective(self, networks, X, y):
        if self.margin == "auto":
            margin = DEFAULT_MARGINS[self.metric]
        elif self.margin == "soft":
            margin = None
        else:
            margin = self.margin
        label_objective = TripletObjective(
            networks["encoder"],
            metric=self.metric,
            miner=self.miner,
            margin=margin,
            mask_ratio=self.mask_ratio,
            corruption=self.corruption,
            temperature=self.temperature,
            unlabeled_weight=self.unlabeled_weight_,
            alpha=self.alpha,
            proxies=networks.get("proxies"),
            proxy_temperature=self.proxy_temperature,
        )
        if not isinstance(y, PairTargets):
            return label_objective
        return PairObjective(
            networks["encoder"],
            metric=self.metric,
            temperature=self.pair_temperature,
            margin=label_objective.margin,
            alpha=self.alpha,
            label_objective=None if y.labels is None else label_objective,
            popularity_correction=self.pair_popularity_correction,
        )

    def _make_batches(self, X, y):
        labels = y.labels if isinstance(y, PairTargets) else y
        label_batches = None
        if labels is not None:
            label_batches = class_balanced_batches(
                labels,
                self.classes_per_batch,
                self.samples_per_class,
                resolve_batch_size(self.unlabeled_batch_size, X.shape[0]),
                class_sampling=self.class_sampling,
            )
        if not isinstance(y, PairTargets):
            return label_batches
        return pair_batches(
            y.pairs, X.shape[0], self.pairs_per_batch, y.weights, label_batches
        )

    def _encode(self, X):
        return to_embedding(super()._encode(X), self.metric)[0]

    # -- public API --------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, pairs=None, pair_weight=None):
        """Train the encoder on labels, pairs or both for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows; sparse input is never densified beyond a batch.
        y : array-like of shape (n_samples,) or RowPairs, default=None
            Labels, integers or strings (see Notes); the integer -1 marks unlabeled rows,
            which learn through the masked-view term. Optional when
            ``pairs`` are given; at least one of the two is needed. A
            :class:`~sk_prodembed.pairs.RowPairs` given as ``y`` is taken as
            ``pairs`` (with no labels): cross-validation then hands each
            fold's pairs to ``fit`` and to the pair scorer alike, with no
            need for metadata routing.
        pairs : array-like of int of shape (n_pairs, 2) or (n_pairs, 3), \
                or RowPairs, default=None
            Row indices into ``X``. Shape (n_pairs, 2): rows that belong
            together (bought together, the same product), undirected; each
            batch of ``pairs_per_batch`` pairs is trained by the in-batch
            softmax (InfoNCE), the batch's other rows serving as negatives
            except the known partners of each row (from all of ``pairs``).
            Shape (n_pairs, 3): explicit (anchor, positive, negative) triples,
            trained by the triplet loss of ``metric`` and ``margin``. A
            :class:`~sk_prodembed.pairs.RowPairs` (with its weights) follows
            its rows through cross-validation.
        pair_weight : array-like of shape (n_pairs,), default=None
            Non-negative weight of each pair (for example a co-purchase
            count) in the mean of the pair loss; pairs of shape (n_pairs, 2)
            only. None weighs pairs equally.

        Returns
        -------
        self : TripletEmbedder
        """
        return self._fit(X, self._supervision(y, pairs, pair_weight), incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, *, pairs=None, pair_weight=None):
        """One epoch over (X, y, pairs), continuing from the current weights and optimizer.

        The first call initialises the model (and checks the labels as
        ``fit`` does); later calls may bring new labels, which are added to
        ``classes_``, and new pairs, which index the rows of their own
        ``X``; a later call with no rows (an empty block of a dask array)
        changes nothing. As in scikit-learn's MLP, ``early_stopping=True``
        raises a ``ValueError`` (a single epoch has no validation curve).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
        pairs : array-like of int of shape (n_pairs, 2) or (n_pairs, 3), \
                or RowPairs, default=None
        pair_weight : array-like of shape (n_pairs,), default=None
            See :meth:`fit`.

        Returns
        -------
        self : TripletEmbedder
        """
        return self._fit(X, self._supervision(y, pairs, pair_weight), incremental=True)

    @staticmethod
    def _supervision(y, pairs, pair_weight):
        """``y`` itself, or the labels and pairs together for the pair objective."""
        if isinstance(y, RowPairs):
            # Pairs as the target: cross-validation then slices them for fit
            # and for the scorer alike, without metadata routing.
            if pairs is not None:
                raise ValueError(
                    "y is a RowPairs (pairs given as the target) and pairs= is given "
                    "too; give the pairs once."
                )
            y, pairs = None, y
        if pairs is None:
            if pair_weight is not None:
                raise ValueError("pair_weight was given without pairs; pass pairs= too.")
            if y is None:
                raise ValueError(
                    "TripletEmbedder requires y to be passed, but the target y is None, "
                    "and no pairs were given: pass labels y, pairs, or both."
                )
            return y
        return PairFitInput(y, pairs, pair_weight)

    def score(self, X, y):
        """Leave-one-out precision@10 of the labels of X in the embedding, or
        the recall@10 of its pairs.

        For each labeled row of X, the share of its 10 nearest other labeled
        rows (by the model's ``metric``) with the same label, averaged over
        rows; fewer neighbours when X has fewer than 11 labeled rows.
        Unlabeled rows (-1) are ignored; labels need not be among
        ``classes_``. Higher is better, so ``GridSearchCV`` can tune the
        estimator without a downstream model. With ``y`` a
        :class:`~sk_prodembed.pairs.RowPairs` (what ``PairSplit`` gives each
        test fold), the score is the pair protocol's: the recall@10 of each
        paired row's partners among the other rows of X, by cosine
        (:func:`sk_prodembed.metrics.pair_ranking_score`).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or RowPairs

        Returns
        -------
        score : float in [0, 1]
        """
        check_is_fitted(self)
        if isinstance(y, RowPairs):
            from ._pair_metrics import pair_ranking_score

            if len(y) != _num_samples(X):
                raise ValueError(
                    f"y is a RowPairs of {len(y)} rows, but X has {_num_samples(X)}."
                )
            if len(y.pairs) == 0:
                raise ValueError("score needs at least one pair among the rows of X.")
            return pair_ranking_score(self.transform(X), y.pairs, k=SCORE_NEIGHBOURS)
        X, y, unlabeled = self._validate_X_y(X, y, reset=False)
        if np.count_nonzero(~unlabeled) < 2:
            raise ValueError("score needs at least two labeled rows in y.")
        classes = np.unique(y[~unlabeled])
        codes = _encode_against(y, unlabeled, classes)
        return leave_one_out_precision(
            self._encode(X), codes, self.metric, k=SCORE_NEIGHBOURS
        )

    def __sklearn_clone__(self):
        # A fitted encoder_init is read, never written: clones share it
        # instead of receiving an unfitted copy, so that model selection
        # fine-tunes from the pre-trained weights.
        clone = super().__sklearn_clone__()
        clone.encoder_init = self.encoder_init
        return clone

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
