"""NearestNeighborRecommender: top-k similar catalog items, the last step of a Pipeline.

The estimator validates, keeps the catalog and its ids, and turns every kind of
exclusion into one sparse mask; the search itself lives in :mod:`._search`.
"""

import sys
import warnings
from collections import Counter, namedtuple
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, _fit_context
from sklearn.preprocessing import normalize
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._search import _filters
from ._search._exact import allowed_top_k, exact_top_k, rescore, sorted_by_score
from ._search._hnsw import HNSWIndex
from ._search._item_ids import (
    appended_ids,
    as_item_ids,
    rows_of_ids,
    rows_of_positions,
    sorted_ids,
)
from ._search._tree import TreeIndex
from .metrics import precision_at_k

# Rows compared at once when checking whether the queries are the catalog.
_COMPARE_BLOCK = 65536
# candidate_items with an index: searched exactly when they are under this
# share of the catalog (the exact search then costs at most that share of a
# full one), else through the index, which then asks for up to this many
# times the rows it returns.
_INDEXED_CANDIDATE_SHARE = 8


def _caller_stacklevel():
    """``warnings.warn``'s stacklevel for the first frame outside this module
    (the user's ``recommend``, ``predict`` or Pipeline call), counted from the
    caller of this function."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


LabelGroundTruth = namedtuple("LabelGroundTruth", ["y_true", "y_pred", "n_relevant"])
LabelGroundTruth.__doc__ = """The input of the metrics of sk_prodembed.metrics, by labels.

``y_true`` holds the query labels, ``y_pred`` the stored labels of the
recommended items (n_queries, k), and ``n_relevant`` the number of catalog items
sharing each query's label (not counting an excluded query item).
"""


class NearestNeighborRecommender(BaseEstimator):
    """Recommend the catalog items nearest to each query.

    ``fit`` stores the catalog: the (embedded) product rows, optionally their
    labels and the caller's item ids. ``predict`` returns, for each query row,
    the ids of the ``n_recommendations`` most similar catalog items, best
    first. As the last step of a Pipeline (for example TF-IDF, an embedder,
    then this recommender), ``pipe.predict(texts)`` recommends from raw text
    and ``pipe.score(texts, labels)`` rates the embedding by label
    precision@k, so GridSearchCV can tune the embedder with no custom scorer.
    Items can be added (:meth:`partial_fit`) and removed (:meth:`remove_items`)
    without refitting, queried by id (:meth:`recommend_for_items`), and
    excluded per query (``exclude_items``).

    Parameters
    ----------
    n_recommendations : int, default=10
        Number of items recommended per query (fewer if the catalog, minus
        the items a query excludes, is smaller). Also the ``k`` of :meth:`score`.
    metric : {"cosine", "euclidean"}, default="cosine"
        Similarity. The scores returned by :meth:`recommend` are the cosine
        similarity, or the negated euclidean distance, so that higher is
        always more similar.
    algorithm : {"brute", "hnsw", "auto", "kd_tree", "ball_tree"}, default="brute"
        ``"brute"`` is exact: blocks of queries are multiplied with blocks of
        catalog items, and only the scores that beat a query's current k-th
        best are selected from; dense and sparse catalogs, numpy/scipy only.
        Its working memory does not grow with the catalog or the number of
        queries: about 10 MB per search thread, plus 12 x 1,024 x k x
        n_features bytes to rescore the results (8 MB for k=10 and 64
        float32 features). ``"hnsw"`` is approximate, on
        faiss-cpu's HNSW graph (``pip install "sk_prodembed[ann]"``): much
        faster on large catalogs, at a recall below 1 set by ``hnsw_m``,
        ``ef_construction`` and ``ef_search``. ``"auto"``, ``"kd_tree"`` and
        ``"ball_tree"`` delegate to :class:`sklearn.neighbors.NearestNeighbors`;
        trees only pay off for low-dimensional dense embeddings.
    hnsw_m : int, default=32
        With ``"hnsw"``: graph neighbours per item (faiss's ``M``). Higher
        means better recall, more memory (about ``8 * hnsw_m`` bytes per item
        on top of the vectors) and a slower build.
    ef_construction : int, default=80
        With ``"hnsw"``: candidate list width while inserting items (faiss's
        ``efConstruction``). Higher means a better graph and a slower build.
    ef_search : int, default=64
        With ``"hnsw"``: candidate list width while searching (faiss's
        ``efSearch``), at least the number of items asked for. Higher means
        better recall and slower queries; read at query time, so
        ``set_params(ef_search=...)`` retunes a fitted index.
    n_jobs : int, default=None
        Threads for the exact search, each over its own blocks of queries;
        above 1 the BLAS runs single-threaded during the search, so threads
        never exceed ``n_jobs`` (on 2 cores, ``n_jobs=2`` is the fastest).
        None means 1 unless in a joblib context; with 1 the matrix products
        use the BLAS's own threads. Passed on to NearestNeighbors for the
        trees; faiss uses its OpenMP threads (``faiss.omp_set_num_threads``).

    Attributes
    ----------
    catalog_ : {ndarray, sparse matrix} of shape (n_items, n_features)
        The current catalog rows, L2-normalised when ``metric="cosine"``.
    catalog_labels_ : ndarray of shape (n_items,) or None
        The ``y`` given to ``fit`` (and ``partial_fit``), used by :meth:`score`.
    item_ids_ : ndarray of shape (n_items,) or None
        The ``item_ids`` given to ``fit``; None means ids are row indices.
    index_ : object or None
        The search index for ``"hnsw"`` and the tree algorithms (private
        types; they pickle: a tree without its rows, rebuilt from
        ``catalog_`` on load); None for the exact ``"brute"``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sk_prodembed.metrics.make_recommendation_scorer : Other ranking metrics
        as ``scoring=`` objects.

    Notes
    -----
    **Excluding the query item.** When the queries are the catalog's own rows,
    each item is its own nearest neighbour. ``exclude_self=True`` declares
    that query row ``i`` *is* catalog item ``i`` and removes exactly that item
    from row ``i``'s recommendations. The exclusion is by position, not by
    similarity: exact duplicates of the item (other rows with the same
    vector) are other products and are still recommended. ``"auto"`` does the
    same when the queries equal the fitted catalog up to floating-point
    rounding, and nothing otherwise. :meth:`recommend_for_items` always
    excludes the item a query was made from.

    **Rows with no information.** An all-zero row (a text with no known word,
    once embedded) carries no information. Under cosine it has similarity 0
    with every item, and a zero catalog item similarity 0 with every query;
    under euclidean it is the origin. Either way :meth:`recommend` warns once
    per call with the number of all-zero queries, whose recommendations are
    arbitrary (ties at 0 go to the first catalog rows); :meth:`score` and
    the scorers count them as misses, without a warning.

    **Catalog updates.** :meth:`partial_fit` appends items; the HNSW graph
    inserts them, trees are rebuilt. :meth:`remove_items` deletes rows from
    ``catalog_``; the HNSW graph keeps removed items as tombstones that
    searches skip, and is rebuilt from the live items once tombstones
    outnumber them.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_prodembed import NearestNeighborRecommender
    >>> catalog = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> recommender = NearestNeighborRecommender(n_recommendations=2)
    >>> recommender = recommender.fit(
    ...     catalog, ["mug", "mug", "sofa", "sofa"], item_ids=["m1", "m2", "s1", "s2"]
    ... )
    >>> recommender.predict([[1.0, 0.05]])
    array([['m1', 'm2']], dtype='<U2')
    >>> recommender.predict([[1.0, 0.05]], exclude_items=[["m1"]])
    array([['m2', 's2']], dtype='<U2')
    >>> ids, similarities = recommender.recommend_for_items(["m1", "s1"], 1)
    >>> ids.ravel().tolist()
    ['m2', 's2']
    >>> recommender = recommender.partial_fit([[0.7, 0.7]], ["mug"], item_ids=["m3"])
    >>> recommender.remove_items(["m2"]).predict([[1.0, 0.05]])
    array([['m1', 'm3']], dtype='<U2')
    >>> recommender.score(recommender.catalog_, ["mug", "sofa", "sofa", "mug"])
    0.5
    """

    _parameter_constraints: dict = {
        "n_recommendations": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "algorithm": [StrOptions({"brute", "hnsw", "auto", "kd_tree", "ball_tree"})],
        "hnsw_m": [Interval(Integral, 2, None, closed="left")],
        "ef_construction": [Interval(Integral, 1, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_recommendations=10,
        *,
        metric="cosine",
        algorithm="brute",
        hnsw_m=32,
        ef_construction=80,
        ef_search=64,
        n_jobs=None,
    ):
        self.n_recommendations = n_recommendations
        self.metric = metric
        self.algorithm = algorithm
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.n_jobs = n_jobs

    # -- the catalog ---------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, item_ids=None):
        """Store the catalog (and build the index of ``"hnsw"`` or a tree).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_items, n_features)
            Catalog rows, typically embeddings.
        y : array-like of shape (n_items,), default=None
            Item labels (for example categories), needed by :meth:`score`.
        item_ids : array-like of shape (n_items,), default=None
            Unique ids returned by :meth:`predict` instead of row indices:
            all integers (kept exactly: a nullable pandas ``Int64`` column
            becomes int64, not float64) or all strings. A sequence mixing
            the two, and missing values (None, NaN, NA), are refused rather
            than turned into strings that no later lookup would find.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        X, y = self._validate_catalog(X, y, reset=True)
        item_ids = self._check_new_item_ids(item_ids, X.shape[0], existing=None)
        catalog = self._prepare_rows(X)
        index = self._new_index()
        if index is not None:
            index.build(catalog)
        self._set_catalog(catalog, y, item_ids, self._row_sum_of(catalog))
        self.index_ = index
        return self

    def partial_fit(self, X, y=None, item_ids=None):
        """Add items to the catalog without refitting; ``fit`` if not fitted yet.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_new_items, n_features)
            Rows of the new items.
        y : array-like of shape (n_new_items,), default=None
            Their labels; required exactly when the catalog has labels.
        item_ids : array-like of shape (n_new_items,), default=None
            Their ids, unique and new to the catalog; required exactly when
            the catalog has ids (else the new items are numbered on).

        Returns
        -------
        self : object
            The recommender with the items added.
        """
        if not hasattr(self, "catalog_"):
            return self.fit(X, y, item_ids=item_ids)
        X, y = self._validate_catalog(X, y, reset=False)
        if (y is None) != (self.catalog_labels_ is None):
            state = "has" if y is None else "has no"
            raise ValueError(
                f"The catalog {state} labels: pass y to partial_fit exactly when fit had y."
            )
        if (item_ids is None) != (self.item_ids_ is None):
            state = "has" if item_ids is None else "has no"
            raise ValueError(
                f"The catalog {state} item_ids: pass item_ids to partial_fit exactly when "
                "fit had item_ids."
            )
        item_ids = self._check_new_item_ids(item_ids, X.shape[0], existing=self.item_ids_)
        rows = self._prepare_rows(X).astype(self.catalog_.dtype, copy=False)
        if sp.issparse(self.catalog_):
            catalog = sp.vstack([self.catalog_, sp.csr_matrix(rows)], format="csr")
        else:
            rows = rows.toarray() if sp.issparse(rows) else rows
            catalog = np.concatenate([self.catalog_, rows])
        labels = None if y is None else np.concatenate([self.catalog_labels_, y])
        row_sum = self._row_sum
        if row_sum is not None:
            row_sum = row_sum + rows.sum(axis=0, dtype=np.float64)
        if self.index_ is not None:
            self.index_.add(catalog, self.catalog_.shape[0])
        self._set_catalog(catalog, labels, item_ids, row_sum)
        return self

    def remove_items(self, item_ids):
        """Remove items from the catalog by id, without refitting.

        Parameters
        ----------
        item_ids : array-like of shape (n_removed,)
            Ids (``item_ids`` given to fit) of items in the catalog.

        Returns
        -------
        self : object
            The recommender without those items.
        """
        check_is_fitted(self)
        if self.item_ids_ is None:
            raise ValueError(
                "remove_items removes by id: fit the recommender with item_ids. Row "
                "indices are not stable ids, since removing an item shifts the others."
            )
        rows = self._rows_of_catalog_ids(item_ids, "item_ids")
        removed = np.zeros(self.catalog_.shape[0], dtype=bool)
        removed[rows] = True
        if removed.all():
            raise ValueError("remove_items would empty the catalog; fit a new one instead.")
        keep = np.flatnonzero(~removed)
        catalog = self.catalog_[keep]
        labels = None if self.catalog_labels_ is None else self.catalog_labels_[keep]
        row_sum = self._row_sum
        if row_sum is not None:
            # Subtracting costs a pass over the removed rows; once they are at
            # least as many as the kept ones, summing the kept rows costs less,
            # and starts the sum afresh (no rounding carried over).
            if len(removed) - len(keep) < len(keep):
                row_sum = row_sum - self.catalog_[removed].sum(axis=0, dtype=np.float64)
            else:
                row_sum = self._row_sum_of(catalog)
        if self.index_ is not None:
            self.index_.remove(catalog, removed)
        self._set_catalog(catalog, labels, self.item_ids_[keep], row_sum)
        return self

    # -- recommendations -----------------------------------------------------

    def predict(self, X, *, exclude_self=False, exclude_items=None, candidate_items=None):
        """Ids of the recommended catalog items, most similar first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query rows.
        exclude_self : bool or "auto", default=False
            Whether query row ``i`` is catalog item ``i`` and must not be
            recommended to itself; see the Notes of the class. Through a
            Pipeline: ``pipe.predict(texts, exclude_self=True)``.
        exclude_items : sequence of sequences of ids, or sparse matrix, default=None
            Items never to recommend, per query; see :meth:`recommend`.
        candidate_items : sequence of ids, boolean array or sparse matrix, default=None
            The only items that may be recommended; see :meth:`recommend`.

        Returns
        -------
        ids : ndarray of shape (n_queries, n_recommendations)
            Item ids (``item_ids`` given to fit, else catalog row indices).
        """
        return self.recommend(
            X, exclude_self=exclude_self, exclude_items=exclude_items,
            candidate_items=candidate_items,
        )[0]

    def recommend(
        self, X, n_recommendations=None, *, exclude_self=False, exclude_items=None,
        candidate_items=None,
    ):
        """Recommended item ids with their similarity scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query rows.
        n_recommendations : int, default=None
            Items per query; None uses the ``n_recommendations`` parameter.
        exclude_self : bool or "auto", default=False
            Whether query row ``i`` is catalog item ``i`` and must not be
            recommended to itself; see the Notes of the class.
        exclude_items : sequence of sequences of ids, or sparse matrix, default=None
            Items never to recommend, per query (already bought, out of
            stock): one sequence of item ids per query (None or empty for
            none; ids not in the catalog are ignored), or a matrix of shape
            (n_queries, n_items) whose non-zero entries exclude catalog row
            ``j`` from query ``i``.
        candidate_items : sequence of ids, boolean array or sparse matrix, default=None
            The only items that may be recommended. The same for every query
            (in stock, sold in a country): a sequence of item ids (ids not in
            the catalog are ignored), or a boolean array of shape (n_items,)
            over the catalog's rows; the search costs in proportion to the
            candidates when they are few (under an eighth of the catalog,
            searched exactly), and an index searches among more, answering
            exactly the queries it found too few candidates for. Each
            query's own (the query's category): a sparse matrix of shape
            (n_queries, n_items) whose non-zero entries are query ``i``'s
            candidates; only those pairs are scored. Exclusions apply among
            the candidates. None: every item.

        Returns
        -------
        ids : ndarray of shape (n_queries, n_recommendations)
            Item ids, most similar first. With exclusions or candidates,
            every query gets as many items as the query with the fewest
            allowed items can (so the arrays stay rectangular); a
            ``UserWarning`` says so when candidates leave fewer items than
            asked.
        similarities : ndarray of shape (n_queries, n_recommendations)
            Cosine similarity, or negated euclidean distance, in the dtype of
            the catalog.
        """
        check_is_fitted(self)
        n_recommendations = self._check_n_recommendations(n_recommendations)
        X = self._validate_queries(X)
        exclusions = _filters.combine(
            self._self_exclusions(X, exclude_self),
            self._item_exclusions(exclude_items, X.shape[0]),
        )
        candidates = self._candidates(candidate_items, X.shape[0])
        rows, similarities = self._top_k(X, n_recommendations, exclusions, candidates=candidates)
        return self._ids_of_rows(rows), similarities

    def recommend_for_items(
        self, item_ids, n_recommendations=None, *, exclude_items=None, candidate_items=None,
        same_label=False,
    ):
        """Recommendations for items already in the catalog, each excluded from its own.

        Parameters
        ----------
        item_ids : array-like of shape (n_queries,)
            Ids of catalog items (row indices if the catalog has no ids).
        n_recommendations : int, default=None
            Items per query; None uses the ``n_recommendations`` parameter.
        exclude_items : sequence of sequences of ids, or sparse matrix, default=None
            Further items never to recommend, per query; see :meth:`recommend`.
        candidate_items : sequence of ids, boolean array or sparse matrix, default=None
            The only items that may be recommended; see :meth:`recommend`.
        same_label : bool, default=False
            Recommend only items with the item's own label (``y`` given to
            ``fit``: more of its category), among ``candidate_items`` if
            given. Only the pairs of an item with its label's items are
            scored.

        Returns
        -------
        ids : ndarray of shape (n_queries, n_recommendations)
            Item ids, most similar first.
        similarities : ndarray of shape (n_queries, n_recommendations)
            As returned by :meth:`recommend`.
        """
        check_is_fitted(self)
        n_recommendations = self._check_n_recommendations(n_recommendations)
        rows = self._rows_of_catalog_ids(item_ids, "item_ids")
        queries = self.catalog_[rows]
        n_queries, n_items = len(rows), self.catalog_.shape[0]
        exclusions = _filters.combine(
            _filters.exclusion_matrix(n_queries, n_items, np.arange(n_queries), rows),
            self._item_exclusions(exclude_items, n_queries),
        )
        candidates = self._candidates(candidate_items, n_queries)
        if same_label:
            if self.catalog_labels_ is None:
                raise ValueError(
                    "same_label=True needs the catalog's labels: fit (or partial_fit) the "
                    "recommender with y."
                )
            candidates = _filters.intersect(
                _filters.same_label(self.catalog_labels_[rows], self.catalog_labels_),
                candidates,
            )
        found, similarities = self._top_k(
            queries, n_recommendations, exclusions, candidates=candidates
        )
        return self._ids_of_rows(found), similarities

    # -- scoring -------------------------------------------------------------

    def score(self, X, y=None):
        """Label precision@k of the recommendations for X (higher is better).

        For each query, the share of its ``n_recommendations`` recommended
        catalog items whose stored label (``y`` given to ``fit``) equals the
        query's label ``y``, averaged over queries. In cross-validation the
        Pipeline is fitted on the training fold, which becomes the catalog,
        and scored with the test fold as queries. When ``X`` is the fitted
        catalog itself, each item is excluded from its own recommendations
        (as ``exclude_self="auto"``), so training scores are not inflated.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query rows.
        y : array-like of shape (n_queries,), default=None
            Query labels; None is allowed only when X is the fitted catalog,
            whose stored labels are then used.

        Returns
        -------
        score : float
            Mean label precision@k in [0, 1].
        """
        truth = self.label_ground_truth(X, y)
        return precision_at_k(truth.y_true, truth.y_pred)

    def label_ground_truth(self, X, y=None, n_recommendations=None):
        """The arguments of a label-ground-truth metric for queries X with labels y.

        This is how :meth:`score` and the scorers of
        :func:`sk_prodembed.metrics.make_recommendation_scorer` rate the
        recommendations: ``metric(truth.y_true, truth.y_pred,
        n_relevant=truth.n_relevant)``. When ``X`` is the fitted catalog, each
        item is excluded from its own recommendations and from ``n_relevant``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query rows.
        y : array-like of shape (n_queries,), default=None
            Query labels; None is allowed only when X is the fitted catalog.
        n_recommendations : int, default=None
            Recommendations per query; None uses the ``n_recommendations``
            parameter.

        Returns
        -------
        truth : LabelGroundTruth
            Named tuple ``(y_true, y_pred, n_relevant)``: the query labels,
            the stored labels of the recommended items (n_queries, k), and
            how many catalog items share each query's label.
        """
        check_is_fitted(self)
        n_recommendations = self._check_n_recommendations(n_recommendations)
        if self.catalog_labels_ is None:
            raise ValueError(
                "Scoring compares labels: fit the recommender with y, the labels of "
                "the catalog items."
            )
        X = self._validate_queries(X)
        exclude_self = self._queries_are_catalog(X)
        if y is None:
            if not exclude_self:
                raise ValueError("y is required unless X is the fitted catalog.")
            y = self.catalog_labels_
        y = column_or_1d(y)
        if len(y) != X.shape[0]:
            raise ValueError(f"y has {len(y)} labels but X has {X.shape[0]} rows.")
        # An empty query counts as a miss in a score; a warning per scored
        # fold of a model selection would only be noise.
        rows, _ = self._top_k(
            X, n_recommendations, self._self_exclusions(X, exclude_self), warn_empty=False
        )
        catalog_counts = Counter(self.catalog_labels_.tolist())
        n_relevant = np.array([catalog_counts[label] for label in y.tolist()])
        if exclude_self:
            n_relevant -= self.catalog_labels_ == y
        return LabelGroundTruth(y, self.catalog_labels_[rows], n_relevant)

    # -- validation ----------------------------------------------------------

    def _validate_catalog(self, X, y, reset):
        dtypes = [np.float64, np.float32]
        if y is None:
            return validate_data(self, X, accept_sparse="csr", dtype=dtypes, reset=reset), None
        return validate_data(self, X, y, accept_sparse="csr", dtype=dtypes, reset=reset)

    def _validate_queries(self, X):
        X = validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32]
        )
        return self._prepare_rows(X.astype(self.catalog_.dtype, copy=False))

    def _prepare_rows(self, X):
        # normalize leaves all-zero rows at zero: similarity 0 with everything.
        return normalize(X) if self.metric == "cosine" else X

    def _check_n_recommendations(self, n_recommendations):
        if n_recommendations is None:
            n_recommendations = self.n_recommendations
        # bool is an Integral; True recommending one item is a bug, not a request.
        if (not isinstance(n_recommendations, Integral) or isinstance(n_recommendations, bool)
                or n_recommendations < 1):
            raise ValueError(
                f"n_recommendations must be a positive int, got {n_recommendations!r}."
            )
        return n_recommendations

    def _check_new_item_ids(self, item_ids, n_rows, existing):
        if item_ids is None:
            return None
        item_ids = as_item_ids(item_ids)
        if len(item_ids) != n_rows:
            raise ValueError(f"item_ids has {len(item_ids)} entries but X has {n_rows} rows.")
        if existing is None:
            sorted_ids(item_ids)
            return item_ids
        combined = appended_ids(existing, item_ids)
        try:
            sorted_ids(combined)
        except ValueError as error:
            raise ValueError(f"{error} New item_ids must not already be in the catalog.") from None
        return combined

    def _set_catalog(self, catalog, labels, item_ids, row_sum):
        self.catalog_ = catalog
        self.catalog_labels_ = labels
        self.item_ids_ = item_ids
        self._row_sum = row_sum
        self._build_lookup_table()

    def _row_sum_of(self, catalog):
        """The float64 sum of the catalog's rows, which the exact euclidean search
        is centred by (see :meth:`_search_center`); None for cosine and sparse rows,
        whose search needs no centre."""
        if self.metric != "euclidean" or sp.issparse(catalog):
            return None
        return catalog.sum(axis=0, dtype=np.float64)

    def _search_center(self):
        """The catalog's mean row, which the exact euclidean search centres by: kept
        as a float64 sum by fit, partial_fit and remove_items, each of which adds or
        subtracts only the rows it changes, so that no search pays a pass over the
        catalog for it. An update rounds the sum by about 1e-16 of its size: a
        million updates leave the mean far closer to the exact one than float32
        can hold it, and a removal of at least half of the catalog sums it afresh."""
        if self._row_sum is None:
            return None
        return (self._row_sum / self.catalog_.shape[0]).astype(self.catalog_.dtype)

    def _build_lookup_table(self):
        """The table from id to catalog row, rebuilt with every catalog change
        and on load (it is not saved, see __getstate__)."""
        item_ids = self.item_ids_
        self._id_order, self._sorted_ids = (
            (None, None) if item_ids is None else sorted_ids(item_ids)
        )

    # The id lookup table is a sorted copy of item_ids_: rebuilt on load
    # rather than saved twice (a million string ids, twice, in every pickle).
    _LOOKUP_TABLE = ("_id_order", "_sorted_ids")

    def __getstate__(self):
        # A copy: the base class may return the instance's own __dict__.
        state = dict(super().__getstate__())
        for name in self._LOOKUP_TABLE:
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "item_ids_" in self.__dict__ and "_sorted_ids" not in self.__dict__:
            self._build_lookup_table()
        if "catalog_" in self.__dict__ and "_row_sum" not in self.__dict__:
            # Saved before the sum was kept: one pass now, none per search.
            self._row_sum = self._row_sum_of(self.catalog_)
        if self.__dict__.get("index_") is not None:
            # A tree is saved without its rows, which are the catalog's.
            self.index_.restore(self.catalog_)

    def _new_index(self):
        if self.algorithm == "brute":
            return None
        if self.algorithm == "hnsw":
            return HNSWIndex(self.metric, self.hnsw_m, self.ef_construction)
        return TreeIndex(self.algorithm, self.metric, self.n_jobs)

    def _rows_of_catalog_ids(self, ids, name):
        """Catalog rows of ids that must all be in the catalog."""
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got an array of shape {ids.shape}.")
        if self.item_ids_ is None:
            if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0
                             or ids.max() >= self.catalog_.shape[0]):
                raise ValueError(
                    f"{name} must be catalog row indices in [0, {self.catalog_.shape[0]}) "
                    "since the catalog has no item_ids."
                )
            return ids.astype(np.intp)
        rows, found = rows_of_ids(ids, self._id_order, self._sorted_ids)
        if not found.all():
            raise ValueError(f"{name} not in the catalog: {ids[~found][:5].tolist()}.")
        return rows

    def _ids_of_rows(self, rows):
        return rows if self.item_ids_ is None else self.item_ids_[rows]

    def _item_exclusions(self, exclude_items, n_queries):
        """``exclude_items`` as a boolean CSR matrix (n_queries, n_items), or None."""
        return _filters.item_exclusions(
            exclude_items, n_queries, self.catalog_.shape[0], self._rows_of_known_ids
        )

    def _candidates(self, candidate_items, n_queries):
        """``candidate_items`` as None (every item), increasing catalog rows, or a
        boolean CSR matrix of each query's candidates."""
        return _filters.candidates(
            candidate_items, n_queries, self.catalog_.shape[0], self._rows_of_known_ids
        )

    def _rows_of_known_ids(self, ids):
        """Catalog rows of ids, and which ids are in the catalog at all."""
        if self.item_ids_ is not None:
            return rows_of_ids(ids, self._id_order, self._sorted_ids)
        return rows_of_positions(ids, self.catalog_.shape[0])

    def _self_exclusions(self, X, exclude_self):
        """Exclusion matrix of query row i from catalog item i, or None."""
        if exclude_self == "auto":
            exclude_self = self._queries_are_catalog(X)
        elif exclude_self is True or exclude_self is False:
            if exclude_self and X.shape[0] != self.catalog_.shape[0]:
                raise ValueError(
                    "exclude_self=True means query row i is catalog item i, but X has "
                    f"{X.shape[0]} rows and the catalog {self.catalog_.shape[0]}."
                )
        else:
            raise ValueError(
                f"exclude_self must be True, False or 'auto', got {exclude_self!r}."
            )
        if not exclude_self:
            return None
        diagonal = np.arange(X.shape[0])
        return _filters.exclusion_matrix(X.shape[0], self.catalog_.shape[0], diagonal, diagonal)

    def _queries_are_catalog(self, X):
        catalog = self.catalog_
        if X is catalog:
            return True
        if X.shape != catalog.shape:
            return False
        # A Pipeline re-embeds the catalog rows at score time; fit_transform and
        # transform may differ by rounding, so equality is up to sqrt(eps).
        # Compared block by block: no temporary the size of the catalog.
        tolerance = np.sqrt(np.finfo(catalog.dtype).eps)
        for rows in gen_batches(catalog.shape[0], _COMPARE_BLOCK):
            difference = abs(X[rows] - catalog[rows])
            scale = max(abs(catalog[rows]).max(), 1.0) if difference.size else 1.0
            if difference.size and difference.max() > tolerance * scale:
                return False
        return True

    # -- search --------------------------------------------------------------

    def _top_k(self, X, n_recommendations, exclusions, warn_empty=True, candidates=None):
        """Catalog rows and similarities of the nearest allowed items, best first.

        ``candidates``: None, the increasing catalog rows that may be
        recommended at all, or a boolean CSR matrix of each query's own."""
        catalog = self.catalog_
        n_queries = X.shape[0]
        if warn_empty:
            self._warn_about_empty_queries(X)
        if sp.issparse(candidates):
            return self._top_k_among_own_candidates(X, n_recommendations, exclusions, candidates)
        n_items = catalog.shape[0] if candidates is None else len(candidates)
        mask = None
        if candidates is not None:
            mask = np.zeros(catalog.shape[0], dtype=bool)
            mask[candidates] = True
        # Only the exclusions among the candidates take room.
        most_excluded = _filters.n_excluded(exclusions, n_queries, among=mask).max(initial=0)
        n = min(n_recommendations, n_items - most_excluded)
        if candidates is not None and n < n_recommendations and n_queries:
            self._warn_about_few_candidates(max(n, 0), n_recommendations)
        elif n < n_recommendations <= n_items and n_queries:
            # The catalog holds enough items, but one query's exclusions cut
            # every query's list (a catalog smaller than n_recommendations
            # shortens them as documented, without a warning).
            warnings.warn(
                f"The exclusions leave a query {max(n, 0)} of the {n_items} items, fewer "
                f"than the {n_recommendations} asked: every query gets {max(n, 0)}, so "
                "that the results stay rectangular. Recommend for the queries with many "
                "exclusions separately.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )
        if n <= 0:
            return self._no_recommendations(n_queries)
        few_candidates = n_items * _INDEXED_CANDIDATE_SHARE < catalog.shape[0]
        if self.index_ is None or few_candidates:
            return self._exact_top_k(X, n, exclusions, candidates)

        def search(queries, k):
            return self.index_.search(queries, k, self.ef_search)

        rows, complete = _filters.index_top_k(search, X, n, exclusions, mask)
        if not complete.all():
            # The index found too few allowed items (many exclusions, few
            # candidates near the query, or a sparse region of the graph):
            # answer those queries exactly.
            incomplete = np.flatnonzero(~complete)
            exact_exclusions = None if exclusions is None else exclusions[incomplete]
            rows[incomplete] = self._exact_top_k(
                X[incomplete], n, exact_exclusions, candidates
            )[0]
        return sorted_by_score(rows, rescore(X, catalog, rows, self.metric))

    def _top_k_among_own_candidates(self, X, n_recommendations, exclusions, candidates):
        """``_top_k`` for a CSR matrix of each query's candidates: only those
        pairs are scored, whatever the index."""
        n_queries = X.shape[0]
        allowed = _filters.without(candidates, exclusions)
        counts = np.diff(allowed.indptr)
        fewest = int(counts.min()) if n_queries else 0
        if fewest < n_recommendations and n_queries:
            self._warn_about_few_candidates(fewest, n_recommendations, int(counts.argmin()))
        n = min(n_recommendations, fewest)
        if n <= 0:
            return self._no_recommendations(n_queries)
        return allowed_top_k(X, self.catalog_, n, metric=self.metric, allowed=allowed)

    def _no_recommendations(self, n_queries):
        empty = np.empty((n_queries, 0))
        return empty.astype(np.intp), empty.astype(self.catalog_.dtype)

    def _exact_top_k(self, X, n, exclusions, candidates=None):
        return exact_top_k(
            X, self.catalog_, n, metric=self.metric, exclusions=exclusions,
            n_jobs=effective_n_jobs(self.n_jobs), item_rows=candidates,
            center=self._search_center(),
        )

    def _warn_about_few_candidates(self, n, n_recommendations, query=None):
        which = "a query" if query is None else f"query {query}"
        warnings.warn(
            f"candidate_items leave {which} {n} item(s) to recommend (after exclusions), "
            f"fewer than the {n_recommendations} asked: every query gets {n}, so that the "
            "results stay rectangular. Check the candidates' ids, or group the queries "
            "whose candidates are few.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )

    def _warn_about_empty_queries(self, X):
        n_empty = int(np.count_nonzero(row_norms(X, squared=True) == 0))
        if n_empty:
            meaning = (
                "similarity 0 with every item" if self.metric == "cosine"
                else "the origin as their position"
            )
            warnings.warn(
                f"{n_empty} of {X.shape[0]} queries are all-zero rows (no known feature): "
                f"they have {meaning}, so their recommendations are arbitrary.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.required = False
        return tags
