"""Start-up cost: `import sk_prodembed`, the estimators, and the command line's answers.

Each figure is the median wall time of a fresh interpreter running one statement, minus
nothing (interpreter start-up included, as a user waits for it), over ``--repeat`` runs;
``import sk_prodembed`` is also given as measured by ``python -X importtime`` (the package's
own cumulative line). ``--source DIR`` measures another checkout of the package, for example
an earlier commit extracted with ``git archive <commit> | tar -x -C DIR``, side by side with
this one. Run from the repository root:

    python benchmarks/bench_import.py --source /tmp/before
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STATEMENTS = {
    "python -c 'import sk_prodembed'": ["-c", "import sk_prodembed"],
    "python -c 'from sk_prodembed import (the three estimators)'": [
        "-c",
        "from sk_prodembed import MaskedAutoencoderEmbedder, NearestNeighborRecommender, "
        "TripletEmbedder",
    ],
    "python -m sk_prodembed --help": ["-m", "sk_prodembed", "--help"],
    "python -m sk_prodembed --csv missing.csv (an input error)": [
        "-m", "sk_prodembed", "--csv", "missing.csv",
    ],
    # Subcommands are new: measured on this checkout only.
    "python -m sk_prodembed fit --csv missing.csv --model m.skops": [
        "-m", "sk_prodembed", "fit", "--csv", "missing.csv", "--model", "m.skops",
    ],
}


def _run(source, args, cwd):
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - start


def _importtime(source, cwd):
    env = {**os.environ, "PYTHONPATH": str(source)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sk_prodembed"],
        cwd=cwd, env=env, capture_output=True, text=True, check=True,
    )
    line = [row for row in result.stderr.splitlines() if row.rstrip().endswith("| sk_prodembed")]
    return int(line[-1].split("|")[1]) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", default=[], type=Path,
                        help="another checkout to measure side by side (repeatable)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sources = {"this checkout": Path(__file__).resolve().parent.parent}
    sources.update({str(path): path.resolve() for path in args.source})

    print(f"load average at start: {os.getloadavg()[0]:.2f}; median of {args.repeat} runs, "
          "seconds\n")
    print("| " + " | ".join(["command", *sources]) + " |")
    print("|" + "---|" * (len(sources) + 1))
    with tempfile.TemporaryDirectory() as cwd:
        rows = {"python -X importtime: sk_prodembed's cumulative line": [
            statistics.median(_importtime(s, cwd) for _ in range(args.repeat))
            for s in sources.values()
        ]}
        for name, statement in STATEMENTS.items():
            measured = dict(list(sources.items())[:1]) if "fit" in statement else sources
            # Alternate the checkouts, so that a burst of load hits both.
            times = {label: [] for label in measured}
            for _ in range(args.repeat):
                for label, source in measured.items():
                    times[label].append(_run(source, statement, cwd))
            rows[name] = [statistics.median(times[label]) if label in times else None
                          for label in sources]
    for name, medians in rows.items():
        cells = ["-" if m is None else f"{m:.3f}" for m in medians]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
