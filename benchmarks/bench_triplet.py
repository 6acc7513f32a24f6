"""TripletEmbedder against NeighborhoodComponentsAnalysis, and the label-scarcity study.

Follows the category-precision protocol of ../shared/data/README.md on both shared catalogs:

1. TripletEmbedder(64) with default parameters on all training rows, against
   NeighborhoodComponentsAnalysis(64) on TruncatedSVD(128) of 3,000 training rows (a
   stratified sample; its O(n^2) cost allows no more), with fit times.
2. Label scarcity: with 2%, 10% and 100% of the training labels kept (a random subset; the
   others become -1), the test precision@10 of TripletEmbedder trained from scratch on the
   labeled rows, semi-supervised on all rows, fine-tuned on the labeled rows from a
   MaskedAutoencoderEmbedder(64) pre-trained on all training rows, and both (fine-tuned
   from the pre-trained model, semi-supervised on all rows).

Prints markdown tables and records them in RESULTS.md. Run from the repository root:

    python benchmarks/bench_triplet.py
"""

import time
import warnings

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline

from _protocol import (
    load_catalog,
    machine_line,
    precision_at_10,
    record_section,
    split_and_vectorize,
    timed_fit_transform,
)
from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder

COMMAND = "python benchmarks/bench_triplet.py"
CATALOGS = ("flipkart", "instacart")
NCA_TRAINING_ROWS = 3000
LABEL_FRACTIONS = (0.02, 0.10, 1.0)


def _fit_transform(model, X_train, X_test, y_train=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return timed_fit_transform(model, X_train, X_test, y_train)


def compare_with_nca(X_train, X_test, y_train, y_test):
    """Rows (method, precision@10, fit seconds) of part 1."""
    rows = [("raw TF-IDF", precision_at_10(X_test, y_test), 0.0)]
    subset, _ = train_test_split(
        np.arange(X_train.shape[0]), train_size=NCA_TRAINING_ROWS, stratify=y_train, random_state=0
    )
    nca = make_pipeline(
        TruncatedSVD(128, random_state=0), NeighborhoodComponentsAnalysis(64, random_state=0)
    )
    Z, seconds = _fit_transform(nca, X_train[subset], X_test, y_train[subset])
    rows.append(
        (f"NCA(64) on SVD(128), {NCA_TRAINING_ROWS} rows", precision_at_10(Z, y_test), seconds)
    )
    Z, seconds = _fit_transform(TripletEmbedder(64, random_state=0), X_train, X_test, y_train)
    rows.append(("TripletEmbedder(64), all rows", precision_at_10(Z, y_test), seconds))
    return rows


def hide_labels(y, fraction, seed=0):
    """Keep a random ``fraction`` of the labels; the others become -1 (dtype object)."""
    labeled = np.zeros(y.shape[0], dtype=bool)
    n_labeled = int(round(fraction * y.shape[0]))
    labeled[np.random.RandomState(seed).permutation(y.shape[0])[:n_labeled]] = True
    partial = y.astype(object)
    partial[~labeled] = -1
    return partial, labeled


def label_scarcity(X_train, X_test, y_train, y_test):
    """Rows (fraction, n_labeled, scratch, semi, fine-tuned, both) of part 2, and the
    pre-trained model's own (precision@10, fit seconds)."""
    autoencoder = MaskedAutoencoderEmbedder(64, random_state=0)
    Z, pretrain_seconds = _fit_transform(autoencoder, X_train, X_test)
    pretrained = (precision_at_10(Z, y_test), pretrain_seconds)
    print(f"  pre-trained autoencoder: {pretrained[0]:.3f} ({pretrain_seconds:.1f} s)", flush=True)

    def score(model, X, y):
        Z, seconds = _fit_transform(model, X, X_test, y)
        return precision_at_10(Z, y_test), seconds

    rows = []
    for fraction in LABEL_FRACTIONS:
        partial, labeled = hide_labels(y_train, fraction)
        X_labeled, y_labeled = X_train[labeled], y_train[labeled]
        scratch = score(TripletEmbedder(64, random_state=0), X_labeled, y_labeled)
        tuned = score(
            TripletEmbedder(64, encoder_init=autoencoder, random_state=0), X_labeled, y_labeled
        )
        if fraction < 1:
            semi = score(TripletEmbedder(64, random_state=0), X_train, partial)
            both = score(
                TripletEmbedder(64, encoder_init=autoencoder, random_state=0), X_train, partial
            )
        else:  # no unlabeled row: the same fits
            semi, both = scratch, tuned
        rows.append((fraction, int(labeled.sum()), scratch, semi, tuned, both))
        print(
            f"  {fraction:.0%} labels: scratch {scratch[0]:.3f} ({scratch[1]:.1f} s), "
            f"semi {semi[0]:.3f} ({semi[1]:.1f} s), fine-tuned {tuned[0]:.3f} "
            f"({tuned[1]:.1f} s), both {both[0]:.3f} ({both[1]:.1f} s)",
            flush=True,
        )
    return rows, pretrained


def main():
    comparison = [
        "| catalog | method | precision@10 | fit seconds |",
        "|---|---|---|---|",
    ]
    scarcity = [
        "| catalog | labels kept | labeled rows | from scratch | semi-supervised "
        "| fine-tuned from MaskedAutoencoderEmbedder | fine-tuned, given every row |",
        "|---|---|---|---|---|---|---|",
    ]
    pretraining = []
    for catalog in CATALOGS:
        X_train, X_test, y_train, y_test = split_and_vectorize(*load_catalog(catalog))
        print(f"{catalog}: {X_train.shape[0]} training rows, {X_train.shape[1]} features")
        for method, precision, seconds in compare_with_nca(X_train, X_test, y_train, y_test):
            comparison.append(f"| {catalog} | {method} | {precision:.3f} | {seconds:.1f} |")
            print(f"  {method}: {precision:.3f} ({seconds:.1f} s fit)", flush=True)
        rows, (precision, seconds) = label_scarcity(X_train, X_test, y_train, y_test)
        pretraining.append(
            f"- {catalog}: the pre-trained MaskedAutoencoderEmbedder(64) alone scores "
            f"{precision:.3f} ({seconds:.1f} s fit on all training rows, no labels)."
        )
        for fraction, n_labeled, *cells in rows:
            formatted = " | ".join(f"{p:.3f} ({s:.0f} s)" for p, s in cells)
            scarcity.append(f"| {catalog} | {fraction:.0%} | {n_labeled} | {formatted} |")

    markdown = "\n".join(
        [
            "## TripletEmbedder against NCA, and with scarce labels",
            "",
            f"Command: `{COMMAND}` ({time.strftime('%Y-%m-%d')}). {machine_line()}",
            "Protocol: ../shared/data/README.md (test precision@10, cosine, self excluded). "
            "TripletEmbedder uses its default parameters throughout.",
            "",
            *comparison,
            "",
            "Label scarcity (a random subset of the training labels kept, the rest -1; "
            "precision@10 and fit seconds; at 100% there is no unlabeled row, so the "
            "semi-supervised fits are the supervised ones). *Semi-supervised*: every "
            "training row, the unlabeled ones through the self-supervised term; *fine-tuned "
            "from MaskedAutoencoderEmbedder*: the labeled rows only; *fine-tuned, given every "
            "row*: the unlabeled rows too, which unlabeled_weight=\"auto\" leaves out from a "
            "pre-trained encoder (so it equals the column before):",
            "",
            *scarcity,
            "",
            *pretraining,
        ]
    )
    print()
    print(markdown)
    record_section("bench_triplet", markdown)


if __name__ == "__main__":
    main()
