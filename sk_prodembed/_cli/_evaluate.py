"""``evaluate``: the main job, on the bundled catalog or a file of labelled products.

Splits the labelled products (stratified), fits TF-IDF -> TruncatedSVD,
MaskedAutoencoderEmbedder and TripletEmbedder on the training part, reports the
test precision@10 of each next to raw TF-IDF, then example recommendations of
the best method refitted on every product (as ``fit`` fits on the whole catalog).
"""

import math
import time

from ._catalog import check_categories, label_filter, read_catalog
from ._progress import CommandError, count
from ._training import beside_words, fit_embedder, make_embedder, make_tfidf, vectorise


def evaluate(args, progress):
    """Fit on the training products, report test precision@10, print recommendations."""
    import numpy as np

    if args.csv is None:
        from ..datasets import load_flipkart_products

        if args.label_separator is not None:
            raise CommandError("--label-separator reads the labels of --csv; the bundled "
                               "catalog has one category per product")
        # The project's protocol labels by two levels unless told otherwise.
        depth = 2 if args.label_depth is None else args.label_depth
        catalog = load_flipkart_products(depth=depth, min_class_size=args.min_class_size)
        texts = np.asarray(catalog.data, dtype=object)
        labels = np.asarray(catalog.target, dtype=object)
        print(f"Catalog: bundled Flipkart sample (PromptCloud, CC BY-SA 4.0), "
              f"{len(texts)} products, {len(catalog.target_names)} categories")
        check_categories(
            labels, np.ones(len(labels), bool), args.min_class_size, "nothing to evaluate"
        )
    else:
        texts, labels, _, _ = read_catalog(args, progress, label_column=args.label_column)
        keep = label_filter(texts, labels, args.min_class_size, progress)
        check_categories(labels, keep, args.min_class_size,
                         "evaluation needs at least two categories")
        texts = np.asarray(texts, dtype=object)[keep]
        labels = np.asarray(labels, dtype=object)[keep]
        print(f"Catalog: {args.csv}, {len(texts)} labelled products in "
              f"{len(set(labels))} categories")
    _check_split(len(texts), len(set(labels)), args.test_size)

    from sklearn.decomposition import TruncatedSVD
    from sklearn.model_selection import train_test_split

    from .. import NearestNeighborRecommender

    t_train, t_test, y_train, y_test = train_test_split(
        texts, labels, test_size=args.test_size, stratify=labels, random_state=args.random_state
    )
    print(f"Split: {len(t_train)} training and {len(t_test)} test products", flush=True)

    tfidf = make_tfidf(args.min_df)
    start = time.perf_counter()
    X_train = vectorise(tfidf, t_train, progress, args.min_df)
    # Every method's fit seconds include the TF-IDF it starts from.
    tfidf_seconds = time.perf_counter() - start
    X_test = tfidf.transform(t_test)
    k = args.n_components
    # TruncatedSVD needs fewer components than features (tiny vocabularies).
    k_svd = min(k, X_train.shape[1] - 1)
    candidates = {"raw TF-IDF": None}
    if k_svd >= 1:
        candidates[f"TruncatedSVD({k_svd})"] = TruncatedSVD(k_svd, random_state=args.random_state)
    else:
        progress.line("TruncatedSVD skipped: it needs at least 2 features")
    candidates[f"MaskedAutoencoderEmbedder({k})"] = make_embedder("autoencoder", args, not args.quiet)
    candidates[f"TripletEmbedder({k})"] = make_embedder("triplet", args, not args.quiet)
    results = []
    for name, model in candidates.items():
        start = time.perf_counter()
        if model is None:
            embedded = X_test
        elif isinstance(model, TruncatedSVD):
            with progress.stage(f"Fitting {name} on {count(X_train.shape[0], 'product')}"):
                model.fit(X_train)
            embedded = model.transform(X_test)
        else:
            fit_embedder(model, X_train, y_train, progress, name)
            embedded = model.transform(X_test)
        seconds = tfidf_seconds + time.perf_counter() - start
        # Precision@10 among the test products, each excluded from its own list.
        precision = NearestNeighborRecommender(10).fit(embedded, y_test).score(embedded)
        results.append((name, precision, seconds))

    print("\nTest precision@10 (share of the 10 nearest test products in the same category)")
    print(f"{'method':<34} {'precision@10':>12} {'fit seconds':>12}")
    for name, precision, seconds in results:
        print(f"{name:<34} {precision:>12.3f} {seconds:>12.1f}")

    if args.n_examples == 0:
        return 0
    best_name, _, _ = max(results, key=lambda row: row[1])
    features = refit_on_catalog(
        candidates[best_name], f"{best_name} again", texts, labels, args, progress
    )
    how = f"{best_name}, refitted on all {count(len(texts), 'product')}"
    if candidates[best_name] is None:
        print(f"\nRecommendations with {how}:")
    else:
        # See beside_words: the embedding alone printed cosines of 1.00
        # between a suit and leggings of "Women's Clothing".
        print(f"\nRecommendations with {how}, beside TF-IDF (the mean of the two cosines):")

    # One more than shown: an example product is its own nearest neighbour.
    recommender = NearestNeighborRecommender(args.n_recommendations + 1)
    recommender.fit(features(texts), labels)
    rng = np.random.RandomState(args.random_state)
    examples = rng.choice(len(texts), size=min(args.n_examples, len(texts)), replace=False)
    ids, scores = recommender.recommend(features(texts[examples]))
    for example, row_ids, row_scores in zip(examples, ids, scores):
        print(f"\n  {texts[example]}  [{labels[example]}]")
        shown = [(i, s) for i, s in zip(row_ids, row_scores) if i != example]
        for item, score in shown[: args.n_recommendations]:
            print(f"    {score:5.2f}  {texts[item]}  [{labels[item]}]")
    return 0


def _check_split(n_products, n_classes, test_size):
    n_test = math.ceil(test_size * n_products)
    n_train = n_products - n_test
    if min(n_test, n_train) < n_classes:
        raise CommandError(
            f"too few products ({n_products}) for a stratified split with --test-size "
            f"{test_size} and {n_classes} categories: the training ({n_train}) and test "
            f"({n_test}) parts need at least one product of each category; add products, "
            "raise --min-class-size or change --test-size"
        )


def refit_on_catalog(model, name, texts, labels, args, progress):
    """The evaluation's best method refitted on every product: a function from
    texts to the rows the example recommendations search.

    Fitted on the whole catalog as ``fit``'s models are, and as
    ``GridSearchCV`` refits its best estimator on all the data: its
    vocabulary knows the words of the test products too (a brand seen once
    among the training products is no feature of the evaluated models,
    which tied two jeans of different brands at a cosine of 1.00). Returns
    TF-IDF rows for raw TF-IDF (None), else the fitted model's output beside
    the TF-IDF rows (:func:`beside_words`). A TruncatedSVD keeps its
    ``n_components``: the whole catalog has at least the training part's
    features.
    """
    from sklearn.base import clone
    from sklearn.decomposition import TruncatedSVD

    tfidf = make_tfidf(args.min_df)
    X = vectorise(tfidf, texts, progress, args.min_df)
    if model is None:
        return tfidf.transform
    model = clone(model)
    if isinstance(model, TruncatedSVD):
        with progress.stage(f"Fitting {name} on {count(X.shape[0], 'product')}"):
            model.fit(X)
    else:
        fit_embedder(model, X, labels, progress, name)
    side_by_side = beside_words(model)
    return lambda some_texts: side_by_side.transform(tfidf.transform(some_texts))
