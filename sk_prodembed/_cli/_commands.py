"""The three jobs of the command line: evaluate, fit and recommend.

Every check of the input runs before the first model is fitted, so that a bad
file or option fails in a second rather than after minutes of training.
"""

import csv
import gzip
import math
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from ._models import STEP_NAMES, check_writable, import_skops, load_model, model_format, save_model
from ._progress import CommandError, count
from ._read import check_file, column, read_table

# Label values that mean "no label", besides an empty field: -1 is the
# package's mark of an unlabeled row.
_NO_LABEL = {"", "-1"}


# -- reading a catalog ------------------------------------------------------


def read_catalog(args, progress, *, label_column):
    """Texts, labels (None without a label column) and item ids of ``--csv``."""
    check_file(args.csv)
    with progress.stage(f"Reading {args.csv}") as outcome:
        frame, how = read_table(
            args.csv, sep=args.sep, encoding=args.encoding, compression=args.compression
        )
        outcome.text = f"{count(len(frame), 'row')}, {count(frame.shape[1], 'column')} ({how})"
    texts = column(frame, args.text_column, args.csv, "--text-column")
    labels = None
    if label_column is not None:
        labels = column(frame, label_column, args.csv, "--label-column")
        labels = [None if v is None or v.strip() in _NO_LABEL else v for v in labels]
    if getattr(args, "id_column", None):
        ids = column(frame, args.id_column, args.csv, "--id-column")
    else:
        ids = [str(row) for row in range(len(frame))]

    with_text = [row for row, text in enumerate(texts) if text is not None and text.strip()]
    if len(with_text) < len(texts):
        progress.line(
            f"Dropped {count(len(texts) - len(with_text), 'row')} with an empty "
            f"{args.text_column!r}"
        )
        texts = [texts[row] for row in with_text]
        ids = [ids[row] for row in with_text]
        labels = None if labels is None else [labels[row] for row in with_text]
    if not texts:
        raise CommandError(f"no row of {args.csv} has a text in column {args.text_column!r}")
    return texts, labels, ids


def label_filter(texts, labels, min_class_size, progress):
    """Rows kept by the label filtering, after saying how many and why."""
    import numpy as np

    from ..datasets import labelled_product_mask

    labelled = labelled_product_mask(texts, labels, min_class_size=1, drop_duplicates=False)
    unique = labelled_product_mask(texts, labels, min_class_size=1)
    keep = labelled_product_mask(texts, labels, min_class_size=min_class_size)
    small = unique & ~keep
    n_small_classes = len({labels[row] for row in np.flatnonzero(small)})
    n_classes = len({labels[row] for row in np.flatnonzero(keep)})
    reasons = [
        (int((~labelled).sum()), "without a label"),
        (int((labelled & ~unique).sum()), "with a repeated name (the first is kept)"),
        (int(small.sum()), f"in {count(n_small_classes, 'category', 'categories')} of fewer "
         f"than {min_class_size} products"),
    ]
    dropped = "; dropped " + ", ".join(
        f"{count(n, 'row')} {why}" for n, why in reasons if n
    ) if not keep.all() else ""
    progress.line(
        f"Labels: kept {int(keep.sum()):,} of {count(len(texts), 'row')}, in "
        f"{count(n_classes, 'category', 'categories')}{dropped}"
    )
    return keep


def check_categories(labels, keep, min_class_size, purpose):
    """At least two categories left, or a message saying what is left."""
    kept = Counter(label for label, k in zip(labels, keep) if k)
    if not kept:
        raise CommandError(
            f"no category has {min_class_size} products or more (--min-class-size) "
            f"after dropping unlabelled rows and repeated names: {purpose}"
        )
    if len(kept) == 1:
        (label, size), = kept.items()
        raise CommandError(
            f"only one category is left after filtering ({label!r}, {count(size, 'product')}): "
            f"{purpose}"
        )
    return kept


# -- models -----------------------------------------------------------------


def make_tfidf(min_df):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, min_df=min_df, ngram_range=(1, 2), dtype=np.float32)


def vectorise(tfidf, texts, progress, min_df):
    with progress.stage(f"Vectorising {count(len(texts), 'text')} (TF-IDF, words and word pairs)") as outcome:
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


def fit_embedder(embedder, X, y, progress, name):
    from sklearn.exceptions import ConvergenceWarning

    max_iter = embedder.max_iter
    with progress.stage(f"Fitting {name} on {count(X.shape[0], 'product')}") as outcome:
        with warnings.catch_warnings(), progress.epochs(max_iter):
            # Reaching max_iter is said in the outcome line instead.
            warnings.simplefilter("ignore", ConvergenceWarning)
            embedder.fit(X, y)
        n_iter = embedder.n_iter_
        outcome.text = count(n_iter, "epoch") + (
            f" (the --max-iter limit)" if n_iter == max_iter else " (converged)"
        )
    return embedder


def _embedder(kind, args, verbose):
    from .. import MaskedAutoencoderEmbedder, TripletEmbedder

    Embedder = TripletEmbedder if kind == "triplet" else MaskedAutoencoderEmbedder
    params = dict(verbose=verbose, random_state=args.random_state)
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    return Embedder(args.n_components, **params)


# -- evaluate ---------------------------------------------------------------


def evaluate(args, progress):
    """Fit on the training products, report test precision@10, print recommendations."""
    import numpy as np

    if args.csv is None:
        from ..datasets import load_flipkart_products

        catalog = load_flipkart_products(depth=2, min_class_size=args.min_class_size)
        texts = np.asarray(catalog.data, dtype=object)
        labels = np.asarray(catalog.target, dtype=object)
        print(f"Catalog: bundled Flipkart sample (PromptCloud, CC BY-SA 4.0), "
              f"{len(texts)} products, {len(catalog.target_names)} categories")
        check_categories(labels, np.ones(len(labels), bool), args.min_class_size, "nothing to evaluate")
    else:
        texts, labels, _ = read_catalog(args, progress, label_column=args.label_column)
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
    from sklearn.pipeline import make_pipeline

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
    k_svd = max(1, min(k, X_train.shape[1] - 1))
    candidates = {
        "raw TF-IDF": None,
        f"TruncatedSVD({k_svd})": TruncatedSVD(k_svd, random_state=args.random_state),
        f"MaskedAutoencoderEmbedder({k})": _embedder("autoencoder", args, not args.quiet),
        f"TripletEmbedder({k})": _embedder("triplet", args, not args.quiet),
    }
    results, models = [], {}
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
        models[name] = make_pipeline(tfidf, model) if model is not None else tfidf

    print("\nTest precision@10 (share of the 10 nearest test products in the same category)")
    print(f"{'method':<34} {'precision@10':>12} {'fit seconds':>12}")
    for name, precision, seconds in results:
        print(f"{name:<34} {precision:>12.3f} {seconds:>12.1f}")

    best_name, _, _ = max(results, key=lambda row: row[1])
    print(f"\nRecommendations with {best_name}, catalog = all {len(texts)} products:")
    embed = models[best_name]
    # One more than shown: an example product is its own nearest neighbour.
    recommender = NearestNeighborRecommender(args.n_recommendations + 1)
    recommender.fit(embed.transform(texts), labels)
    rng = np.random.RandomState(args.random_state)
    examples = rng.choice(len(texts), size=min(args.n_examples, len(texts)), replace=False)
    ids, scores = recommender.recommend(embed.transform(texts[examples]))
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


# -- fit --------------------------------------------------------------------


def fit(args, progress):
    """Fit TF-IDF -> embedder on a catalog file, save it with the catalog's embeddings."""
    model_format(args.model)
    check_writable(args.model, "--model")
    check_file(args.csv)
    if model_format(args.model) == "skops":
        import_skops(f"saving {args.model}")
    texts, labels, ids = read_catalog(args, progress, label_column=args.label_column)
    repeated = [item for item, n in Counter(ids).items() if n > 1]
    if repeated:
        raise CommandError(
            f"--id-column {args.id_column!r} has {count(len(repeated), 'repeated id')} "
            f"(for example {repeated[0]!r}); item ids must be unique"
        )
    kind = args.embedder
    if kind == "auto":
        kind = "autoencoder" if labels is None else "triplet"
    if kind == "triplet" and labels is None:
        raise CommandError("--embedder triplet needs --label-column")
    if len(texts) < 2:
        raise CommandError(f"{args.csv} has a single product; fitting needs at least two")

    import numpy as np
    from sklearn.pipeline import Pipeline

    from .. import NearestNeighborRecommender

    # Each text trains once (a repeated name would be its own free positive);
    # every product, repeated or not, is in the catalog of recommendations.
    distinct = _first_of_each(texts)
    y = None
    if kind == "triplet":
        keep = label_filter(texts, labels, args.min_class_size, progress)
        check_categories(labels, keep, args.min_class_size,
                         "the triplet embedder needs at least two; drop --label-column to fit "
                         "the self-supervised autoencoder")
        # Products outside the kept categories still train, as unlabeled rows (-1).
        y = np.array([label if k else -1 for label, k in zip(labels, keep)], dtype=object)
        n_unlabelled = int((distinct & ~keep).sum())
        if n_unlabelled:
            progress.line(f"  {count(n_unlabelled, 'other distinct product')} train unlabelled")
        y = y[distinct]
    if not distinct.all():
        progress.line(
            f"Training on {count(int(distinct.sum()), 'distinct text')}; the "
            f"{count(int((~distinct).sum()), 'repeated name')} are in the catalog, not trained twice"
        )

    tfidf = make_tfidf(args.min_df)
    train_texts = [text for text, first in zip(texts, distinct) if first]
    X_train = vectorise(tfidf, train_texts, progress, args.min_df)
    embedder = _embedder(kind, args, not args.quiet)
    fit_embedder(embedder, X_train, y, progress, f"{type(embedder).__name__}({args.n_components})")
    X = tfidf.transform(texts)
    with progress.stage(f"Indexing the catalog of {count(len(texts), 'product')}"):
        recommender = NearestNeighborRecommender(args.n_recommendations)
        recommender.fit(embedder.transform(X), item_ids=np.asarray(ids, dtype=object))
    model = Pipeline(list(zip(STEP_NAMES, (tfidf, embedder, recommender))))
    with progress.stage(f"Saving {args.model}") as outcome:
        save_model(model, args.model)
        outcome.text = f"{model_format(args.model)}, {Path(args.model).stat().st_size / 1e6:.1f} MB"
    return 0


# -- recommend --------------------------------------------------------------


def recommend(args, progress):
    """Recommendations from a saved model, for catalog items, a file or new texts."""
    if args.output != "-":
        check_writable(args.output, "--output")
    with progress.stage(f"Loading {args.model}") as outcome:
        model = load_model(args.model)
        recommender = model.named_steps["recommender"]
        catalog_ids = recommender.item_ids_
        outcome.text = f"catalog of {count(len(catalog_ids), 'product')}"
    n = args.n_recommendations or recommender.n_recommendations

    key_name = "item_id"
    if args.text:
        key_name, keys = "text", list(args.text)
        ids, scores = recommender.recommend(model[:-1].transform(keys), n)
    elif args.items or args.csv:
        if args.items:
            positions = {item: row for row, item in enumerate(catalog_ids)}
            unknown = [item for item in args.items if item not in positions]
            if unknown:
                raise CommandError(
                    f"{count(len(unknown), 'id')} of --items not in the model's catalog: "
                    f"{', '.join(map(repr, unknown[:5]))}{' ...' if len(unknown) > 5 else ''} "
                    "(ids are the --id-column values given to fit, or row numbers from 0)"
                )
            keys = list(args.items)
            queries = recommender.catalog_[[positions[item] for item in keys]]
        else:
            texts, _, keys = read_catalog(args, progress, label_column=None)
            with progress.stage(f"Embedding {count(len(texts), 'product')}"):
                queries = model[:-1].transform(texts)
        # One more, for the query itself when it is a catalog item: an item is
        # never recommended for itself.
        ids, scores = recommender.recommend(queries, min(n + 1, len(catalog_ids)))
        ids, scores = _drop_own_id(keys, ids, scores, n)
    else:
        keys = list(catalog_ids)
        with progress.stage(f"Recommending for all {count(len(keys), 'catalog product')}"):
            ids, scores = recommender.recommend(recommender.catalog_, n, exclude_self=True)
    _write_recommendations(args.output, key_name, keys, ids, scores)
    if args.output != "-":
        progress.line(f"Wrote {count(sum(map(len, ids)), 'recommendation')} "
                      f"for {count(len(keys), 'query', 'queries')} to {args.output}")
    return 0


def _first_of_each(texts):
    import numpy as np

    seen = set()
    first = np.zeros(len(texts), dtype=bool)
    for row, text in enumerate(texts):
        first[row] = text not in seen
        seen.add(text)
    return first


def _drop_own_id(keys, ids, scores, n):
    kept_ids, kept_scores = [], []
    for key, row_ids, row_scores in zip(keys, ids, scores):
        row = [(i, s) for i, s in zip(row_ids, row_scores) if i != key][:n]
        kept_ids.append([i for i, _ in row])
        kept_scores.append([s for _, s in row])
    return kept_ids, kept_scores


def _write_recommendations(path, key_name, keys, ids, scores):
    delimiter = "\t" if path.lower().endswith((".tsv", ".tsv.gz")) else ","
    if path == "-":
        file = sys.stdout
    elif path.lower().endswith(".gz"):
        file = gzip.open(path, "wt", encoding="utf-8", newline="")
    else:
        file = open(path, "w", encoding="utf-8", newline="")
    try:
        writer = csv.writer(file, delimiter=delimiter, lineterminator="\n")
        writer.writerow([key_name, "rank", "recommended_id", "score"])
        for key, row_ids, row_scores in zip(keys, ids, scores):
            for rank, (item, score) in enumerate(zip(row_ids, row_scores), start=1):
                writer.writerow([key, rank, item, f"{score:.4f}"])
    finally:
        if file is not sys.stdout:
            file.close()
