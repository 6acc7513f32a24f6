"""Saved size of fitted embedders, with and without their training state.

Both shared catalogs (the category-precision protocol's split and TF-IDF), default
MaskedAutoencoderEmbedder(64) and TripletEmbedder(64) fitted on the training rows; for each,
the pickled size (``pickle.HIGHEST_PROTOCOL``) and the skops file size as fitted and after
``drop_training_state()``, and a check that the test rows' embeddings are unchanged. Records
the table in RESULTS.md. Run from the repository root:

    python benchmarks/bench_model_size.py
"""

import os
import pickle
import tempfile
import time

import numpy as np

from _protocol import (
    load_catalog,
    machine_line,
    record_section,
    split_and_vectorize,
    timed_fit_transform,
)
from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder

COMMAND = "python benchmarks/bench_model_size.py"
CATALOGS = ("flipkart", "instacart")


def _sizes(model):
    """(pickle bytes, skops bytes or None without skops) of a model."""
    pickled = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    try:
        import skops.io as sio
    except ImportError:
        return pickled, None
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.skops")
        sio.dump(model, path)
        return pickled, os.path.getsize(path)


def _mb(n_bytes):
    return "–" if n_bytes is None else f"{n_bytes / 1e6:.1f}"


def main():
    rows = [
        "| catalog | TF-IDF features | embedder | pickle MB | pickle MB, dropped | skops MB "
        "| skops MB, dropped | embeddings unchanged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for catalog in CATALOGS:
        X_train, X_test, y_train, _ = split_and_vectorize(*load_catalog(catalog))
        for model, y in (
            (MaskedAutoencoderEmbedder(64, random_state=0), None),
            (TripletEmbedder(64, random_state=0), y_train),
        ):
            Z, _ = timed_fit_transform(model, X_train, X_test, y)
            pickled, skops = _sizes(model)
            model.drop_training_state()
            pickled_dropped, skops_dropped = _sizes(model)
            same = bool(np.array_equal(model.transform(X_test), Z))
            name = type(model).__name__
            rows.append(
                f"| {catalog} | {X_train.shape[1]:,} | {name}(64) | {_mb(pickled)} | "
                f"{_mb(pickled_dropped)} | {_mb(skops)} | {_mb(skops_dropped)} | "
                f"{'yes' if same else 'NO'} |"
            )
            print(rows[-1], flush=True)
    markdown = "\n".join(
        [
            "## Saved model size, with and without the training state (bench_model_size)",
            "",
            f"Command: `{COMMAND}` ({time.strftime('%Y-%m-%d')}). {machine_line()}",
            "Default fits on the training rows of the category-precision protocol (float32 "
            "TF-IDF). *Dropped*: after `drop_training_state()`, which deletes the Adam "
            "optimizer's two moment estimates and the autoencoder's decoder; the last column "
            "checks that the test rows' embeddings are bit for bit the same.",
            "",
            *rows,
        ]
    )
    print()
    print(markdown)
    record_section("bench_model_size", markdown)


if __name__ == "__main__":
    main()
