"""The bundled Flipkart product catalog and the category-precision protocol's row filter."""

import csv
import gzip
from collections import Counter
from importlib import resources
from numbers import Integral

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

_DATA_FILE = "flipkart_products.csv.gz"
_TREE_SEPARATOR = " >> "
_LABEL_SEPARATOR = " > "
# Columns of the file whose empty fields mean "not known" (NaN in the frame).
_OPTIONAL_COLUMNS = ("description", "brand")

_DESCR = """\
.. _flipkart_products_dataset:

Flipkart products
-----------------

20,000 products listed on flipkart.com in 2016, with their name and their
place in the shop's category tree.

**Data Set Characteristics:**

:Number of products: 20,000 (11,526 in the category-precision subset)
:Text (``data``): the product name
:Labels (``target``): the category path, truncated to ``depth`` levels and
    joined with " > " (108 classes at depth 2 in the category-precision subset)
:Other columns (``frame``): uniq_id, category_tree, description (998 rows),
    brand (421 rows)

Each ``category_tree`` reads like ``Footwear >> Women's Footwear >> Ballerinas
>> AW Bellies``; its last level names the product itself, so the category path
is every level but the last. Trees have 4 levels on average; 1,457 products
have fewer than three levels, hence no category at depth 2.

The *category-precision protocol* used by the project's benchmarks labels
products by the first two category levels, keeps the products whose tree is
deeper than two levels, drops repeated product names (keeping the first) and
classes with fewer than 5 products:
``load_flipkart_products(depth=2, min_class_size=5)``.

**Source and licence.** PromptCloud's public "Flipkart Products" sample,
crawled in 2016 and published on Kaggle
(https://www.kaggle.com/datasets/PromptCloudHQ/flipkart-products), here a
reduced copy with five columns. Created by PromptCloud's in-house
web-crawling service and distributed under the Creative Commons
Attribution-ShareAlike 4.0 licence (CC BY-SA 4.0,
https://creativecommons.org/licenses/by-sa/4.0/): credit PromptCloud and
share adaptations under the same licence. See ``LICENSE_flipkart.txt`` next to
the data file.
"""


def _read_columns():
    """The bundled CSV as a dict of column name -> list of str (stdlib only)."""
    data_file = resources.files("sk_prodembed.datasets") / "data" / _DATA_FILE
    with data_file.open("rb") as compressed:
        with gzip.open(compressed, "rt", encoding="utf-8", newline="") as text:
            reader = csv.reader(text)
            header = next(reader)
            columns = [list(values) for values in zip(*reader)]
    return dict(zip(header, columns))


def _category_paths(category_trees, depth):
    """Category path truncated to ``depth`` levels, and whether it is that deep."""
    paths, complete = [], []
    for tree in category_trees:
        # The last level of a tree names the product, not a category.
        categories = tree.split(_TREE_SEPARATOR)[:-1]
        paths.append(_LABEL_SEPARATOR.join(categories[:depth]))
        complete.append(len(categories) >= depth)
    return paths, np.array(complete, dtype=bool)


def _is_missing(label):
    if label is None or (isinstance(label, str) and not label):
        return True
    try:
        # NaN is the one value not equal to itself.
        return bool(label != label)
    except TypeError:
        # pandas.NA refuses to be a bool; it is a missing value.
        return True


@validate_params(
    {
        "texts": ["array-like"],
        "labels": ["array-like"],
        "min_class_size": [Interval(Integral, 1, None, closed="left")],
        "drop_duplicates": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def labelled_product_mask(texts, labels, *, min_class_size=5, drop_duplicates=True):
    """Rows kept by the category-precision protocol's label filtering.

    In this order: rows with a missing label (None, NaN or an empty string)
    are dropped; then, if ``drop_duplicates``, every row whose text repeats
    that of an earlier kept row; then the rows of classes left with fewer
    than ``min_class_size`` rows. Dropping repeated names keeps identical
    products from being each other's free nearest neighbours, and tiny
    classes from making precision@k unreachable.

    Parameters
    ----------
    texts : array-like of shape (n_products,)
        Product texts (for example names).
    labels : array-like of shape (n_products,)
        Product labels; mark unlabelled products with None, NaN or "".
    min_class_size : int, default=5
        Smallest class kept.
    drop_duplicates : bool, default=True
        Whether to keep only the first product of each text.

    Returns
    -------
    mask : ndarray of bool of shape (n_products,)
        True for the rows to keep.

    Examples
    --------
    >>> from sk_prodembed.datasets import labelled_product_mask
    >>> texts = ["red mug", "red mug", "blue mug", "sofa", "green mug"]
    >>> labels = ["kitchen", "kitchen", "kitchen", "furniture", "kitchen"]
    >>> labelled_product_mask(texts, labels, min_class_size=2).tolist()
    [True, False, True, False, True]
    """
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise ValueError(f"texts has {len(texts)} rows but labels has {len(labels)}.")
    keep = np.array([not _is_missing(label) for label in labels], dtype=bool)
    if drop_duplicates:
        seen = set()
        for row in np.flatnonzero(keep):
            if texts[row] in seen:
                keep[row] = False
            seen.add(texts[row])
    class_sizes = Counter(labels[row] for row in np.flatnonzero(keep))
    for row in np.flatnonzero(keep):
        keep[row] = class_sizes[labels[row]] >= min_class_size
    return keep


@validate_params(
    {
        "depth": [Interval(Integral, 1, None, closed="left")],
        "min_class_size": [Interval(Integral, 1, None, closed="left"), None],
        "as_frame": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_flipkart_products(*, depth=2, min_class_size=None, as_frame=False, return_X_y=False):
    """Load the bundled Flipkart product catalog (product names and categories).

    20,000 products from PromptCloud's public Flipkart sample (2016), shipped
    inside the package under the CC BY-SA 4.0 licence: credit PromptCloud
    when you share any part of it (see ``DESCR`` and ``LICENSE_flipkart.txt``).

    Parameters
    ----------
    depth : int, default=2
        Category levels in each label, for example ``"Footwear > Women's
        Footwear"`` at depth 2. Products whose tree has fewer category levels
        get their whole, shorter path (empty for products with no category).
    min_class_size : int, default=None
        None returns every product. An int returns the category-precision
        subset: products with a full ``depth``-level category, the first of
        each product name, and classes of at least ``min_class_size``
        products (see :func:`labelled_product_mask`). The project's protocol
        is ``depth=2, min_class_size=5``: 11,526 products in 108 classes.
    as_frame : bool, default=False
        Return pandas objects (pandas is imported only then): ``data`` and
        ``target`` as Series, and ``frame``, a DataFrame with every column
        plus ``"category"``, the label. Otherwise numpy object arrays of str.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : ndarray of object or Series of shape (n_products,)
            Product names, ready for a text vectorizer.
        target : ndarray of object or Series of shape (n_products,)
            Category paths.
        target_names : ndarray of object
            Sorted distinct category paths.
        item_ids : ndarray of object of shape (n_products,)
            The products' ``uniq_id``.
        category_tree : ndarray of object of shape (n_products,)
            Full category trees, levels separated by " >> ".
        frame : DataFrame or None
            All columns, when ``as_frame=True``.
        feature_names : list of str
            ``["product_name"]``, the column of ``data``.
        DESCR : str
            Description, source and licence of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from sk_prodembed.datasets import load_flipkart_products
    >>> products = load_flipkart_products(depth=2, min_class_size=5)
    >>> products.data.shape, len(products.target_names)
    ((11526,), 108)
    >>> str(products.target[0])
    "Clothing > Women's Clothing"
    """
    columns = _read_columns()
    names = columns["product_name"]
    paths, complete = _category_paths(columns["category_tree"], depth)
    if min_class_size is None:
        rows = np.arange(len(names))
    else:
        labels = [path if full else None for path, full in zip(paths, complete)]
        rows = np.flatnonzero(
            labelled_product_mask(names, labels, min_class_size=min_class_size)
        )

    def selected(values):
        return np.asarray(values, dtype=object)[rows]

    data, target = selected(names), selected(paths)
    frame = None
    if as_frame:
        pd = _import_pandas()
        frame = pd.DataFrame({name: selected(values) for name, values in columns.items()})
        for name in _OPTIONAL_COLUMNS:
            frame[name] = frame[name].mask(frame[name] == "")
        frame["category"] = target
        data, target = frame["product_name"], frame["category"]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=np.unique(np.asarray(target, dtype=object)),
        item_ids=selected(columns["uniq_id"]),
        category_tree=selected(columns["category_tree"]),
        frame=frame,
        feature_names=["product_name"],
        DESCR=_DESCR,
    )


def _import_pandas():
    try:
        import pandas
    except ImportError as error:
        raise ImportError(
            "load_flipkart_products(as_frame=True) requires pandas; install it with "
            "`pip install pandas` or use as_frame=False."
        ) from error
    return pandas
