"""``fit``: TF-IDF -> embedder on a catalog file, saved with the catalog's embeddings.

Every check of the input runs before the first model is fitted, so that a bad
file or option fails in a second rather than after minutes of training.
"""

from collections import Counter
from pathlib import Path

from ._catalog import (
    check_categories,
    first_of_each,
    label_filter,
    read_catalog,
    text_columns,
)
from ._models import STEP_NAMES, check_writable, import_skops, model_format, save_model
from ._progress import CommandError, count
from ._read import check_file
from ._training import beside_words, fit_embedder, make_embedder, make_tfidf, vectorise


def fit(args, progress):
    """Fit TF-IDF -> embedder on a catalog file, save it with the catalog's embeddings."""
    check_file(args.csv)
    if args.orders is not None:
        check_file(args.orders)
        if not args.id_column:
            raise CommandError("--orders needs --id-column: the product ids its orders name")
    _check_model_path(args.model)
    texts, labels, ids, _ = read_catalog(args, progress, label_column=args.label_column)
    kind = _embedder_kind(args, texts, labels, ids)

    import numpy as np
    from sklearn.pipeline import Pipeline

    from .. import NearestNeighborRecommender

    # Each text trains once (a repeated name would be its own free positive),
    # as its first row with a kept label if it has one; every product,
    # repeated or not, is in the catalog of recommendations.
    keep = None
    if kind == "triplet" and labels is not None:
        keep = _kept_labels(texts, labels, args, progress)
    distinct = first_of_each(texts, preferred=keep)
    y = None if keep is None else _training_labels(labels, keep, distinct, progress)
    if not distinct.all():
        progress.line(
            f"Training on {count(int(distinct.sum()), 'distinct text')}; the "
            f"{count(int((~distinct).sum()), 'repeated name')} are in the catalog, "
            "not trained twice"
        )
    pair_params = {}
    if args.orders is not None:
        pair_params = _pairs_from_orders(args, texts, ids, distinct, progress)

    tfidf = make_tfidf(args.min_df)
    train_texts = [text for text, first in zip(texts, distinct) if first]
    X_train = vectorise(tfidf, train_texts, progress, args.min_df)
    embedder = make_embedder(kind, args, not args.quiet)
    fit_embedder(embedder, X_train, y, progress, f"{type(embedder).__name__}({args.n_components})",
                 **pair_params)
    # The triplet embedding recommends beside the words (see beside_words); the
    # self-supervised autoencoder's does not collapse a category to a point.
    features = beside_words(embedder) if kind == "triplet" else embedder
    with progress.stage(f"Indexing the catalog of {count(len(texts), 'product')}"):
        X = tfidf.transform(texts)
        recommender = NearestNeighborRecommender(args.n_recommendations)
        # Fixed-width strings: saved as one binary array (object arrays take
        # several times the room in a .skops file).
        recommender.fit(features.transform(X), item_ids=np.asarray(ids, dtype=str))
    n_wordless = int((X.getnnz(axis=1) == 0).sum())
    if n_wordless:
        progress.line(
            f"  {count(n_wordless, 'product')} with no word in at least --min-df={args.min_df} "
            "products: in the catalog, but recommend skips them as queries"
        )
    # The saved model embeds and recommends; it is never trained further, so it
    # need not hold the optimizer's moments (nor the autoencoder's decoder).
    embedder.drop_training_state()
    model = Pipeline(list(zip(STEP_NAMES, (tfidf, features, recommender))))
    # recommend --csv reads the same columns, and ids, unless told otherwise.
    model.text_columns_ = text_columns(args)
    model.id_column_ = args.id_column
    with progress.stage(f"Saving {args.model}") as outcome:
        save_model(model, args.model)
        outcome.text = f"{model_format(args.model)}, {Path(args.model).stat().st_size / 1e6:.1f} MB"
    return 0


def _check_model_path(path):
    """A model name, folder and format that can be saved, before any work."""
    model_format(path)
    check_writable(path, "--model")
    if model_format(path) == "skops":
        import_skops(f"saving {path}")


def _embedder_kind(args, texts, labels, ids):
    repeated = [item for item, n in Counter(ids).items() if n > 1]
    if repeated:
        raise CommandError(
            f"--id-column {args.id_column!r} has {count(len(repeated), 'repeated id')} "
            f"(for example {repeated[0]!r}); item ids must be unique"
        )
    if len(texts) < 2:
        raise CommandError(f"{args.csv} has a single product; fitting needs at least two")
    supervised = labels is not None or args.orders is not None
    if args.embedder == "triplet" and not supervised:
        raise CommandError("--embedder triplet needs --label-column or --orders")
    if args.embedder == "autoencoder" and args.orders is not None:
        raise CommandError("--orders trains the triplet embedder: drop --embedder autoencoder")
    if args.embedder == "auto":
        return "triplet" if supervised else "autoencoder"
    return args.embedder


def _pairs_from_orders(args, texts, ids, distinct, progress):
    """``pairs`` and ``pair_weight`` for TripletEmbedder.fit, as rows of the distinct texts."""
    import numpy as np

    from ..pairs import pairs_from_baskets
    from ._read import column, read_table

    with progress.stage(f"Reading {args.orders}") as outcome:
        frame, how = read_table(args.orders)
        outcome.text = f"{count(len(frame), 'order line')} ({how})"
    item_column = args.order_item_column or args.id_column
    orders = column(frame, args.order_column, args.orders, "--order-column")
    items = column(frame, item_column, args.orders, "--order-item-column")
    # A product whose name repeats another one's trains as the row that trains.
    trained_id = {text: item for text, item, d in zip(texts, ids, distinct) if d}
    canonical = {item: trained_id[text] for text, item in zip(texts, ids)}
    known = [o is not None and i in canonical for o, i in zip(orders, items)]
    n_unknown = len(known) - sum(known)
    if n_unknown == len(known):
        shown = next((i for i in items if i is not None), None)
        raise CommandError(
            f"no line of {args.orders} names a product of the catalog in its "
            f"{item_column!r} column (for example {shown!r}; catalog ids look like "
            f"{ids[0]!r}): orders and catalog must share the ids of --id-column "
            "(check leading zeros, or pass --order-item-column)"
        )
    if n_unknown:
        progress.line(f"  {count(n_unknown, 'order line')} with a product not in the catalog "
                      "(or no order id): left out")
    orders = [o for o, k in zip(orders, known) if k]
    items = [canonical[i] for i, k in zip(items, known) if k]
    train_ids = np.asarray(ids, dtype=object)[distinct]
    found = pairs_from_baskets(
        np.asarray(orders, dtype=object), np.asarray(items, dtype=object),
        min_count=args.min_pair_count, min_npmi=args.min_npmi, item_index=train_ids,
    )
    if len(found.pairs) == 0:
        raise CommandError(
            f"no pair of catalog products is in at least --min-pair-count={args.min_pair_count} "
            f"of the orders of {args.orders} with NPMI >= --min-npmi={args.min_npmi}: lower them"
        )
    progress.line(
        f"Pairs: {count(len(found.pairs), 'pair')} of products bought together, from "
        f"{count(int(found.n_orders), 'order')} (at least {args.min_pair_count} orders, "
        f"NPMI >= {args.min_npmi}), weighted by their number of orders"
    )
    return {"pairs": found.pairs, "pair_weight": found.counts.astype(np.float64)}


def _kept_labels(texts, labels, args, progress):
    """The rows whose label trains (one per distinct text), said aloud and checked."""
    keep = label_filter(texts, labels, args.min_class_size, progress)
    check_categories(labels, keep, args.min_class_size,
                     "the triplet embedder needs at least two; drop --label-column to fit "
                     "the self-supervised autoencoder")
    return keep


def _training_labels(labels, keep, distinct, progress):
    """Labels of the distinct texts; products outside the kept categories are -1."""
    import numpy as np

    # They still train, as unlabeled rows (the masked-view objective).
    n_unlabelled = int((distinct & ~keep).sum())
    if n_unlabelled:
        progress.line(f"  {count(n_unlabelled, 'other distinct product')} train unlabelled")
    y = np.array([label if k else -1 for label, k in zip(labels, keep)], dtype=object)
    return y[distinct]
