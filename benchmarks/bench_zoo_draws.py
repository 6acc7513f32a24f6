"""The zoo's small entries drawn again: how much of a margin is the draw of the subsample.

Each ``<catalog>_n<rows>`` zoo entry is one uniform random subsample (``RandomState(0)``) of its
catalog. A margin of a few thousandths on one such entry can be the luck of that draw, not a
property of the method. This script draws each shape again with other seeds (entry names
``<catalog>_n<rows>_s<seed>``, see _zoo.py; seed 0 is the zoo's own entry) and scores, with the
zoo's protocol (../shared/data/README.md: 30% stratified test split, TF-IDF fitted on the
training texts, test precision@10 by cosine, self excluded):

- the anchors that decide our two targets on the zoo: raw TF-IDF and TruncatedSVD(64) for the
  autoencoder; LogisticRegression(C=10) ``predict_proba`` and fastText supervised (dim 64, the
  zoo's setting; skipped without fasttext-wheel) for the triplet model. NCA and UMAP, the zoo's
  other supervised anchors, are left out: they are the best anchor on no zoo entry, and NCA's
  time budget would make its row count depend on the machine's load;
- ``MaskedAutoencoderEmbedder(64, random_state=0)`` and ``TripletEmbedder(64, random_state=0)``,
  defaults unless ``--mae-params`` / ``--triplet-params`` (JSON keyword arguments) say otherwise.

A row per draw and, per shape, how many draws each model meets its target in (the triplet model
at or above its anchor, the autoencoder above its), the mean and the lowest margin (triplet:
minus the better of LR C=10 and fastText; autoencoder: minus the better of TF-IDF and SVD).

Run from the repository root (under the shared benchmark lock):

    python benchmarks/bench_zoo_draws.py --record
    python benchmarks/bench_zoo_draws.py --bases flipkart_d2 --sizes 2000 --seeds 0,1,2
    python benchmarks/bench_zoo_draws.py --triplet-params '{"learning_rate_init": 1e-3}'
"""

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _zoo  # noqa: E402
from _protocol import machine_line, record_section  # noqa: E402

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder  # noqa: E402

COMMAND = "python benchmarks/bench_zoo_draws.py"
DEFAULT_SIZES = (2000, 5000)
DEFAULT_SEEDS = (0, 1, 2, 3, 4, 5)


def score_draw(name, mae_params, triplet_params):
    """Anchors and both embedders on one drawn entry."""
    data = _zoo.load_entry(name)
    stats = _zoo.entry_stats(data)
    fasttext = _zoo.run_fasttext(data, **_zoo.FASTTEXT_ANCHOR)["precision"]
    row = {
        "entry": name,
        "train_rows": stats["train_rows"],
        "classes": stats["classes"],
        "median_rows": stats["median_train_rows_per_class"],
        "tfidf": _zoo.run_tfidf(data)["precision"],
        "svd": _zoo.run_svd(data)["precision"],
        "lr10": _zoo.run_logistic(data, 10)["precision"],
        "fasttext": fasttext,
    }
    mae = _zoo.run_ours(
        lambda: MaskedAutoencoderEmbedder(n_components=64, random_state=0, **mae_params), data
    )
    triplet = _zoo.run_ours(
        lambda: TripletEmbedder(n_components=64, random_state=0, **triplet_params), data
    )
    row["mae"], row["mae_warned"] = mae["precision"], mae["convergence_warning"]
    row["triplet"], row["triplet_warned"] = triplet["precision"], triplet["convergence_warning"]
    row["mae_margin"] = row["mae"] - max(row["tfidf"], row["svd"])
    supervised = [row["lr10"]] + ([fasttext] if fasttext is not None else [])
    row["triplet_margin"] = row["triplet"] - max(supervised)
    return row


def _shape_summary(rows, key, at_or_above):
    """Draws meeting the target (the triplet's: at or above its anchor; the autoencoder's:
    above), the mean margin and the lowest."""
    margins = np.array([row[key] for row in rows])
    met = margins >= 0 if at_or_above else margins > 0
    return f"{int(np.sum(met))} of {margins.size}", margins.mean(), margins.min()


def tables(rows_by_shape):
    """The per-draw table and the per-shape summary, as markdown."""
    header = ["entry", "train rows", "classes", "median rows/class", "TF-IDF", "SVD(64)",
              "LR C=10", "fastText", "MAE", "MAE margin", "Triplet", "Triplet margin"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for rows in rows_by_shape.values():
        for row in rows:
            fasttext = "–" if row["fasttext"] is None else f"{row['fasttext']:.4f}"
            lines.append(
                f"| {row['entry']} | {row['train_rows']:,} | {row['classes']} | "
                f"{row['median_rows']:g} | {row['tfidf']:.4f} | {row['svd']:.4f} | "
                f"{row['lr10']:.4f} | {fasttext} | {row['mae']:.4f} | {row['mae_margin']:+.4f} | "
                f"{row['triplet']:.4f} | {row['triplet_margin']:+.4f} |"
            )
    summary = ["| shape | draws | MAE above its anchor | MAE mean margin | MAE lowest margin | "
               "Triplet at or above its anchor | Triplet mean margin | Triplet lowest margin |",
               "|---|---|---|---|---|---|---|---|"]
    all_rows = [row for rows in rows_by_shape.values() for row in rows]
    for shape, rows in list(rows_by_shape.items()) + [("all", all_rows)]:
        mae = _shape_summary(rows, "mae_margin", at_or_above=False)
        triplet = _shape_summary(rows, "triplet_margin", at_or_above=True)
        summary.append(
            f"| {shape} | {len(rows)} | {mae[0]} | {mae[1]:+.4f} | {mae[2]:+.4f} | "
            f"{triplet[0]} | {triplet[1]:+.4f} | {triplet[2]:+.4f} |"
        )
    warned = sum(row["mae_warned"] or row["triplet_warned"] for row in all_rows)
    return "\n".join(summary), "\n".join(lines), warned


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", default=",".join(_zoo.BASE_ENTRIES),
                        help="comma-separated catalogs to subsample (default: the five of the zoo)")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="comma-separated subsample sizes (default: %(default)s)")
    parser.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)),
                        help="comma-separated draw seeds, 0 the zoo's entry (default: %(default)s)")
    parser.add_argument("--mae-params", default="{}", help="JSON kwargs of the autoencoder")
    parser.add_argument("--triplet-params", default="{}", help="JSON kwargs of the triplet model")
    parser.add_argument("--record", action="store_true", help="write the tables to RESULTS.md")
    args = parser.parse_args()
    mae_params, triplet_params = json.loads(args.mae_params), json.loads(args.triplet_params)
    seeds = [int(seed) for seed in args.seeds.split(",")]

    start = time.perf_counter()
    entries = set(_zoo.all_entries())
    rows_by_shape = {}
    for size in (int(size) for size in args.sizes.split(",")):
        for base in args.bases.split(","):
            shape = f"{base}_n{size}"
            if shape not in entries:
                print(f"{shape}: not a zoo entry (the catalog is not larger), skipped", flush=True)
                continue
            rows_by_shape[shape] = []
            for seed in seeds:
                row = score_draw(f"{shape}_s{seed}", mae_params, triplet_params)
                rows_by_shape[shape].append(row)
                fasttext = "–" if row["fasttext"] is None else f"{row['fasttext']:.4f}"
                print(f"{row['entry']}: LR {row['lr10']:.4f} fastText {fasttext} "
                      f"triplet {row['triplet']:.4f} ({row['triplet_margin']:+.4f}); "
                      f"TF-IDF {row['tfidf']:.4f} SVD {row['svd']:.4f} "
                      f"MAE {row['mae']:.4f} ({row['mae_margin']:+.4f})", flush=True)
    summary, per_draw, warned = tables(rows_by_shape)
    minutes = (time.perf_counter() - start) / 60
    print(summary + "\n\n" + per_draw + f"\n\nfits that warned: {warned}; {minutes:.1f} min")
    if args.record:
        command = COMMAND + "".join(
            f" --{flag} {shlex.quote(value)}" for flag, value, default in (
                ("bases", args.bases, ",".join(_zoo.BASE_ENTRIES)),
                ("sizes", args.sizes, ",".join(map(str, DEFAULT_SIZES))),
                ("seeds", args.seeds, ",".join(map(str, DEFAULT_SEEDS))),
                ("mae-params", args.mae_params, "{}"),
                ("triplet-params", args.triplet_params, "{}"),
            ) if value != default
        )
        record_section(
            "bench_zoo_draws",
            "## The zoo's small entries drawn again (bench_zoo_draws)\n\n"
            f"Command: `{command} --record` ({time.strftime('%Y-%m-%d')}, {minutes:.0f} min). "
            f"{machine_line()}\n"
            "Each shape `<catalog>_n<rows>` subsampled with `RandomState(seed)` for each seed "
            "(`_s0` is the zoo's entry), then the zoo's protocol. Triplet margin: "
            "`TripletEmbedder(64, random_state=0)` minus the better of LR(C=10) and fastText "
            "(the zoo's best supervised anchor on every entry); MAE margin: "
            "`MaskedAutoencoderEmbedder(64, random_state=0)` minus the better of TF-IDF and "
            f"SVD(64). Fits that raised a ConvergenceWarning: {warned}.\n\n"
            + summary + "\n\n" + per_draw,
        )


if __name__ == "__main__":
    main()
