"""The catalog zoo of bench_zoo.py: its entries, their cached TF-IDF splits, and one runner per method.

Every entry is a labelled catalog made from the shared dev data (../shared/data) and scored by
the category-precision protocol of its README.md, through ``_protocol.py``:

- ``flipkart_d1``, ``flipkart_d2``, ``flipkart_d3``: the first 1, 2 or 3 levels of
  ``category_tree`` as the label, keeping the rows whose tree is deeper than that (the last level
  is the product itself); ``flipkart_d2`` is the protocol's flipkart catalog.
- ``instacart_aisle`` (the protocol's instacart catalog) and ``instacart_dept``.
- ``<one of the five above>_n2000`` / ``_n5000`` / ``_n10000``: a uniform random subsample of
  that many rows of the catalog after step 1 (``np.random.RandomState(0)``, without
  replacement), classes with fewer than 5 rows in the subsample then dropped; uniform rather than
  stratified, so that a subsample has the long tail of small classes a smaller shop has. A
  subsample at least as large as its catalog is not an entry (flipkart_d3 has 8,269 rows).
  A ``_s<seed>`` suffix (``flipkart_d2_n2000_s3``) draws the subsample with
  ``np.random.RandomState(seed)`` instead: another catalog of the same shape, for
  bench_zoo_draws.py (``_s0`` is the entry itself); such names are not in the zoo's table.
- ``wdc_cluster`` (offers of the same product_cluster share a label: about 1,200 classes of 5 to
  47 offers) and ``wdc_category`` (its four categories), text = title.

All entries drop duplicate texts and classes with fewer than 5 rows, as step 1 does.
"""

import hashlib
import math
import re
import tempfile
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from _protocol import DATA_DIR, load_catalog, precision_at_10, split_and_vectorize

BASE_ENTRIES = ("flipkart_d1", "flipkart_d2", "flipkart_d3", "instacart_aisle", "instacart_dept")
SUBSAMPLE_SIZES = (2000, 5000, 10000)
WDC_ENTRIES = ("wdc_cluster", "wdc_category")

# Six shapes that differ in rows, classes and rows per class, and run in a few minutes.
QUICK_ENTRIES = (
    "flipkart_d1_n2000",  # few large classes, few rows
    "flipkart_d3_n5000",  # many small classes (about 20 training rows each)
    "flipkart_d2",  # the protocol's flipkart catalog
    "instacart_aisle_n10000",  # many classes, short noisy names
    "instacart_dept_n2000",  # few classes, few rows
    "wdc_cluster",  # about 1,200 classes of 3-4 training rows
)

CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "zoo"
# Changing how an entry is built must change this, so that stale caches are not read.
ENTRY_VERSION = "zoo-1: step1 dedupe+min5; uniform subsample RandomState(0); _protocol split/tfidf"


def _base_sizes():
    sizes = {}
    for name in BASE_ENTRIES:
        data = load_entry(name)  # cached after the first call
        sizes[name] = data["y_train"].shape[0] + data["y_test"].shape[0]
    return sizes


def all_entries():
    """Every entry name, in table order."""
    sizes = _base_sizes()
    names = list(BASE_ENTRIES)
    for n_rows in SUBSAMPLE_SIZES:
        names += [f"{base}_n{n_rows}" for base in BASE_ENTRIES if n_rows < sizes[base]]
    return names + list(WDC_ENTRIES)


def _drop_duplicates_and_small_classes(frame, text, label):
    frame = frame.drop_duplicates(text)
    counts = frame[label].value_counts()
    frame = frame[frame[label].isin(counts[counts >= 5].index)]
    return frame[text].to_numpy(), frame[label].astype(str).to_numpy()


def load_entry_texts(name):
    """Texts and labels of one entry (step 1 of the protocol)."""
    match = re.fullmatch(r"(.+)_n(\d+)(?:_s(\d+))?", name)
    if match:
        texts, labels = load_entry_texts(match.group(1))
        n_rows, seed = int(match.group(2)), int(match.group(3) or 0)
        if n_rows >= texts.shape[0]:
            raise ValueError(f"entry {name!r}: {n_rows} rows is not a subsample of {texts.shape[0]}")
        rows = np.sort(np.random.RandomState(seed).choice(texts.shape[0], n_rows, replace=False))
        frame = pd.DataFrame({"text": texts[rows], "label": labels[rows]})
        return _drop_duplicates_and_small_classes(frame, "text", "label")
    if name == "flipkart_d2":
        return load_catalog("flipkart")
    if name == "instacart_aisle":
        return load_catalog("instacart")
    if name in ("flipkart_d1", "flipkart_d3"):
        depth = int(name[-1])
        frame = pd.read_csv(DATA_DIR / "flipkart_products.csv.gz")
        levels = frame["category_tree"].str.strip('["]').str.split(" >> ")
        deep = levels.str.len() > depth
        frame = frame[deep].assign(label=levels[deep].str[:depth].str.join(" > "))
        return _drop_duplicates_and_small_classes(frame, "product_name", "label")
    if name == "instacart_dept":
        frame = pd.read_csv(DATA_DIR / "instacart_products.csv.gz")
        return _drop_duplicates_and_small_classes(frame, "product_name", "department")
    if name in WDC_ENTRIES:
        frame = pd.read_csv(DATA_DIR / "wdc_offers.csv.gz")
        label = "product_cluster" if name == "wdc_cluster" else "category"
        return _drop_duplicates_and_small_classes(frame, "title", label)
    raise ValueError(f"unknown zoo entry {name!r}")


def load_entry(name):
    """Steps 1-3 for one entry: a dict with X_train, X_test, y_train, y_test (TF-IDF and
    labels) and t_train, t_test (the texts, for fastText); cached under benchmarks/.cache."""
    key = hashlib.sha1(f"{ENTRY_VERSION}|{name}".encode()).hexdigest()[:12]
    path = CACHE_DIR / f"{name}-{key}.joblib"
    if path.exists():
        return joblib.load(path)
    texts, labels = load_entry_texts(name)
    X_train, X_test, y_train, y_test = split_and_vectorize(texts, labels)
    # The same split as split_and_vectorize's, for the texts.
    t_train, t_test, y_train_again, _ = train_test_split(
        texts, labels, test_size=0.3, stratify=labels, random_state=0
    )
    assert np.array_equal(y_train, y_train_again)
    data = dict(X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test,
                t_train=t_train, t_test=t_test)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    gitignore = CACHE_DIR.parent / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n")
    joblib.dump(data, path)
    return data


def entry_stats(data):
    """Shape of an entry, and the best precision@10 any embedding could reach on it (a test row
    with fewer than 10 same-class test rows cannot fill its 10 neighbours with them)."""
    y_train, y_test = data["y_train"], data["y_test"]
    _, train_counts = np.unique(y_train, return_counts=True)
    _, test_inverse, test_counts = np.unique(y_test, return_inverse=True, return_counts=True)
    ceiling = np.minimum(test_counts[test_inverse] - 1, 10).mean() / 10
    return {
        "train_rows": int(y_train.shape[0]),
        "test_rows": int(y_test.shape[0]),
        "features": int(data["X_train"].shape[1]),
        "classes": int(train_counts.shape[0]),
        "median_train_rows_per_class": float(np.median(train_counts)),
        "min_train_rows_per_class": int(train_counts.min()),
        "precision_ceiling": float(ceiling),
    }


# -- anchors -------------------------------------------------------------------------------------


def _fit_embed(model, X_train, X_test, y_train=None, embed=None):
    """Fit, embed the test rows; return (Z_test, fit seconds, ConvergenceWarning count)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train) if y_train is None else model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    Z = (embed or model.transform)(X_test)
    n_warned = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return Z, seconds, n_warned


def run_tfidf(data):
    return {"precision": precision_at_10(data["X_test"], data["y_test"]), "fit_seconds": 0.0}


def run_svd(data):
    Z, seconds, _ = _fit_embed(TruncatedSVD(64, random_state=0), data["X_train"], data["X_test"])
    return {"precision": precision_at_10(Z, data["y_test"]), "fit_seconds": seconds}


def run_logistic(data, C):
    """LogisticRegression(C) on the TF-IDF rows (lbfgs, scikit-learn defaults otherwise);
    its predict_proba of the test rows is the embedding."""
    model = LogisticRegression(C=C)
    Z, seconds, n_warned = _fit_embed(
        model, data["X_train"], data["X_test"], data["y_train"], embed=model.predict_proba
    )
    return {"precision": precision_at_10(Z, data["y_test"]), "fit_seconds": seconds,
            "convergence_warning": bool(n_warned), "n_iter": int(np.max(model.n_iter_))}


def run_nca(data, budget):
    """NCA(64) on SVD(128) on the largest stratified training subset that fits ``budget``
    seconds (bench_quality's doubling search, started at 1,000 rows or two per class)."""
    from bench_quality import _timings_text, largest_fit_within, nca

    n_classes = len(np.unique(data["y_train"]))
    start_rows = min(max(1000, 2 * n_classes), data["y_train"].shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        timings, final = largest_fit_within(
            nca, data["X_train"], data["X_test"], data["y_train"], budget, start_rows, 2
        )
    result = {"budget_seconds": budget, "timings": _timings_text(timings)}
    if final is None:
        return {**result, "precision": None, "skipped": f"no subset fitted within {budget:g} s"}
    n_rows, Z, seconds = final
    return {**result, "precision": precision_at_10(Z, data["y_test"]), "fit_seconds": seconds,
            "rows_used": int(n_rows)}


_WORDS = re.compile(r"(?u)\b\w\w+\b")


def _fasttext_line(text):
    # The TF-IDF's tokenisation (lowercase, words of two or more word characters).
    return " ".join(_WORDS.findall(str(text).lower()))


# fastText's defaults (5 epochs, lr 0.1) under-train on a few thousand rows: on flipkart_d3_n2000,
# flipkart_d2, instacart_aisle_n5000 and wdc_cluster, 25 epochs at lr 0.5 (inside the ranges its
# tutorial recommends, 5-50 and 0.1-1.0) gave 0.656 / 0.856 / 0.332 / 0.114 against 0.527 /
# 0.775 / 0.202 / 0.074 with the defaults, and beat 25 epochs at lr 0.1, 50 at lr 1.0 and word
# bigrams on three of the four. The anchor uses that one setting everywhere.
FASTTEXT_ANCHOR = {"epoch": 25, "lr": 0.5}


def run_fasttext(data, **settings):
    """fastText supervised (fasttext-wheel), dim 64, unigrams, ``settings`` (epoch, lr) over
    its defaults; one thread and seed 0 for a reproducible fit; the test rows' sentence
    vectors are the embedding."""
    try:
        import fasttext
    except ImportError:
        return {"precision": None, "skipped": "fasttext-wheel is not installed"}
    codes = {label: i for i, label in enumerate(np.unique(data["y_train"]))}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        path.write_text("".join(
            f"__label__{codes[label]} {_fasttext_line(text)}\n"
            for text, label in zip(data["t_train"], data["y_train"])
        ))
        start = time.perf_counter()
        model = fasttext.train_supervised(
            input=str(path), dim=64, thread=1, seed=0, verbose=0, **settings
        )
        seconds = time.perf_counter() - start
    Z = np.vstack([model.get_sentence_vector(_fasttext_line(text)) for text in data["t_test"]])
    return {"precision": precision_at_10(Z, data["y_test"]), "fit_seconds": seconds}


def warm_up_umap():
    """Compile UMAP's numba code in this process, so that forked fits do not each compile it."""
    import umap

    rng = np.random.RandomState(0)
    from scipy import sparse

    X = sparse.random(300, 50, density=0.1, format="csr", dtype=np.float32, random_state=rng)
    y = rng.randint(0, 5, 300)
    umap.UMAP(n_components=8, metric="cosine", random_state=0).fit(X, y).transform(X[:20])


def run_umap(data, deadline):
    """umap-learn UMAP(64, metric='cosine', random_state=0), supervised, on the TF-IDF rows;
    stopped (and reported as skipped) after ``deadline`` seconds."""
    try:
        import umap
    except ImportError:
        return {"precision": None, "skipped": "umap-learn is not installed"}
    from bench_quality import timed_with_deadline

    y_codes = np.unique(data["y_train"], return_inverse=True)[1]
    result = timed_with_deadline(
        lambda: umap.UMAP(n_components=64, metric="cosine", random_state=0),
        data["X_train"], data["X_test"], y_codes, deadline,
    )
    if result is None:
        return {"precision": None, "skipped": f"fit not done within {deadline:g} s"}
    Z, seconds = result
    return {"precision": precision_at_10(Z, data["y_test"]), "fit_seconds": seconds}


# -- ours ----------------------------------------------------------------------------------------


def is_supervised(model):
    """Whether ``fit`` needs labels (TripletEmbedder), read from the estimator's tags."""
    try:
        return bool(model.__sklearn_tags__().target_tags.required)
    except AttributeError:
        return False


def optimizer_steps(model, n_rows):
    """Optimizer steps of a fit on ``n_rows`` rows: ``n_steps_`` if the estimator has it,
    otherwise n_iter_ times the batches per epoch, worked out from the public parameters and
    the package's batching rules at the time of writing (sk_prodembed._engine.shuffled_batches:
    ceil(rows / min(batch_size, rows)), batch_size 'auto' = 512; _sampling.class_balanced_batches:
    ceil(rows / (min(classes_per_batch, classes) * samples_per_class))). None where the
    parameters are outside those rules."""
    if hasattr(model, "n_steps_"):
        return int(model.n_steps_), "n_steps_"
    params = model.get_params()
    try:
        if params.get("early_stopping"):
            n_rows -= math.ceil(params["validation_fraction"] * n_rows)
        if "classes_per_batch" in params:
            per_batch = min(params["classes_per_batch"], len(model.classes_)) * params["samples_per_class"]
        else:
            batch_size = params["batch_size"]
            per_batch = min(512 if batch_size == "auto" else int(batch_size), n_rows)
        return int(model.n_iter_) * max(1, math.ceil(n_rows / per_batch)), "n_iter_ x batches"
    except (TypeError, ValueError, KeyError, AttributeError):
        return None, "unknown"


def run_ours(make_model, data):
    """Fit one of our estimators (labels passed if it needs them), embed the test rows."""
    model = make_model()
    supervised = is_supervised(model)
    Z, seconds, n_warned = _fit_embed(
        model, data["X_train"], data["X_test"], data["y_train"] if supervised else None
    )
    steps, steps_source = optimizer_steps(model, data["X_train"].shape[0])
    return {
        "precision": precision_at_10(Z, data["y_test"]),
        "fit_seconds": seconds,
        "supervised": supervised,
        "n_iter": int(getattr(model, "n_iter_", -1)),
        "optimizer_steps": steps,
        "steps_source": steps_source,
        "convergence_warning": bool(n_warned),
        "estimator": repr(model),
    }
