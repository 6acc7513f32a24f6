"""MaskedAutoencoderEmbedder against raw TF-IDF and TruncatedSVD on the shared catalogs.

Follows the category-precision protocol of ../shared/data/README.md and records the table in
RESULTS.md. Run from the repository root:

    python benchmarks/bench_autoencoder.py
"""

import time
import warnings

from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning

from _protocol import (
    load_catalog,
    machine_line,
    precision_at_10,
    record_section,
    split_and_vectorize,
    timed_fit_transform,
)
from sk_prodembed import MaskedAutoencoderEmbedder

COMMAND = "python benchmarks/bench_autoencoder.py"


def models():
    yield "TruncatedSVD(64)", lambda: TruncatedSVD(64, random_state=0)
    yield "MaskedAutoencoderEmbedder(64), defaults", lambda: MaskedAutoencoderEmbedder(
        64, random_state=0
    )
    yield "MaskedAutoencoderEmbedder(64), no reconstruction sampling", lambda: (
        MaskedAutoencoderEmbedder(64, reconstruction_sampling=None, random_state=0)
    )
    yield "MaskedAutoencoderEmbedder(64), loss='mse'", lambda: MaskedAutoencoderEmbedder(
        64, loss="mse", random_state=0
    )


def main():
    rows = []
    for catalog in ("flipkart", "instacart"):
        texts, labels = load_catalog(catalog)
        X_train, X_test, _, y_test = split_and_vectorize(texts, labels)
        print(f"{catalog}: {X_train.shape[0]} training rows, {X_train.shape[1]} features")
        score = precision_at_10(X_test, y_test)
        rows.append((catalog, "raw TF-IDF", score, 0.0))
        print(f"  raw TF-IDF: {score:.3f}")
        for name, make in models():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                Z, seconds = timed_fit_transform(make(), X_train, X_test)
            score = precision_at_10(Z, y_test)
            rows.append((catalog, name, score, seconds))
            print(f"  {name}: {score:.3f} ({seconds:.1f} s fit)", flush=True)

    table = ["| catalog | method | precision@10 | fit seconds |", "|---|---|---|---|"]
    table += [f"| {c} | {m} | {p:.3f} | {s:.1f} |" for c, m, p, s in rows]
    record_section(
        "bench_autoencoder",
        "## Masked autoencoder against TF-IDF and TruncatedSVD\n\n"
        f"Command: `{COMMAND}` ({time.strftime('%Y-%m-%d')}). {machine_line()}\n"
        "Protocol: ../shared/data/README.md (test precision@10, cosine, self excluded).\n\n"
        + "\n".join(table),
    )


if __name__ == "__main__":
    main()
