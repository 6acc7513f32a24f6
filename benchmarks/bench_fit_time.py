"""Default fit time on the two full dev catalogs: today's defaults against v0.1's, side by side.

Issue 14's target: the adaptive defaults (``max_iter="auto"``, the autoencoder's
``learning_rate_init=1e-2``) may run more epochs on small catalogs, but the fit time per row on
the two full catalogs must be no worse than v0.1's (20 epochs; the autoencoder at 3e-3; the
triplet model with uniform class batches, a random start and a step of 3e-3). Each
pair of fits runs in this one process, alternated ``--repeats`` times (the machine is shared
and noisy: compare the two columns of one row, and read the best of the repeats).

Catalogs: the zoo's ``flipkart_d2`` and ``instacart_aisle`` entries (the protocol's training
splits of the full Flipkart and Instacart catalogs, see _zoo.py).

    python benchmarks/bench_fit_time.py --record
"""

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _zoo  # noqa: E402
from _protocol import machine_line, record_section  # noqa: E402

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder  # noqa: E402

ENTRIES = ("flipkart_d2", "instacart_aisle")
MODELS = {  # label: (today's defaults, v0.1's)
    "MaskedAutoencoderEmbedder(64)": (
        lambda: MaskedAutoencoderEmbedder(64, random_state=0),
        lambda: MaskedAutoencoderEmbedder(64, max_iter=20, learning_rate_init=3e-3,
                                          random_state=0),
    ),
    "TripletEmbedder(64)": (
        lambda: TripletEmbedder(64, random_state=0),
        # v0.1 had uniform P x K batches, the Glorot start and a step of 3e-3.
        lambda: TripletEmbedder(64, max_iter=20, class_sampling="uniform", encoder_init="random",
                                learning_rate_init=3e-3, random_state=0),
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the table to RESULTS.md")
    args = parser.parse_args()

    lines = ["| catalog | model | rows | today: best s (epochs) | v0.1: best s (epochs) | "
             "today / v0.1, per row | all runs, today / v0.1 |", "|---|---|---|---|---|---|---|"]
    for name in ENTRIES:
        data = _zoo.load_entry(name)
        n_rows = data["X_train"].shape[0]
        for label, (today, before) in MODELS.items():
            runs = {"today": [], "v0.1": []}
            for _ in range(args.repeats):
                for key, make in (("today", today), ("v0.1", before)):
                    result = _zoo.run_ours(make, data)  # fit timed alone, then scored
                    runs[key].append((result["fit_seconds"], result["n_iter"]))
            best = {key: min(values) for key, values in runs.items()}
            all_runs = " / ".join(
                ", ".join(f"{s:.1f}" for s, _ in runs[key]) for key in ("today", "v0.1")
            )
            line = (f"| {name} | {label} | {n_rows:,} | {best['today'][0]:.1f} ({best['today'][1]}) "
                    f"| {best['v0.1'][0]:.1f} ({best['v0.1'][1]}) "
                    f"| {best['today'][0] / best['v0.1'][0]:.2f} | {all_runs} |")
            print(line, flush=True)
            lines.append(line)
    table = "\n".join(lines)
    if args.record:
        record_section(
            "bench_fit_time",
            "## Default fit time on the full catalogs: today's defaults against v0.1's "
            "(bench_fit_time)\n\n"
            f"Command: `python benchmarks/bench_fit_time.py --repeats {args.repeats} --record` "
            f"({time.strftime('%Y-%m-%d')}). {machine_line()}\n"
            "Each row: the two settings fitted alternately in one process on the same rows; "
            "best of the repeats (epochs run in brackets), and every run's seconds. v0.1: "
            "`max_iter=20`, the autoencoder's `learning_rate_init=3e-3`, the triplet model's "
            "`class_sampling=\"uniform\", encoder_init=\"random\", learning_rate_init=3e-3`."
            "\n\n" + table,
        )


if __name__ == "__main__":
    main()
