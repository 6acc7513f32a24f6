"""A catalog file as texts, labels and item ids, and the label filtering said aloud."""

import html
import re
from collections import Counter

from ._progress import CommandError, count
from ._read import check_file, column, read_table

DEFAULT_TEXT_COLUMN = "product_name"

# Label values that mean "no label", besides an empty field: -1 is the
# package's mark of an unlabeled row.
_NO_LABEL = {"", "-1"}

# Markup of shop exports (Shopify's "Body (HTML)", WooCommerce descriptions):
# the contents of scripts and styles, comments, and tags, which open with a
# letter, "/" or "!" (so "cable <1m>" and "size < 5" stay text).
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")


def plain_text(text):
    """The text an HTML fragment shows: entities decoded, then markup removed,
    whitespace collapsed. Entities first, so that markup escaped once more by
    an export (``&lt;p&gt;``) goes too; text without markup is unchanged but
    for its whitespace."""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _TAG.sub(" ", _HIDDEN.sub(" ", text))
    return " ".join(text.split())


def text_columns(args, default=(DEFAULT_TEXT_COLUMN,)):
    """The ``--text-column`` names, or ``default`` when none was given."""
    return list(args.text_column or default)


def describe_columns(columns):
    return " + ".join(map(repr, columns))


def read_catalog(args, progress, *, label_column, columns=None):
    """Texts, labels (None without a label column) and item ids of ``--csv``.

    The text of a row is its fields of ``columns`` (default: ``--text-column``)
    as plain text (:func:`plain_text`), the non-empty ones joined by a space.
    """
    columns = text_columns(args) if columns is None else columns
    check_file(args.csv)
    with progress.stage(f"Reading {args.csv}") as outcome:
        frame, how = read_table(
            args.csv, sep=args.sep, encoding=args.encoding, compression=args.compression
        )
        outcome.text = f"{count(len(frame), 'row')}, {count(frame.shape[1], 'column')} ({how})"
    fields = [column(frame, name, args.csv, "--text-column") for name in columns]
    texts = [
        " ".join(plain for plain in (plain_text(v) for v in row if v is not None) if plain)
        or None
        for row in zip(*fields)
    ]
    labels = None
    if label_column is not None:
        labels = column(frame, label_column, args.csv, "--label-column")
        labels = [None if v is None or v.strip() in _NO_LABEL else v for v in labels]
    if getattr(args, "id_column", None):
        ids = column(frame, args.id_column, args.csv, "--id-column")
        n_missing = sum(item is None for item in ids)
        if n_missing:
            raise CommandError(
                f"--id-column {args.id_column!r} is empty in {count(n_missing, 'row')} of "
                f"{args.csv}; every product needs an id"
            )
    else:
        ids = [str(row) for row in range(len(frame))]

    with_text = [row for row, text in enumerate(texts) if text is not None and text.strip()]
    if len(with_text) < len(texts):
        progress.line(
            f"Dropped {count(len(texts) - len(with_text), 'row')} with an empty "
            f"{describe_columns(columns)}"
        )
        texts = [texts[row] for row in with_text]
        ids = [ids[row] for row in with_text]
        labels = None if labels is None else [labels[row] for row in with_text]
    if not texts:
        raise CommandError(
            f"no row of {args.csv} has a text in {describe_columns(columns)} (--text-column)"
        )
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


def first_of_each(texts):
    import numpy as np

    seen = set()
    first = np.zeros(len(texts), dtype=bool)
    for row, text in enumerate(texts):
        first[row] = text not in seen
        seen.add(text)
    return first
