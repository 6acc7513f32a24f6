"""Embedding quality on the shared catalogs: sk_prodembed against the reference methods.

The category-precision protocol of ../shared/data/README.md (test precision@10 by cosine
distance, self excluded), one table per catalog, with fit seconds, for:

- raw TF-IDF, TruncatedSVD(64);
- NeighborhoodComponentsAnalysis(64) on TruncatedSVD(128), on as many (stratified) training
  rows as it can fit in the time budget (default 5 minutes): its cost is quadratic in the rows,
  so it is timed on doubling subsets, the growth exponent is read off the last two, and the
  final subset is the largest predicted to fit the budget;
- MaskedAutoencoderEmbedder(64) and TripletEmbedder(64) with default parameters, and
  TripletEmbedder(64) fine-tuned from that autoencoder (``encoder_init``);
- optional rows, if installed (never required by the package): metric-learn's LMNN(64) on
  TruncatedSVD(128) (doubling subsets as NCA, a smaller budget), umap-learn's UMAP(64) with the
  cosine metric on the TF-IDF rows, unsupervised and supervised.

Each catalog records its own section of RESULTS.md. Run from the repository root:

    python benchmarks/bench_quality.py --catalog flipkart     # about 12 minutes
    python benchmarks/bench_quality.py --catalog instacart    # about 15 minutes
    python benchmarks/bench_quality.py --quick                # both, 1-minute budgets, no UMAP
"""

import argparse
import math
import multiprocessing
import queue
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import (  # noqa: E402
    load_catalog,
    machine_line,
    precision_at_10,
    record_section,
    split_and_vectorize,
)
from _protocol import timed_fit_transform as timed  # noqa: E402

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder  # noqa: E402

COMMAND = "python benchmarks/bench_quality.py"


def timed_with_deadline(make_model, X_train, X_test, y_train, seconds_allowed):
    """:func:`timed` in a forked child that is stopped after ``seconds_allowed``;
    returns None if it did not finish by then."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def run():
        results.put(timed(make_model(), X_train, X_test, y_train))

    child = context.Process(target=run, daemon=True)
    child.start()
    try:
        result = results.get(timeout=seconds_allowed)
    except queue.Empty:
        result = None
        child.terminate()
    child.join()
    return result


def stratified_subset(y, n_rows, min_class_rows=2):
    """Indices of a stratified subset of about ``n_rows`` rows, without classes under
    ``min_class_rows`` rows in it."""
    if n_rows > y.shape[0] - len(np.unique(y)):
        # train_test_split needs at least one left-out row per class
        subset = np.arange(y.shape[0])
    else:
        subset, _ = train_test_split(
            np.arange(y.shape[0]), train_size=n_rows, stratify=y, random_state=0
        )
    labels, counts = np.unique(y[subset], return_counts=True)
    keep = np.isin(y[subset], labels[counts >= min_class_rows])
    return np.sort(subset[keep])


def largest_fit_within(make_model, X_train, X_test, y_train, budget, start_rows, min_class_rows):
    """Fit on doubling stratified subsets while the next fit is predicted to fit ``budget``
    seconds, then on the largest subset predicted to fit; a fit still running after
    ``budget`` seconds is stopped and does not count. Returns the timings of every subset
    (None for a stopped fit) and the final (rows, Z_test, seconds), or None for the final
    if not even the first subset fitted in time."""
    n_max = X_train.shape[0]
    timings, fitted = [], []
    n_rows = start_rows

    def attempt(n_rows):
        subset = stratified_subset(y_train, n_rows, min_class_rows)
        result = timed_with_deadline(
            make_model, X_train[subset], X_test, y_train[subset], budget
        )
        seconds = None if result is None else result[1]
        timings.append((subset.shape[0], seconds))
        print(f"    {subset.shape[0]} rows: " + ("stopped" if seconds is None else f"{seconds:.1f} s"), flush=True)
        if result is not None:
            fitted.append((subset.shape[0], result[0], seconds))
        return subset.shape[0], seconds

    while True:
        n_fitted, seconds = attempt(n_rows)
        if seconds is None or n_fitted >= n_max:
            break
        exponent = 2.0
        if len(fitted) >= 2 and fitted[-2][2] > 1.0:
            (n1, _, t1), (n2, _, t2) = fitted[-2:]
            exponent = min(max(math.log(t2 / t1) / math.log(n2 / n1), 1.0), 3.0)
        if seconds * 2**exponent <= budget:
            n_rows = min(2 * n_rows, n_max)
            continue
        # The largest subset predicted to take 90% of the budget, if it is worth a fit.
        target = min(int(n_fitted * (0.9 * budget / seconds) ** (1 / exponent)), n_max)
        if target > 1.15 * n_fitted:
            attempt(target)
        break
    final = max(fitted, key=lambda f: f[0]) if fitted else None
    return timings, final


def _timings_text(timings):
    return ", ".join(
        f"{n:,}: " + ("stopped at the budget" if s is None else f"{s:.0f} s") for n, s in timings
    )


def nca():
    return make_pipeline(
        TruncatedSVD(128, random_state=0), NeighborhoodComponentsAnalysis(64, random_state=0)
    )


def lmnn_factory():
    """metric-learn's LMNN on SVD(128), or None if metric-learn is not installed.

    metric-learn 0.7.0 passes ``force_all_finite`` to scikit-learn's validation, which
    scikit-learn 1.8 renamed ``ensure_all_finite``; the benchmark renames it on the way.
    """
    try:
        import metric_learn
        import metric_learn._util as util
    except ImportError:
        return None

    def renamed(function):
        def wrapper(*args, **kwargs):
            if "force_all_finite" in kwargs:
                kwargs["ensure_all_finite"] = kwargs.pop("force_all_finite")
            return function(*args, **kwargs)

        return wrapper

    if not getattr(util, "_renamed_for_bench", False):
        util.check_array = renamed(util.check_array)
        util.check_X_y = renamed(util.check_X_y)
        util._renamed_for_bench = True
    return lambda: make_pipeline(
        TruncatedSVD(128, random_state=0),
        metric_learn.LMNN(n_neighbors=3, n_components=64, random_state=0),
    )


def evaluate(catalog, nca_budget, lmnn_budget, with_umap):
    texts, labels = load_catalog(catalog)
    X_train, X_test, y_train, y_test = split_and_vectorize(texts, labels)
    n_classes = len(np.unique(labels))
    print(
        f"{catalog}: {X_train.shape[0]} training rows, {X_test.shape[0]} test rows, "
        f"{X_train.shape[1]} features, {n_classes} classes",
        flush=True,
    )
    rows, notes = [], []

    def add(method, Z, seconds):
        score = precision_at_10(Z, y_test)
        rows.append((method, score, seconds))
        print(f"  {method}: {score:.3f} ({seconds:.1f} s fit)", flush=True)

    add("raw TF-IDF", X_test, 0.0)
    add("TruncatedSVD(64)", *timed(TruncatedSVD(64, random_state=0), X_train, X_test))

    print(f"  NCA(64) on SVD(128), doubling subsets within {nca_budget:.0f} s:", flush=True)
    timings, final = largest_fit_within(nca, X_train, X_test, y_train, nca_budget, 1000, 2)
    if final is not None:
        n_rows, Z, seconds = final
        add(f"NeighborhoodComponentsAnalysis(64) on SVD(128), {n_rows:,} training rows", Z, seconds)
    notes.append(
        f"NCA fit seconds by training rows: {_timings_text(timings)} (budget {nca_budget:.0f} s)."
    )

    autoencoder = MaskedAutoencoderEmbedder(64, random_state=0)
    Z, pretrain_seconds = timed(autoencoder, X_train, X_test)
    add("MaskedAutoencoderEmbedder(64)", Z, pretrain_seconds)
    add("TripletEmbedder(64)", *timed(TripletEmbedder(64, random_state=0), X_train, X_test, y_train))
    Z, seconds = timed(
        TripletEmbedder(64, encoder_init=autoencoder, random_state=0), X_train, X_test, y_train
    )
    add(
        "TripletEmbedder(64) fine-tuned from the MaskedAutoencoderEmbedder(64) above "
        f"(fit seconds: fine-tuning + {pretrain_seconds:.0f} s pre-training)",
        Z,
        seconds + pretrain_seconds,
    )

    make_lmnn = lmnn_factory()
    if make_lmnn is None:
        notes.append("LMNN row missing: metric-learn is not installed.")
    elif lmnn_budget > 0:
        print(f"  LMNN(64) on SVD(128), doubling subsets within {lmnn_budget:.0f} s:", flush=True)
        timings, final = largest_fit_within(
            make_lmnn, X_train, X_test, y_train, lmnn_budget, 250, 4
        )
        if final is not None:
            n_rows, Z, seconds = final
            add(f"metric-learn LMNN(64, k=3) on SVD(128), {n_rows:,} training rows", Z, seconds)
        notes.append(
            f"LMNN (metric-learn defaults otherwise) fit seconds by training rows: "
            f"{_timings_text(timings)} (budget {lmnn_budget:.0f} s; classes with fewer than 4 "
            "rows in the subset are left out, as LMNN needs k + 1 rows per class)."
        )

    if with_umap:
        try:
            import umap
        except ImportError:
            notes.append("UMAP rows missing: umap-learn is not installed.")
        else:
            # UMAP's supervised fit needs numeric labels.
            y_codes = np.unique(y_train, return_inverse=True)[1]
            for supervised in (False, True):
                model = umap.UMAP(n_components=64, metric="cosine", random_state=0)
                Z, seconds = timed(model, X_train, X_test, y_codes if supervised else None)
                kind = "supervised" if supervised else "unsupervised"
                add(f"umap-learn UMAP(64, metric='cosine'), {kind}", Z, seconds)
            notes.append(
                "UMAP fit seconds include numba's compilation on first use; its transform of "
                "the test rows is not counted."
            )
    return X_train.shape, X_test.shape[0], n_classes, rows, notes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", choices=("flipkart", "instacart"), nargs="+",
                        default=["flipkart", "instacart"])
    parser.add_argument("--nca-budget", type=float, default=300.0, help="seconds")
    parser.add_argument("--lmnn-budget", type=float, default=120.0, help="seconds; 0 skips")
    parser.add_argument("--no-umap", action="store_true")
    parser.add_argument("--quick", action="store_true", help="60 s budgets, no UMAP")
    args = parser.parse_args()
    if args.quick:
        args.nca_budget, args.lmnn_budget, args.no_umap = 60.0, 30.0, True

    for catalog in args.catalog:
        start = time.perf_counter()
        shape, n_test, n_classes, rows, notes = evaluate(
            catalog, args.nca_budget, args.lmnn_budget, not args.no_umap
        )
        minutes = (time.perf_counter() - start) / 60
        command = f"{COMMAND} --catalog {catalog}"
        if args.quick:
            command += " --quick"
        elif args.no_umap:
            command += " --no-umap"
        if not args.quick and args.nca_budget != 300.0:
            command += f" --nca-budget {args.nca_budget:g}"
        table = ["| method | precision@10 | fit seconds |", "|---|---|---|"]
        table += [f"| {method} | {score:.3f} | {seconds:.1f} |" for method, score, seconds in rows]
        record_section(
            f"bench_quality_{catalog}",
            f"## Quality on {catalog}: sk_prodembed against the reference methods\n\n"
            f"Command: `{command}` ({time.strftime('%Y-%m-%d')}, {minutes:.0f} minutes). "
            f"{machine_line()}\n"
            "Protocol: ../shared/data/README.md (TF-IDF of the names, 30% stratified test "
            "split, test precision@10 by cosine distance, self excluded); "
            f"{shape[0]:,} training rows x {shape[1]:,} features, {n_test:,} test rows, "
            f"{n_classes} classes. Every embedder outputs 64 dimensions; sk_prodembed models "
            "use their default parameters with random_state=0.\n\n"
            + "\n".join(table)
            + "\n\n"
            + "\n".join(f"- {note}" for note in notes),
        )


if __name__ == "__main__":
    main()
