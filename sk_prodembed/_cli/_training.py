"""TF-IDF and the embedders, fitted with stage and epoch lines."""

import warnings

from ._progress import CommandError, count


def make_tfidf(min_df):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, min_df=min_df, ngram_range=(1, 2), dtype=np.float32)


def vectorise(tfidf, texts, progress, min_df):
    stage = f"Vectorising {count(len(texts), 'text')} (TF-IDF, words and word pairs)"
    with progress.stage(stage) as outcome:
        try:
            X = tfidf.fit_transform(texts)
        except ValueError as error:
            if "vocabulary" not in str(error) and "min_df" not in str(error):
                raise
            raise CommandError(
                f"no word occurs in at least {min_df} of the {count(len(texts), 'text')} "
                "(--min-df): add products or lower --min-df"
            ) from error
        outcome.text = count(X.shape[1], "feature")
    return X


def fit_embedder(embedder, X, y, progress, name, **fit_params):
    from sklearn.exceptions import ConvergenceWarning

    max_iter = embedder.max_iter
    with progress.stage(f"Fitting {name} on {count(X.shape[0], 'product')}") as outcome:
        with warnings.catch_warnings(), progress.epochs(max_iter):
            # Reaching max_iter is said in the outcome line instead.
            warnings.simplefilter("ignore", ConvergenceWarning)
            embedder.fit(X, y, **fit_params)
        n_iter = embedder.n_iter_
        if not isinstance(max_iter, int):
            why = f" (max_iter={max_iter!r})"
        else:
            why = " (the --max-iter limit)" if n_iter == max_iter else " (converged)"
        outcome.text = count(n_iter, "epoch") + why
    return embedder


def make_embedder(kind, args, verbose):
    from .. import MaskedAutoencoderEmbedder, TripletEmbedder

    Embedder = TripletEmbedder if kind == "triplet" else MaskedAutoencoderEmbedder
    params = dict(verbose=verbose, random_state=args.random_state)
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    return Embedder(args.n_components, **params)


def beside_words(embedder):
    """A fitted embedder's unit rows beside the TF-IDF rows, for recommending.

    An embedding trained on categories puts a category's products nearly on
    one point (cosines of 1.00 between a salwar suit and leggings of "Women's
    Clothing"): category precision rewards that, a shopper does not. Side by
    side with the words, both parts of unit length and weighted by
    1/sqrt(2), the cosine is the mean of the two cosines: the category (or
    the pairs) from the embedding, the order within it from the words (the
    README's hybrid). Returns a fitted ``FeatureUnion``; the embedder inside
    is frozen, so fitting the union never refits it.
    """
    import numpy as np
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, Normalizer

    weight = 1 / np.sqrt(2.0)
    union = FeatureUnion(
        [
            ("words", FunctionTransformer(accept_sparse=True)),
            ("embedding", make_pipeline(FrozenEstimator(embedder), Normalizer())),
        ],
        transformer_weights={"words": weight, "embedding": weight},
    )
    # Nothing is learned: the words pass through, the embedder is frozen.
    return union.fit(np.zeros((1, embedder.n_features_in_), dtype=np.float32))
