"""Cold-start recommendation from pairs: the pair protocol of ../shared/data/README.md.

For each dataset (Instacart co-purchase, the four WDC same-product
categories), every row of the table embeds all items, is scored by the
held-out recall@10 of the test items' partners, and reports its fit seconds:

- raw TF-IDF, TruncatedSVD(64), MaskedAutoencoderEmbedder(64) (defaults);
- TripletEmbedder(64) on the category labels, where there are some (the
  Instacart aisles);
- the by-hand PyTorch InfoNCE anchor of the README (needs torch, an optional
  benchmark dependency: ``pip install torch==2.13.0``), alone and side by
  side with TF-IDF;
- TripletEmbedder(64).fit(X, pairs=training pairs), from scratch and
  fine-tuned from the autoencoder, alone and side by side with TF-IDF
  (a FeatureUnion of the TF-IDF and the embedding).

Rows whose estimator or dependency is missing are printed as skipped.
``--scale`` adds fit seconds against the number of synthetic pairs, up to a
million. ``--variant`` replaces the table by a comparison of TripletEmbedder
settings (JSON of its parameters, plus the benchmark's own keys
``"weights": "counts"`` to weigh pairs by their co-purchase counts,
``"mask": false`` to let known partners serve as negatives, and
``"labels": "unlabeled"`` / ``"aisle"`` to train y alongside the pairs), each
from scratch, fine-tuned from the autoencoder and side by side with TF-IDF.
Run it alone on the machine:

    flock /tmp/sk_bench.lock python benchmarks/bench_pairs.py [--dataset NAME ...] [--scale] \
        [--record]
    flock /tmp/sk_bench.lock python benchmarks/bench_pairs.py --variant '{}' \
        '{"pair_temperature": 0.1}'
"""

import argparse
import contextlib
import inspect
import json
import time
import warnings
from unittest import mock

import numpy as np
import scipy.sparse as sp
from _pair_protocol import (
    DATASETS,
    held_out_recall,
    load_pair_dataset,
    side_by_side,
    torch_infonce_anchor,
)
from _protocol import machine_line, record_section
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder

N_COMPONENTS = 64
SEED = 0


class Unavailable(Exception):
    """A row that cannot run here (an estimator or dependency not there yet)."""


def _accepts_pairs():
    return "pairs" in inspect.signature(TripletEmbedder.fit).parameters


def _timed(fit_and_embed):
    start = time.perf_counter()
    Z = fit_and_embed()
    return Z, time.perf_counter() - start


def run_dataset(dataset, printer):
    """All rows of one dataset: a list of (row name, recall@10 or None, seconds or None, note)."""
    X = dataset.X
    results = []

    def add(name, compute, hybrid_name=None):
        try:
            Z, seconds = compute()
        except Unavailable as reason:
            results.append((name, None, None, f"skipped: {reason}"))
            printer(results[-1])
            if hybrid_name:
                results.append((hybrid_name, None, None, f"skipped: {reason}"))
                printer(results[-1])
            return None
        results.append((name, held_out_recall(dataset, Z), seconds, ""))
        printer(results[-1])
        if hybrid_name:
            results.append((hybrid_name, held_out_recall(dataset, side_by_side(X, Z)), seconds, ""))
            printer(results[-1])
        return Z

    add("raw TF-IDF", lambda: (X, 0.0))
    add(
        "TruncatedSVD(64)",
        lambda: _timed(lambda: TruncatedSVD(N_COMPONENTS, random_state=SEED).fit_transform(X)),
    )
    autoencoder = MaskedAutoencoderEmbedder(N_COMPONENTS, random_state=SEED)
    add("MaskedAutoencoderEmbedder(64)", lambda: _timed(lambda: autoencoder.fit_transform(X)))

    if dataset.labels is not None:
        add(
            "TripletEmbedder(64), category labels",
            lambda: _timed(
                lambda: TripletEmbedder(N_COMPONENTS, random_state=SEED).fit_transform(
                    X, dataset.labels
                )
            ),
        )

    def anchor():
        try:
            import torch  # noqa: F401
        except ImportError:
            raise Unavailable("torch is not installed") from None
        return _timed(lambda: torch_infonce_anchor(X, dataset.train_pairs, seed=SEED))

    add("PyTorch InfoNCE anchor (linear, 20 epochs)", anchor, "TF-IDF + anchor, side by side")

    def pair_embedder(**params):
        if not _accepts_pairs():
            raise Unavailable("TripletEmbedder.fit does not take pairs yet")

        def compute():
            embedder = TripletEmbedder(N_COMPONENTS, random_state=SEED, **params)
            return _timed(lambda: embedder.fit_transform(X, pairs=dataset.train_pairs))

        return compute

    add(
        "TripletEmbedder(64), pairs",
        pair_embedder(),
        "TF-IDF + TripletEmbedder (pairs), side by side",
    )
    add(
        "TripletEmbedder(64), pairs, from the autoencoder",
        pair_embedder(encoder_init=autoencoder),
        "TF-IDF + TripletEmbedder (pairs, from the autoencoder), side by side",
    )
    return results


@contextlib.contextmanager
def _without_partner_masking():
    """Known partners back among the negatives, as in the PyTorch anchor."""
    import sk_prodembed._pair_objective as pair_objective

    loss = pair_objective.multiple_negatives_ranking_loss

    def unmasked(*args, partners=None, **kwargs):
        return loss(*args, **kwargs)

    with mock.patch.object(pair_objective, "multiple_negatives_ranking_loss", unmasked):
        yield


def run_variants(dataset, variants, printer):
    """Each variant of TripletEmbedder's settings from scratch, fine-tuned, and side by side."""
    X = dataset.X
    start = time.perf_counter()
    autoencoder = MaskedAutoencoderEmbedder(N_COMPONENTS, random_state=SEED).fit(X)
    printer(("MaskedAutoencoderEmbedder(64)", held_out_recall(dataset, autoencoder.transform(X)),
             time.perf_counter() - start, ""))
    results = []
    for variant in variants:
        params = dict(variant)
        weights = params.pop("weights", None)
        mask = params.pop("mask", True)
        labels = params.pop("labels", None)
        fit_params = {"pairs": dataset.train_pairs}
        if weights == "counts":
            fit_params["pair_weight"] = dataset.train_weights
        y = None
        if labels == "unlabeled":
            y = np.full(X.shape[0], -1)
            # The term on every row: from the autoencoder, "auto" would leave it out.
            params.setdefault("unlabeled_weight", 1.0)
        elif labels == "aisle":
            if dataset.labels is None:
                continue
            y = dataset.labels
        for init in ("scratch", "autoencoder"):
            embedder = TripletEmbedder(
                N_COMPONENTS, random_state=SEED,
                encoder_init=autoencoder if init == "autoencoder" else None, **params,
            )
            with _without_partner_masking() if not mask else contextlib.nullcontext():
                Z, seconds = _timed(lambda: embedder.fit(X, y, **fit_params).transform(X))
            name = f"{json.dumps(variant)} {init}"
            row = (name, held_out_recall(dataset, Z), seconds, "")
            results.append(row)
            printer(row)
            row = (f"{name} + TF-IDF", held_out_recall(dataset, side_by_side(X, Z)), seconds, "")
            results.append(row)
            printer(row)
    return results


def _synthetic_catalog(n_rows, n_features, seed):
    """Sparse rows shaped like title TF-IDF: about 8 stored features of unit norm."""
    rng = np.random.RandomState(seed)
    nnz = 8 * n_rows
    rows = np.repeat(np.arange(n_rows), 8)
    columns = (rng.zipf(1.2, nnz) - 1) % n_features
    X = sp.csr_matrix(
        (rng.rand(nnz).astype(np.float32), (rows, columns)), shape=(n_rows, n_features)
    )
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1))).ravel()
    return sp.diags(1 / norms) @ X


def run_scale(printer, sizes=(10_000, 100_000, 1_000_000), n_rows=200_000, n_features=2**15):
    """Seconds of one epoch of TripletEmbedder(64).fit(X, pairs=P) against len(P)."""
    if not _accepts_pairs():
        printer(("scale", None, None, "skipped: TripletEmbedder.fit does not take pairs yet"))
        return []
    X = _synthetic_catalog(n_rows, n_features, SEED)
    rng = np.random.RandomState(SEED)
    results = []
    for n_pairs in sizes:
        first = rng.randint(n_rows, size=n_pairs)
        second = (first + 1 + rng.randint(n_rows - 1, size=n_pairs)) % n_rows
        pairs = np.column_stack([first, second])
        embedder = TripletEmbedder(N_COMPONENTS, max_iter=1, random_state=SEED)
        start = time.perf_counter()
        embedder.fit(X, pairs=pairs)
        seconds = time.perf_counter() - start
        results.append((n_pairs, seconds))
        per_million = f"{seconds / n_pairs * 1e6:.1f} s per million pairs"
        printer((f"{n_pairs:,} pairs, 1 epoch", None, seconds, per_million))
    return results


def _print_row(row):
    name, recall, seconds, note = row
    recall_text = "" if recall is None else f"{recall:.3f}"
    seconds_text = "" if seconds is None else f"{seconds:.1f}"
    print(f"  {name:<72} {recall_text:>7} {seconds_text:>8}  {note}", flush=True)


def _markdown(all_results, scale, command):
    lines = [
        "## Pairs: cold-start recommendation (bench_pairs.py)",
        "",
        f"Command: `{command}`. {machine_line()} A shared, noisy 2-core VM: compare rows "
        "of the same run. Held-out recall@10 of the test items' partners (the pair protocol "
        "of ../shared/data/README.md); fit seconds of the embedder (0 for raw TF-IDF; the "
        "fine-tuned rows exclude the autoencoder's own fit, in its row; side-by-side rows "
        "repeat the embedder's seconds).",
        "",
    ]
    for name, results in all_results.items():
        lines += [f"### {name}", "", "| row | recall@10 | fit s |", "|---|---|---|"]
        for row, recall, seconds, note in results:
            if recall is None:
                lines.append(f"| {row} | {note} | |")
            else:
                lines.append(f"| {row} | {recall:.3f} | {seconds:.1f} |")
        lines.append("")
    if scale:
        lines += [
            "### Fit seconds against the number of pairs",
            "",
            "Synthetic: 200,000 rows of 32,768 sparse features (8 stored per row), random "
            "pairs, TripletEmbedder(64, max_iter=1).fit(X, pairs=P), one epoch.",
            "",
            "| pairs | seconds | seconds per million pairs |",
            "|---|---|---|",
        ]
        lines += [f"| {n:,} | {s:.1f} | {s / n * 1e6:.1f} |" for n, s in scale]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--scale", action="store_true", help="add the synthetic scaling run")
    parser.add_argument("--record", action="store_true", help="write the section of RESULTS.md")
    parser.add_argument("--variant", nargs="+", type=json.loads, help="compare settings")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.variant:
        for name in args.dataset:
            dataset = load_pair_dataset(name)
            print(dataset.describe(), flush=True)
            run_variants(dataset, args.variant, _print_row)
        return

    all_results = {}
    for name in args.dataset:
        dataset = load_pair_dataset(name)
        print(dataset.describe(), flush=True)
        print(f"  {'row':<72} {'recall':>7} {'fit s':>8}")
        all_results[dataset.describe()] = run_dataset(dataset, _print_row)
    scale = run_scale(_print_row) if args.scale else []
    if args.record:
        command = "python benchmarks/bench_pairs.py " + " ".join(
            ["--dataset", *args.dataset] * (args.dataset != list(DATASETS))
            + ["--scale"] * args.scale
        )
        record_section("bench_pairs", _markdown(all_results, scale, command.strip()))


if __name__ == "__main__":
    main()
