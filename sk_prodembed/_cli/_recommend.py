"""``recommend``: recommendations of a saved model, written as CSV rows
``item_id,rank,recommended_id,score``."""

import csv
import gzip
import sys

from ._catalog import DEFAULT_TEXT_COLUMN, plain_text, read_catalog, text_columns
from ._models import check_writable, load_model
from ._progress import CommandError, count


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
    candidates = None if args.candidates is None else _read_candidates(args, catalog_ids, progress)

    key_name = "item_id"
    if args.text:
        key_name, keys = "text", list(args.text)
        queries, known = _embed(model, [plain_text(text) for text in keys])
    elif args.csv:
        # The columns the model was fitted on (models saved before it
        # recorded them: product_name), and its id column if the file has one.
        columns = text_columns(args, getattr(model, "text_columns_", [DEFAULT_TEXT_COLUMN]))
        texts, _, keys, id_column = read_catalog(
            args, progress, label_column=None, columns=columns,
            fallback_id_column=getattr(model, "id_column_", None),
        )
        if id_column is None:
            # Row numbers of this file say nothing of which catalog product a
            # row is: its rows are new products, keyed by their row.
            key_name = "row"
            progress.line(
                f"No id column: the products of {args.csv} are recommended for as new "
                "ones, keyed by their row number (give --id-column to leave a catalog "
                "product's own id out of its recommendations)"
            )
        with progress.stage(f"Embedding {count(len(texts), 'product')}"):
            queries, known = _embed(model, texts)
    else:
        keys = list(catalog_ids) if args.items is None else _check_items(args.items, catalog_ids)
        positions = {item: row for row, item in enumerate(catalog_ids)}
        queries = recommender.catalog_[[positions[item] for item in keys]]
        known = ~_is_empty_text(model, queries)

    # A text with no word of the vocabulary embeds like the empty text, the
    # same for all of them: its recommendations would be arbitrary.
    if not known.all():
        progress.line(
            f"No recommendations for {count(int((~known).sum()), 'query', 'queries')} with no "
            "word of the model's vocabulary (the words of at least --min-df products at fit)"
        )
        keys = [key for key, ok in zip(keys, known) if ok]
        queries = queries[known]
    ids, scores = [], []
    if keys:
        with progress.stage(f"Recommending for {count(len(keys), 'query', 'queries')}"):
            if key_name in ("text", "row"):
                n_asked = n if candidates is None else min(n, len(candidates))
                ids, scores = recommender.recommend(queries, n_asked, candidate_items=candidates)
            else:
                # One more, for the query itself when it is a catalog item: an
                # item is never recommended for itself.
                n_asked = min(n + 1, len(catalog_ids) if candidates is None else len(candidates))
                ids, scores = recommender.recommend(queries, n_asked, candidate_items=candidates)
                ids, scores = _drop_own_id(keys, ids, scores, n)
    _write_recommendations(args.output, key_name, keys, ids, scores)
    if args.output != "-":
        progress.line(f"Wrote {count(sum(map(len, ids)), 'recommendation')} "
                      f"for {count(len(keys), 'query', 'queries')} to {args.output}")
    return 0


def _read_candidates(args, catalog_ids, progress):
    """The catalog ids of ``--candidates`` (the only items recommended), said aloud."""
    from ._read import check_file, column, read_table

    check_file(args.candidates)
    frame, _ = read_table(args.candidates)
    name = args.candidate_column or str(frame.columns[0])
    listed = {item for item in column(frame, name, args.candidates, "--candidate-column") if item}
    known = set(catalog_ids)
    candidates = sorted(listed & known)
    if not candidates:
        raise CommandError(
            f"no id of column {name!r} of {args.candidates} is in the model's catalog "
            "(ids are the --id-column values given to fit, or row numbers from 0)"
        )
    unknown = len(listed) - len(candidates)
    progress.line(
        f"Recommending among {count(len(candidates), 'candidate')} of {args.candidates}"
        + (f" ({count(unknown, 'id')} not in the catalog, left out)" if unknown else "")
    )
    return candidates


def _check_items(items, catalog_ids):
    known = set(catalog_ids)
    unknown = [item for item in items if item not in known]
    if unknown:
        raise CommandError(
            f"{count(len(unknown), 'id')} of --items not in the model's catalog: "
            f"{', '.join(map(repr, unknown[:5]))}{' ...' if len(unknown) > 5 else ''} "
            "(ids are the --id-column values given to fit, or row numbers from 0)"
        )
    return list(items)


def _embed(model, texts):
    """Embeddings of texts, and whether each has a word of the vocabulary."""
    X = model.named_steps["tfidf"].transform(texts)
    return model.named_steps["embedder"].transform(X), X.getnnz(axis=1) > 0


def _is_empty_text(model, catalog_rows):
    """Catalog rows embedded as the empty text is (no word of the vocabulary)."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize
    from sklearn.utils.extmath import row_norms

    empty = model[:-1].transform([""])
    if model.named_steps["recommender"].metric == "cosine":
        # The catalog holds unit rows (all-zero rows stay zero).
        empty = normalize(empty)
    if not sp.issparse(catalog_rows):
        return np.all(np.isclose(catalog_rows, empty, rtol=0, atol=1e-6), axis=1)
    # Sparse rows (the words beside the embedding): the squared distance to the
    # empty text's row, ||r||^2 + ||e||^2 - 2 r.e, in float64, without densifying.
    empty = np.asarray(empty.toarray() if sp.issparse(empty) else empty, dtype=np.float64)[0]
    rows = catalog_rows.astype(np.float64)
    distance = row_norms(rows, squared=True) + empty @ empty - 2 * np.asarray(rows @ empty).ravel()
    return distance <= 1e-10


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
