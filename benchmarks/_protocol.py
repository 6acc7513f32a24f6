"""The category-precision protocol of ../shared/data/README.md, shared by the benchmarks."""

import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

DATA_DIR = Path(os.environ.get("SK_PRODEMBED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_catalog(name):
    """Texts and labels of one shared catalog after step 1 of the protocol."""
    if name == "flipkart":
        frame = pd.read_csv(DATA_DIR / "flipkart_products.csv.gz")
        levels = frame["category_tree"].str.strip('["]').str.split(" >> ")
        frame = frame[levels.str.len() > 2].copy()
        frame["label"] = levels[levels.str.len() > 2].str[:2].str.join(" > ")
    elif name == "instacart":
        frame = pd.read_csv(DATA_DIR / "instacart_products.csv.gz")
        frame["label"] = frame["aisle"]
    else:
        raise ValueError(f"unknown catalog {name!r}")
    frame = frame.drop_duplicates("product_name")
    counts = frame["label"].value_counts()
    frame = frame[frame["label"].isin(counts[counts >= 5].index)]
    return frame["product_name"].to_numpy(), frame["label"].to_numpy()


def split_and_vectorize(texts, labels):
    """Steps 2 and 3: stratified 30% test split, TF-IDF fitted on training names."""
    t_train, t_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.3, stratify=labels, random_state=0
    )
    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2), dtype=np.float32)
    X_train = tfidf.fit_transform(t_train)
    X_test = tfidf.transform(t_test)
    return X_train, X_test, y_train, y_test


def precision_at_10(Z, labels, k=10):
    """Step 5: mean share of the k cosine nearest neighbours (self excluded) with the same label."""
    nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine", algorithm="brute").fit(Z)
    _, idx = nn.kneighbors(Z)
    neighbours = []
    for row, candidates in enumerate(idx):
        candidates = candidates[candidates != row][:k]
        neighbours.append(candidates)
    neighbours = np.asarray(neighbours)
    return float((labels[neighbours] == labels[:, None]).mean())


def timed_fit_transform(model, X_train, X_test, y_train=None):
    """Fit on the training rows, embed the test rows; return (Z_test, fit seconds).

    A ConvergenceWarning (maximum iterations reached) is not an error here:
    the benchmarks measure the fits as they are.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train, y_train) if y_train is not None else model.fit(X_train)
        seconds = time.perf_counter() - start
        return model.transform(X_test), seconds


RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def record_section(name, markdown):
    """Replace this script's section of RESULTS.md (between its markers) with ``markdown``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    block = f"{start}\n{markdown.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def machine_line():
    """One line naming the machine: figures from different CPUs or BLAS kernels differ."""
    import platform

    import numpy as np
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    # numpy and scipy each load an OpenBLAS; numpy's runs the training.
    blas = ", ".join(
        f"{'numpy' if 'numpy' in info['filepath'] else 'scipy' if 'scipy' in info['filepath'] else '?'}"
        f"'s {info['internal_api']} {info.get('version')} ({info.get('architecture')} kernels)"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    )
    return (
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"numpy {np.__version__} with {blas or 'unknown BLAS'}."
    )
