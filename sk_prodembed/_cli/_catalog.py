"""A catalog file as texts, labels and item ids, and the label filtering said aloud."""

import html
import json
import re
from collections import Counter

from ._progress import CommandError, count
from ._read import check_file, column, read_table

DEFAULT_TEXT_COLUMN = "product_name"

# Label values that mean "no label", besides an empty field: -1 is the
# package's mark of an unlabeled row, written "-1.0" by a float column
# (pandas' CSVs, Parquet).
_NO_LABEL = {"", "-1", "-1.0"}

# The separators between the levels of a category path: " > " (Shopify's
# "Product Category", Google's google_product_category and product_type,
# WooCommerce's "Categories") or ">>" (Flipkart's category_tree). A label read
# as a path is written as the bundled catalog's labels are, levels joined by " > ".
_PATH_SEPARATORS = (">>", " > ")
_LEVEL_JOIN = " > "

# Markup of shop exports (Shopify's "Body (HTML)", WooCommerce descriptions):
# the contents of scripts and styles, comments, and the tags of HTML's own
# elements, whose quoted attributes may hold ">" (so "cable <1m>", "size < 5"
# and "Size <M> tee" stay text). Inline elements join their neighbours
# ("Cot<b>ton</b>" is "Cotton"); the others separate words.
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL)
_INLINE = (
    "a abbr b bdi bdo cite code data dfn em font i kbd mark q s samp small span strike "
    "strong sub sup time u var wbr"
).split()
_BLOCK = (
    "address area article aside audio br blockquote body button caption center col colgroup "
    "dd del details dialog div dl dt embed fieldset figcaption figure footer form h1 h2 h3 "
    "h4 h5 h6 head header hr html iframe img input ins label legend li link main map meta "
    "nav noscript object ol optgroup option p param picture pre section select source "
    "summary table tbody td template textarea tfoot th thead title tr track ul video"
).split()
_ATTRIBUTES = r"""(?:\s(?:"[^"]*"|'[^']*'|[^'"<>])*)?"""


def _tags(names):
    return re.compile(rf"</?(?:{'|'.join(names)}){_ATTRIBUTES}/?>", re.IGNORECASE)


_INLINE_TAG, _BLOCK_TAG = _tags(_INLINE), _tags(_BLOCK)
_DOCTYPE = re.compile(r"<![A-Za-z][^<>]*>")


def plain_text(text):
    """The text an HTML fragment shows: entities decoded, then markup removed,
    whitespace collapsed. Entities first, so that markup escaped once more by
    an export (``&lt;p&gt;``) goes too; text without markup is unchanged but
    for its whitespace."""
    if "&" in text:
        text = html.unescape(text)
    if "<" in text:
        text = _HIDDEN.sub(" ", text)
        text = _INLINE_TAG.sub("", _BLOCK_TAG.sub(" ", _DOCTYPE.sub(" ", text)))
    return " ".join(text.split())


def text_columns(args, default=(DEFAULT_TEXT_COLUMN,)):
    """The ``--text-column`` names, or ``default`` when none was given."""
    return list(args.text_column or default)


def describe_columns(columns):
    return " + ".join(map(repr, columns))


def read_catalog(args, progress, *, label_column, columns=None, fallback_id_column=None):
    """Texts, labels (None without a label column), item ids of ``--csv``, and
    the column the ids came from (None: row numbers of the file).

    The text of a row is its fields of ``columns`` (default: ``--text-column``)
    as plain text (:func:`plain_text`), the non-empty ones joined by a space.
    The ids are those of ``--id-column``, else of ``fallback_id_column`` if
    the file has it (the column a saved model was fitted with), else the
    rows' numbers.
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
    id_column = getattr(args, "id_column", None)
    if not id_column and fallback_id_column in frame.columns:
        id_column = fallback_id_column
    if id_column:
        ids = column(frame, id_column, args.csv, "--id-column")
    else:
        ids = [str(row) for row in range(len(frame))]

    with_text = [row for row, text in enumerate(texts) if text is not None and text.strip()]
    if len(with_text) < len(texts):
        # Rows with no text (an Excel export's trailing ",," rows, Shopify's
        # extra image rows) are no products, whether they have an id or not.
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
    n_missing = sum(item is None for item in ids)
    if n_missing:
        raise CommandError(
            f"--id-column {id_column!r} is empty in {count(n_missing, 'row')} of "
            f"{args.csv} that have a text; every product needs an id"
        )
    separator = getattr(args, "label_separator", None)
    depth = getattr(args, "label_depth", None)
    if labels is not None and (separator is not None or depth is not None):
        labels = category_labels(labels, separator, depth, progress)
    return texts, labels, ids, id_column


def category_labels(labels, separator, depth, progress):
    """One category per label: the most specific of a cell's categories, cut
    to its first ``depth`` levels (None: the whole path), after saying so.

    A cell holds several categories separated by ``separator`` (None: one),
    a ``separator`` escaped by a backslash being part of a name, as
    WooCommerce writes the commas of its names; or a JSON list of them, as
    Flipkart's ``["A >> B >> C"]``. The most specific is the one with the most
    levels, the first of a tie; empty categories and levels are ignored,
    whitespace is stripped, and the levels are joined by " > ".
    """
    cells = [[] if label is None else _categories(label, separator) for label in labels]
    # One path separator per column, not both: a name may hold the other as text.
    tree, arrow = _PATH_SEPARATORS
    path_separator = tree if any(tree in c for cell in cells for c in cell) else arrow
    paths, n_several = [], 0
    for cell in cells:
        candidates = [levels for levels in (_levels(c, path_separator) for c in cell) if levels]
        n_several += len(set(candidates)) > 1
        # max() returns the first of the longest.
        paths.append(max(candidates, key=len) if candidates else None)
    said = "" if separator is None else f" separated by {separator!r}"
    if n_several:
        progress.line(f"Labels: {count(n_several, 'cell')} held several categories{said}; "
                      "the most specific was kept")
    elif separator is not None:
        # Most likely the wrong separator: say so rather than nothing.
        progress.line(f"Labels: no cell held several categories{said}")
    if depth is not None:
        n_paths = len({path for path in paths if path is not None})
        paths = [None if path is None else path[:depth] for path in paths]
        n_cut = len({path for path in paths if path is not None})
        progress.line(
            f"Labels cut to {count(depth, 'level')} (separated by {path_separator!r}): "
            f"{count(n_cut, 'category', 'categories')}, of {n_paths:,} before cutting"
        )
    return [None if path is None else _LEVEL_JOIN.join(path) for path in paths]


def _categories(cell, separator):
    """The categories of one label cell, as written."""
    if cell.startswith("[") and cell.endswith("]"):
        try:
            listed = json.loads(cell)
        except ValueError:
            listed = None
        if isinstance(listed, list) and all(isinstance(c, str) for c in listed):
            return listed
    if separator is None:
        return [cell]
    name_part = separator.strip()
    parts = re.split(rf"(?<!\\){re.escape(separator)}", cell)
    return [part.replace("\\" + name_part, name_part) for part in parts]


def _levels(category, path_separator):
    """The non-empty levels of a category path, stripped, as a tuple."""
    return tuple(level for level in map(str.strip, category.split(path_separator)) if level)


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


def first_of_each(texts, preferred=None):
    """One row per distinct text: its first row among ``preferred`` (a boolean
    mask, such as the rows whose label was kept) if it has one, else its first."""
    import numpy as np

    chosen = {}
    if preferred is not None:
        for row in np.flatnonzero(preferred):
            chosen.setdefault(texts[row], row)
    for row, text in enumerate(texts):
        chosen.setdefault(text, row)
    first = np.zeros(len(texts), dtype=bool)
    first[list(chosen.values())] = True
    return first
