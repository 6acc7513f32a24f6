"""Why the logistic-regression anchor is hard to beat on the zoo: precision@10 as classification.

For each zoo entry (see _zoo.py), with the category-precision protocol of
../shared/data/README.md:

- LogisticRegression(C=10) (the best supervised anchor of bench_zoo): its test accuracy, the
  precision@10 of its predict_proba (the anchor), of the one-hot vector of its predicted class
  (every test row collapsed onto its predicted class; ties among a class's rows broken by
  the probabilities) and of the probabilities of the same model with its coefficients cut
  to rank 64 (the width of our embeddings) by a truncated SVD;
- TripletEmbedder(64) with default parameters and, with ``--proxy``, ``loss="proxy"``: the
  accuracy of the nearest class centroid (mean unit embedding of each class's training rows,
  cosine), the precision@10 of the embedding, and of the same one-hot collapse onto the
  nearest centroid.

If the one-hot collapse scores as the embedding does, precision@10 on that entry is decided
by how well the embedding classifies, not by how it orders the rows of a class; the accuracy
columns then say how far each model is from the anchor as a classifier.

Run from the repository root (under the shared benchmark lock):

    python benchmarks/bench_zoo_diagnose.py --record                    # all entries
    python benchmarks/bench_zoo_diagnose.py --entries flipkart_d3_n2000,instacart_dept_n2000
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _zoo  # noqa: E402
from _protocol import machine_line, precision_at_10, record_section  # noqa: E402

from sk_prodembed import TripletEmbedder  # noqa: E402

COMMAND = "python benchmarks/bench_zoo_diagnose.py"


def collapsed_precision(scores, y_test):
    """precision@10 of one-hot rows of each row's best-scoring class; the scores (small
    beside 1) break ties among rows collapsed onto the same class."""
    scores = np.asarray(scores, dtype=np.float64)
    onehot = np.zeros_like(scores)
    onehot[np.arange(scores.shape[0]), scores.argmax(axis=1)] = 1.0
    spread = scores - scores.min(axis=1, keepdims=True)
    spread /= max(float(spread.max()), 1e-12)
    return precision_at_10(onehot + 1e-3 * spread, y_test)


def diagnose_logistic(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=10).fit(data["X_train"], data["y_train"])
    proba = model.predict_proba(data["X_test"])
    accuracy = float(np.mean(model.classes_[proba.argmax(axis=1)] == data["y_test"]))
    coef = model.coef_
    rank = min(64, min(coef.shape))
    U, s, Vt = np.linalg.svd(coef, full_matrices=False)
    logits = data["X_test"] @ ((U[:, :rank] * s[:rank]) @ Vt[:rank]).T + model.intercept_
    if coef.shape[0] == 1:  # binary: one column of logits
        logits = np.hstack([-logits, logits])
    logits = np.asarray(logits) - np.max(logits, axis=1, keepdims=True)
    proba_rank64 = np.exp(logits)
    proba_rank64 /= proba_rank64.sum(axis=1, keepdims=True)
    return {
        "accuracy": accuracy,
        "precision": precision_at_10(proba, data["y_test"]),
        "collapsed": collapsed_precision(proba, data["y_test"]),
        "precision_rank64": precision_at_10(proba_rank64, data["y_test"]),
    }


def diagnose_embedder(model, data):
    start = time.perf_counter()
    model.fit(data["X_train"], data["y_train"])
    seconds = time.perf_counter() - start
    Z_train, Z_test = model.transform(data["X_train"]), model.transform(data["X_test"])
    classes = model.classes_
    centroids = np.stack([Z_train[data["y_train"] == c].mean(axis=0) for c in classes])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    scores = Z_test @ centroids.T
    return {
        "accuracy": float(np.mean(classes[scores.argmax(axis=1)] == data["y_test"])),
        "precision": precision_at_10(Z_test, data["y_test"]),
        "collapsed": collapsed_precision(scores, data["y_test"]),
        "fit_seconds": seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", help="comma-separated entry names (default: all)")
    parser.add_argument("--proxy", action="store_true", help="also TripletEmbedder(loss='proxy')")
    parser.add_argument("--record", action="store_true", help="write the table to RESULTS.md")
    args = parser.parse_args()
    entries = args.entries.split(",") if args.entries else list(_zoo.all_entries())

    models = {"Triplet": dict()}
    if args.proxy:
        models["proxy"] = dict(loss="proxy")
    header = ["entry", "classes", "LR acc", "LR p@10", "LR collapsed", "LR rank-64 p@10"]
    for label in models:
        header += [f"{label} acc", f"{label} p@10", f"{label} collapsed"]
    rows = []
    for name in entries:
        data = _zoo.load_entry(name)
        n_classes = len(np.unique(data["y_train"]))
        lr = diagnose_logistic(data)
        row = [name, f"{n_classes:,}", lr["accuracy"], lr["precision"], lr["collapsed"],
               lr["precision_rank64"]]
        for label, params in models.items():
            ours = diagnose_embedder(TripletEmbedder(64, random_state=0, **params), data)
            row += [ours["accuracy"], ours["precision"], ours["collapsed"]]
        rows.append(row)
        print(" ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in row), flush=True)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else c for c in row) + " |"
              for row in rows]
    table = "\n".join(lines)
    print(table)
    if args.record:
        command = COMMAND + (" --proxy" if args.proxy else "")
        if args.entries:
            command += f" --entries {args.entries}"
        record_section(
            "bench_zoo_diagnose",
            "## The zoo: precision@10 as classification (bench_zoo_diagnose)\n\n"
            f"Command: `{command} --record` ({time.strftime('%Y-%m-%d')}). {machine_line()}\n"
            "Per zoo entry: accuracy of LogisticRegression(C=10) (the best supervised anchor) "
            "and of our embeddings' nearest class centroid (cosine, mean unit embedding of a "
            "class's training rows); precision@10 of each embedding; of the one-hot vectors of "
            "each test row's predicted class (*collapsed*); of LR's probabilities with its "
            "coefficients cut to rank 64 (truncated SVD). Ours: `TripletEmbedder(64, "
            "random_state=0)` with default parameters"
            + (", and with `loss=\"proxy\"`" if args.proxy else "")
            + ".\n\n" + table,
        )


if __name__ == "__main__":
    main()
