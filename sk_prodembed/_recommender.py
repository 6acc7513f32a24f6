"""NearestNeighborRecommender: top-k similar catalog items, the last step of a Pipeline."""

from collections import Counter
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn import get_config
from sklearn.base import BaseEstimator, _fit_context
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .metrics import precision_at_k


def _dense(block):
    return block.toarray() if sp.issparse(block) else np.asarray(block)


def _rows_sorted_by_score(indices, scores):
    """Sort each row by decreasing score; equal scores by catalog index."""
    order = np.lexsort((indices, -scores), axis=-1)
    return np.take_along_axis(indices, order, 1), np.take_along_axis(scores, order, 1)


class NearestNeighborRecommender(BaseEstimator):
    """Recommend the catalog items nearest to each query.

    ``fit`` stores the catalog: the (embedded) product rows, optionally their
    labels and the caller's item ids. ``predict`` returns, for each query row,
    the ids of the ``n_recommendations`` most similar catalog items, best
    first. As the last step of a Pipeline (for example TF-IDF, an embedder,
    then this recommender), ``pipe.predict(texts)`` recommends from raw text
    and ``pipe.score(texts, labels)`` rates the embedding by label
    precision@k, so GridSearchCV can tune the embedder with no custom scorer.

    Parameters
    ----------
    n_recommendations : int, default=10
        Number of items recommended per query (fewer if the catalog is
        smaller). Also the ``k`` of :meth:`score`.
    metric : {"cosine", "euclidean"}, default="cosine"
        Similarity. The scores returned by :meth:`recommend` are the cosine
        similarity, or the negated euclidean distance, so that higher is
        always more similar.
    algorithm : {"brute", "auto", "kd_tree", "ball_tree"}, default="brute"
        ``"brute"`` compares each query with every catalog item by matrix
        products over blocks of queries, sized by scikit-learn's
        ``working_memory`` setting so memory stays bounded; it keeps sparse
        input sparse. The other values delegate to
        :class:`sklearn.neighbors.NearestNeighbors` (with cosine, on
        L2-normalised rows, where euclidean order equals cosine order); trees
        only pay off for low-dimensional dense embeddings, and scikit-learn
        falls back to brute force (with a warning) for sparse input.
    n_jobs : int, default=None
        Parallel jobs: threads over query blocks for ``"brute"`` (each holds
        one block of similarities), passed on to NearestNeighbors otherwise.
        None means 1 unless in a joblib context.

    Attributes
    ----------
    catalog_ : {ndarray, sparse matrix} of shape (n_items, n_features)
        The fitted catalog rows, L2-normalised when ``metric="cosine"``.
    catalog_labels_ : ndarray of shape (n_items,) or None
        The ``y`` given to ``fit``, used by :meth:`score`.
    item_ids_ : ndarray of shape (n_items,) or None
        The ``item_ids`` given to ``fit``; None means ids are row indices.
    nn_ : NearestNeighbors or None
        The fitted index for the tree algorithms; None for ``"brute"``.
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
    rounding, and nothing otherwise.

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
    >>> ids, similarities = recommender.recommend(catalog, 1, exclude_self=True)
    >>> ids.ravel().tolist()
    ['m2', 'm1', 's2', 's1']
    >>> recommender.score(catalog, ["mug", "mug", "sofa", "sofa"])  # self excluded
    0.5
    """

    _parameter_constraints: dict = {
        "n_recommendations": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "algorithm": [StrOptions({"brute", "auto", "kd_tree", "ball_tree"})],
        "n_jobs": [Integral, None],
    }

    def __init__(self, n_recommendations=10, *, metric="cosine", algorithm="brute", n_jobs=None):
        self.n_recommendations = n_recommendations
        self.metric = metric
        self.algorithm = algorithm
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, item_ids=None):
        """Store the catalog.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_items, n_features)
            Catalog rows, typically embeddings.
        y : array-like of shape (n_items,), default=None
            Item labels (for example categories), needed by :meth:`score`.
        item_ids : array-like of shape (n_items,), default=None
            Unique ids returned by :meth:`predict` instead of row indices.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        X, y = self._validate_catalog(X, y)
        if item_ids is not None:
            item_ids = column_or_1d(item_ids)
            if len(item_ids) != X.shape[0]:
                raise ValueError(
                    f"item_ids has {len(item_ids)} entries but X has {X.shape[0]} rows."
                )
            if len(set(item_ids.tolist())) != len(item_ids):
                raise ValueError("item_ids must be unique.")
        self.catalog_ = self._prepare_rows(X)
        self.catalog_labels_ = y
        self.item_ids_ = item_ids
        self.nn_ = None
        if self.algorithm != "brute":
            # On L2-normalised rows ||a - b||^2 = 2 - 2 cos(a, b), so the
            # euclidean index also ranks by cosine similarity.
            self.nn_ = NearestNeighbors(
                algorithm=self.algorithm, metric="euclidean", n_jobs=self.n_jobs
            ).fit(self.catalog_)
        return self

    def predict(self, X, *, exclude_self=False):
        """Ids of the recommended catalog items, most similar first.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
            Query rows.
        exclude_self : bool or "auto", default=False
            Whether query row ``i`` is catalog item ``i`` and must not be
            recommended to itself; see the Notes of the class. Through a
            Pipeline: ``pipe.predict(texts, exclude_self=True)``.

        Returns
        -------
        ids : ndarray of shape (n_queries, n_recommendations)
            Item ids (``item_ids`` given to fit, else catalog row indices).
        """
        return self.recommend(X, exclude_self=exclude_self)[0]

    def recommend(self, X, n_recommendations=None, *, exclude_self=False):
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

        Returns
        -------
        ids : ndarray of shape (n_queries, n_recommendations)
            Item ids, most similar first.
        similarities : ndarray of shape (n_queries, n_recommendations)
            Cosine similarity, or negated euclidean distance, in the dtype of
            the catalog.
        """
        check_is_fitted(self)
        if n_recommendations is None:
            n_recommendations = self.n_recommendations
        elif not isinstance(n_recommendations, Integral) or n_recommendations < 1:
            raise ValueError(
                f"n_recommendations must be a positive int, got {n_recommendations!r}."
            )
        X = self._validate_queries(X)
        indices, similarities = self._top_k(
            X, n_recommendations, self._resolve_exclude_self(X, exclude_self)
        )
        ids = indices if self.item_ids_ is None else self.item_ids_[indices]
        return ids, similarities

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
        y, recommended_labels, _ = self._label_ground_truth(X, y, self.n_recommendations)
        return precision_at_k(y, recommended_labels)

    def _label_ground_truth(self, X, y, n_recommendations):
        """What label-based metrics need for queries X with labels y.

        Returns ``(y, recommended_labels, n_relevant)``: the query labels (the
        catalog's when y is None and X is the catalog), the stored labels of
        the recommendations, and how many catalog items share each query's
        label, not counting the excluded item itself.
        """
        check_is_fitted(self)
        if self.catalog_labels_ is None:
            raise ValueError(
                "Scoring compares labels: fit the recommender with y, the labels of "
                "the catalog items."
            )
        X = self._validate_queries(X)
        exclude_self = self._resolve_exclude_self(X, "auto")
        if y is None:
            if not exclude_self:
                raise ValueError("y is required unless X is the fitted catalog.")
            y = self.catalog_labels_
        y = column_or_1d(y)
        if len(y) != X.shape[0]:
            raise ValueError(f"y has {len(y)} labels but X has {X.shape[0]} rows.")
        indices, _ = self._top_k(X, n_recommendations, exclude_self)
        catalog_counts = Counter(self.catalog_labels_.tolist())
        n_relevant = np.array([catalog_counts[label] for label in y.tolist()])
        if exclude_self:
            n_relevant -= self.catalog_labels_ == y
        return y, self.catalog_labels_[indices], n_relevant

    # -- validation ----------------------------------------------------------

    def _validate_catalog(self, X, y):
        dtypes = [np.float64, np.float32]
        if y is None:
            return validate_data(self, X, accept_sparse="csr", dtype=dtypes), None
        return validate_data(self, X, y, accept_sparse="csr", dtype=dtypes)

    def _validate_queries(self, X):
        X = validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32]
        )
        return self._prepare_rows(X.astype(self.catalog_.dtype, copy=False))

    def _prepare_rows(self, X):
        return normalize(X) if self.metric == "cosine" else X

    def _resolve_exclude_self(self, X, exclude_self):
        """Turn ``exclude_self`` into a bool for prepared query rows X."""
        if exclude_self == "auto":
            return self._queries_are_catalog(X)
        if exclude_self is True or exclude_self is False:
            if exclude_self and X.shape[0] != self.catalog_.shape[0]:
                raise ValueError(
                    "exclude_self=True means query row i is catalog item i, but X has "
                    f"{X.shape[0]} rows and the catalog {self.catalog_.shape[0]}."
                )
            return exclude_self
        raise ValueError(
            f"exclude_self must be True, False or 'auto', got {exclude_self!r}."
        )

    def _queries_are_catalog(self, X):
        catalog = self.catalog_
        if X is catalog:
            return True
        if X.shape != catalog.shape:
            return False
        # A Pipeline re-embeds the catalog rows at score time; fit_transform and
        # transform may differ by rounding, so equality is up to sqrt(eps).
        difference = abs(X - catalog)
        largest_difference = difference.max() if difference.size else 0.0
        scale = abs(catalog).max() if catalog.size else 0.0
        return bool(largest_difference <= np.sqrt(np.finfo(catalog.dtype).eps) * max(scale, 1.0))

    # -- search --------------------------------------------------------------

    def _top_k(self, X, n_recommendations, exclude_self):
        """Catalog indices and similarities of the nearest items, best first."""
        n_available = self.catalog_.shape[0] - int(exclude_self)
        n = min(n_recommendations, n_available)
        if n == 0:
            empty = np.empty((X.shape[0], 0))
            return empty.astype(np.intp), empty.astype(self.catalog_.dtype)
        if self.nn_ is None:
            return self._brute_top_k(X, n, exclude_self)
        return self._index_top_k(X, n, exclude_self)

    def _brute_top_k(self, X, n, exclude_self):
        catalog = self.catalog_
        n_queries, n_items = X.shape[0], catalog.shape[0]
        # One block of similarities holds n_items values per query row.
        bytes_per_row = n_items * catalog.dtype.itemsize
        working_bytes = get_config()["working_memory"] * 2**20
        block_rows = max(1, int(working_bytes // bytes_per_row))
        if self.metric == "euclidean":
            catalog_squared_norms = row_norms(catalog, squared=True)

        def top_of_block(rows):
            products = _dense(X[rows] @ catalog.T)
            if self.metric == "euclidean":
                # Rank by 2 q.c - |c|^2 = |q|^2 - |q - c|^2: the query norm does not
                # change the order, so it is added back only for the chosen items.
                ranking = 2 * products - catalog_squared_norms
            else:
                ranking = products
            if exclude_self:
                block = np.arange(rows.stop - rows.start)
                ranking[block, rows.start + block] = -np.inf
            indices = np.argpartition(-ranking, n - 1, axis=1)[:, :n]
            indices, scores = _rows_sorted_by_score(
                indices, np.take_along_axis(ranking, indices, 1)
            )
            if self.metric == "euclidean":
                query_norms = row_norms(X[rows], squared=True)[:, None]
                scores = -np.sqrt(np.maximum(query_norms - scores, 0))
            return indices, scores

        blocks = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(top_of_block)(rows) for rows in gen_batches(n_queries, block_rows)
        )
        indices = np.vstack([block[0] for block in blocks])
        scores = np.vstack([block[1] for block in blocks]).astype(catalog.dtype, copy=False)
        return indices, scores

    def _index_top_k(self, X, n, exclude_self):
        distances, indices = self.nn_.kneighbors(X, n_neighbors=n + int(exclude_self))
        if exclude_self:
            # Drop the item itself where it was found, else the farthest
            # neighbour (the item hid behind more than n exact duplicates).
            keep = indices != np.arange(X.shape[0])[:, None]
            keep[keep.all(axis=1), -1] = False
            shape = (X.shape[0], n)
            indices, distances = indices[keep].reshape(shape), distances[keep].reshape(shape)
        if self.metric == "cosine":
            scores = 1 - distances**2 / 2
        else:
            scores = -distances
        indices, scores = _rows_sorted_by_score(indices, scores)
        return indices, scores.astype(self.catalog_.dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.required = False
        return tags
