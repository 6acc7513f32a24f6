"""How many epochs a default fit needs, against the number of rows (``max_iter="auto"``).

Two parts, each recorded in its own section of RESULTS.md:

- ``--part trend`` (real catalogs, a few minutes): one model per zoo entry, trained one epoch at
  a time (``max_iter=1, warm_start=True``, which continues the optimizer's state), its test
  precision@10 read after 1, 2, 3, 4, 6, 8, 12, 16, 20 and 30 epochs (the zoo's protocol, see
  _zoo.py). The column "epochs to 98.5%" is the first of those after which the precision is
  within 1.5% of its value at 20 epochs (the least epochs of ``"auto"`` on these catalogs).
  Subsamples of one catalog show how the epochs needed fall with its rows.
- ``--part scale`` (synthetic rows, about 20 minutes): default ``MaskedAutoencoderEmbedder(64)``
  fits on the synthetic TF-IDF-like rows of bench_scale.py, the ``"auto"`` budget against a
  fixed 20 epochs (the least epochs before the budget fell with the rows) where that fits in
  the time. The rows carry no structure, so this part measures epochs and seconds, not quality.

Run from the repository root, one part at a time:

    python benchmarks/bench_epochs.py --part trend
    python benchmarks/bench_epochs.py --part scale
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _zoo  # noqa: E402
from _protocol import machine_line, precision_at_10, record_section  # noqa: E402
from bench_scale import synthetic_sparse_rows  # noqa: E402

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder  # noqa: E402

CHECKPOINTS = (1, 2, 3, 4, 6, 8, 12, 16, 20, 30)
REFERENCE_EPOCHS = 20
WITHIN = 0.985
TREND = {
    "MaskedAutoencoderEmbedder(64)": (
        "instacart_aisle_n2000", "instacart_aisle_n5000", "instacart_aisle_n10000",
        "instacart_aisle_n20000", "instacart_aisle", "flipkart_d1_n2000", "flipkart_d1_n5000",
        "flipkart_d1", "wdc_category",
    ),
    "TripletEmbedder(64)": (
        "instacart_aisle_n5000", "instacart_aisle_n10000", "instacart_aisle_n20000",
        "instacart_aisle", "flipkart_d1_n5000", "flipkart_d1", "wdc_category",
    ),
}
SCALE_ROWS = (200_000, 1_000_000)
FIXED_UP_TO = 200_000  # rows up to which the fixed 20 epochs also run (about 6 minutes)


def _model(label, **params):
    if label.startswith("Masked"):
        return MaskedAutoencoderEmbedder(64, random_state=0, **params)
    return TripletEmbedder(64, random_state=0, **params)


def precision_by_epoch(label, entry):
    data = _zoo.load_entry(entry)
    model = _model(label, max_iter=1, warm_start=True)
    scores = {}
    start = time.perf_counter()
    for epoch in range(1, CHECKPOINTS[-1] + 1):
        with warnings.catch_warnings():
            # max_iter=1 ends every call at its maximum: expected here.
            warnings.simplefilter("ignore")
            if label.startswith("Masked"):
                model.fit(data["X_train"])
            else:
                model.fit(data["X_train"], data["y_train"])
        if epoch in CHECKPOINTS:
            scores[epoch] = precision_at_10(model.transform(data["X_test"]), data["y_test"])
    return data["X_train"].shape[0], scores, time.perf_counter() - start


def part_trend():
    header = " | ".join(str(c) for c in CHECKPOINTS)
    table = [
        f"| model | entry | train rows | {header} | epochs to 98.5% |",
        "|---|---|---|" + "---|" * len(CHECKPOINTS) + "---|",
    ]
    for label, entries in TREND.items():
        for entry in entries:
            n_rows, scores, seconds = precision_by_epoch(label, entry)
            target = WITHIN * scores[REFERENCE_EPOCHS]
            needed = next(c for c in CHECKPOINTS if scores[c] >= target)
            cells = " | ".join(f"{scores[c]:.4f}" for c in CHECKPOINTS)
            table.append(f"| {label} | {entry} | {n_rows:,} | {cells} | {needed} |")
            print(table[-1], f"({seconds:.0f} s)", flush=True)
    record_section(
        "bench_epochs_trend",
        "## Epochs a fit needs against the catalog's rows (bench_epochs --part trend)\n\n"
        f"Command: `python benchmarks/bench_epochs.py --part trend` ({time.strftime('%Y-%m-%d')}). "
        f"{machine_line()}\n\n"
        "Test precision@10 (the zoo's protocol) of one model per entry trained one epoch at a "
        "time (`max_iter=1, warm_start=True`), after the number of epochs in each column; "
        f"*epochs to 98.5%*: the first column within 1.5% of the {REFERENCE_EPOCHS}-epoch "
        "figure. Defaults otherwise (`random_state=0`).\n\n" + "\n".join(table),
    )


def timed_default_fit(X, **params):
    model = MaskedAutoencoderEmbedder(64, random_state=0, **params)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    seconds = time.perf_counter() - start
    return model, seconds, [str(w.message)[:60] for w in caught]


def part_scale(args):
    table = [
        "| rows | max_iter | epochs run | fit s | s per epoch | warnings |",
        "|---|---|---|---|---|---|",
    ]
    for n_rows in SCALE_ROWS:
        X = synthetic_sparse_rows(n_rows, args.features, args.nnz)
        settings = ["auto"] + ([REFERENCE_EPOCHS] if n_rows <= FIXED_UP_TO else [])
        for max_iter in settings:
            model, seconds, caught = timed_default_fit(X, max_iter=max_iter)
            table.append(
                f"| {n_rows:,} | {max_iter!r} | {model.n_iter_} | {seconds:.0f} | "
                f"{seconds / model.n_iter_:.1f} | {'; '.join(caught) or 'none'} |"
            )
            print(table[-1], flush=True)
    record_section(
        "bench_epochs_scale",
        "## Default fits on many rows (bench_epochs --part scale)\n\n"
        f"Command: `python benchmarks/bench_epochs.py --part scale` ({time.strftime('%Y-%m-%d')}). "
        f"{machine_line()}\n\n"
        f"`MaskedAutoencoderEmbedder(64, random_state=0)` on bench_scale.py's synthetic rows "
        f"({args.features:,} features, {args.nnz} Zipf-drawn words a row, no structure: epochs "
        f"and seconds, not quality), `max_iter=\"auto\"` against a fixed {REFERENCE_EPOCHS} "
        "epochs (the least epochs of `\"auto\"` before they fell with the rows).\n\n"
        + "\n".join(table),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("trend", "scale"), required=True)
    parser.add_argument("--features", type=int, default=20000)
    parser.add_argument("--nnz", type=int, default=12)
    args = parser.parse_args()
    if args.part == "trend":
        part_trend()
    else:
        part_scale(args)


if __name__ == "__main__":
    main()
