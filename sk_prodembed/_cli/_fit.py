"""``fit``: TF-IDF -> embedder on a catalog file, saved with the catalog's embeddings.

Every check of the input runs before the first model is fitted, so that a bad
file or option fails in a second rather than after minutes of training.
"""

from collections import Counter
from pathlib import Path

from ._catalog import check_categories, first_of_each, label_filter, read_catalog
from ._models import STEP_NAMES, check_writable, import_skops, model_format, save_model
from ._progress import CommandError, count
from ._read import check_file
from ._training import fit_embedder, make_embedder, make_tfidf, vectorise


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
    distinct = first_of_each(texts)
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
            f"{count(int((~distinct).sum()), 'repeated name')} are in the catalog, "
            "not trained twice"
        )

    tfidf = make_tfidf(args.min_df)
    train_texts = [text for text, first in zip(texts, distinct) if first]
    X_train = vectorise(tfidf, train_texts, progress, args.min_df)
    embedder = make_embedder(kind, args, not args.quiet)
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
