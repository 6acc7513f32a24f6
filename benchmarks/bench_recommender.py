"""Top-10 search speed, recall and memory of NearestNeighborRecommender at catalog scale.

Catalogs of 100,000, 1,000,000 and 3,000,000 float32 items in 64 dimensions, clustered like
real embeddings: a Gaussian mixture on the unit sphere (1,000 directions drawn uniformly on
the sphere, each item a direction plus isotropic noise of norm about 0.8, then L2-normalised,
so items of one cluster have cosine similarity about 0.6 with each other and about 0 with
other clusters). The 2,000 queries are fresh draws from the same mixture, not catalog items.

Methods, side by side in one process on the same data (cosine, k=10):

- exact: sk_prodembed ``algorithm="brute"`` with ``n_jobs=None`` (BLAS threads) and
  ``n_jobs=2`` (two search threads, single-threaded BLAS); scikit-learn
  ``NearestNeighbors(algorithm="brute", metric="cosine")``; faiss ``IndexFlatIP``;
- approximate: sk_prodembed ``algorithm="hnsw"`` and faiss ``IndexHNSWFlat`` used directly,
  both with M=32, efConstruction=80, over efSearch in 16..256 (the default 64 in the table).

Recall@10 is measured against faiss ``IndexFlatIP``. Seconds are per 1,000 queries; build is
``fit`` (or ``add``). Peak memory is the largest resident set size above the one before the
call, sampled every 2 ms by a thread: the extra memory a search (or build) takes. Writes
``benchmarks/bench_recommender.png`` (recall against queries per second) and records the
table in RESULTS.md. Run from the repository root, alone on the machine:

    flock /tmp/sk_bench.lock python benchmarks/bench_recommender.py           # ~20 minutes
    flock /tmp/sk_bench.lock python benchmarks/bench_recommender.py --sizes 100000  # ~1 minute
"""

import argparse
import json
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import faiss  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from sk_prodembed import NearestNeighborRecommender  # noqa: E402

COMMAND = "flock /tmp/sk_bench.lock python benchmarks/bench_recommender.py"
PLOT = HERE / "bench_recommender.png"
K = 10
N_CLUSTERS = 1000
HNSW = dict(m=32, ef_construction=80)
EF_SEARCHES = [16, 32, 64, 128, 256]
# scikit-learn's brute search takes about 20 s per 1,000 queries and million items on this
# machine; above a million items it answers only this many queries (times are per 1,000).
SKLEARN_QUERIES_ABOVE_1M = 200
# Building a second, identical HNSW graph with faiss directly costs minutes at 3M items;
# above this size only sk_prodembed's graph is built.
FAISS_HNSW_MAX_ITEMS = 1_000_000


def clustered_on_sphere(n_rows, n_features, rng, directions, noise=0.8, chunk=500_000):
    """Unit rows around random mixture directions, generated chunk by chunk (float32)."""
    rows = np.empty((n_rows, n_features), dtype=np.float32)
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        cluster = rng.integers(len(directions), size=stop - start)
        block = rng.standard_normal((stop - start, n_features), dtype=np.float32)
        block *= noise / np.sqrt(n_features)
        block += directions[cluster]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        rows[start:stop] = block
    return rows


class PeakRSS:
    """Largest resident set size above the starting one while the block runs, in MB."""

    def __enter__(self):
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._start = self._peak = self._rss()
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._t0 = time.perf_counter()
        return self

    def _rss(self):
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page

    def _sample(self):
        while self._running:
            self._peak = max(self._peak, self._rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        self._running = False
        self._thread.join()
        self._peak = max(self._peak, self._rss())
        self.megabytes = (self._peak - self._start) / 2**20


def recall(found, truth):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth)]))


def run_size(n_items, n_queries, n_features, rng):
    directions = rng.standard_normal((N_CLUSTERS, n_features)).astype(np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    catalog = clustered_on_sphere(n_items, n_features, rng, directions)
    queries = clustered_on_sphere(n_queries, n_features, rng, directions)
    rows = []

    def record(method, kind, build, search, found, truth, n_answered, **extra):
        rows.append(dict(
            n_items=n_items, method=method, kind=kind, build_seconds=build.seconds,
            build_mb=build.megabytes, seconds_per_1000=1000 * search.seconds / n_answered,
            search_mb=search.megabytes, recall=recall(found, truth[: len(found)]), **extra,
        ))
        print(json.dumps(rows[-1]), flush=True)

    with PeakRSS() as build:
        flat = faiss.IndexFlatIP(n_features)
        flat.add(catalog)
    with PeakRSS() as search:
        _, truth = flat.search(queries, K)
    record("faiss IndexFlatIP", "exact", build, search, truth, truth, n_queries)
    del flat

    for n_jobs in (None, 2):
        with PeakRSS() as build:
            ours = NearestNeighborRecommender(K, n_jobs=n_jobs).fit(catalog)
        with PeakRSS() as search:
            found = ours.predict(queries)
        record(f"sk_prodembed brute, n_jobs={n_jobs}", "exact", build, search, found, truth,
               n_queries)
        del ours

    # Euclidean: on unit rows its order is the cosine order, so this times the euclidean
    # code path (squared norms folded into the ranking) against faiss's exact L2 index.
    with PeakRSS() as build:
        flat_l2 = faiss.IndexFlatL2(n_features)
        flat_l2.add(catalog)
    with PeakRSS() as search:
        _, truth_l2 = flat_l2.search(queries, K)
    record("faiss IndexFlatL2 (euclidean)", "exact euclidean", build, search, truth_l2,
           truth_l2, n_queries)
    del flat_l2
    with PeakRSS() as build:
        ours = NearestNeighborRecommender(K, metric="euclidean", n_jobs=2).fit(catalog)
    with PeakRSS() as search:
        found = ours.predict(queries)
    record("sk_prodembed brute euclidean, n_jobs=2", "exact euclidean", build, search, found,
           truth_l2, n_queries)
    del ours

    n_sklearn = n_queries if n_items <= 1_000_000 else SKLEARN_QUERIES_ABOVE_1M
    with PeakRSS() as build:
        sklearn_nn = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="cosine")
        sklearn_nn.fit(catalog)
    with PeakRSS() as search:
        found = sklearn_nn.kneighbors(queries[:n_sklearn], return_distance=False)
    record("scikit-learn NearestNeighbors brute", "exact", build, search, found, truth,
           n_sklearn, n_queries_answered=n_sklearn)
    del sklearn_nn

    with PeakRSS() as build:
        ours = NearestNeighborRecommender(
            K, algorithm="hnsw", hnsw_m=HNSW["m"], ef_construction=HNSW["ef_construction"]
        ).fit(catalog)
    for ef_search in EF_SEARCHES:
        ours.set_params(ef_search=ef_search)
        with PeakRSS() as search:
            found = ours.predict(queries)
        record("sk_prodembed hnsw", "approximate", build, search, found, truth, n_queries,
               ef_search=ef_search)
    del ours

    if n_items <= FAISS_HNSW_MAX_ITEMS:
        with PeakRSS() as build:
            graph = faiss.IndexHNSWFlat(n_features, HNSW["m"], faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = HNSW["ef_construction"]
            graph.add(catalog)
        for ef_search in EF_SEARCHES:
            graph.hnsw.efSearch = ef_search
            with PeakRSS() as search:
                _, found = graph.search(queries, K)
            record("faiss IndexHNSWFlat", "approximate", build, search, found, truth,
                   n_queries, ef_search=ef_search)
        del graph
    return rows


def plot(rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({row["n_items"] for row in rows})
    figure, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), squeeze=False)
    for axis, n_items in zip(axes[0], sizes):
        at_size = [row for row in rows if row["n_items"] == n_items]
        for method in dict.fromkeys(row["method"] for row in at_size):
            points = [row for row in at_size if row["method"] == method]
            qps = [1000 / row["seconds_per_1000"] for row in points]
            if points[0]["kind"] == "exact euclidean":
                continue
            marker = "o-" if points[0]["kind"] == "approximate" else "s"
            axis.plot(qps, [row["recall"] for row in points], marker, label=method)
        axis.set_xscale("log")
        axis.set_xlabel("queries per second (log)")
        axis.set_ylabel("recall@10 against exact")
        axis.set_title(f"{n_items:,} items x 64, cosine, k=10")
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)


def markdown(rows, args, minutes):
    lines = [
        "## Recommender: exact and approximate top-10 search at catalog scale",
        "",
        f"Command: `{COMMAND}{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}` "
        f"({date.today().isoformat()}, {minutes:.0f} minutes). Shared, noisy 2-core VM; every "
        "method runs in the same process on the same data, one after the other. "
        f"numpy {np.__version__}, faiss-cpu {faiss.__version__}.",
        "",
        f"Data: {N_CLUSTERS:,}-component Gaussian mixture on the unit sphere in "
        f"{args.n_features} dimensions (float32), {args.n_queries:,} fresh queries from the "
        "same mixture, cosine similarity, k=10. Recall@10 against faiss IndexFlatIP (the "
        "euclidean rows: against IndexFlatL2); seconds "
        "per 1,000 queries; peak MB = largest resident memory above the level before the call "
        "(sampled every 2 ms). HNSW: M=32, efConstruction=80, efSearch=64 in the table "
        "(the plot sweeps efSearch over 16..256).",
        "",
        "| items | method | s / 1,000 queries | recall@10 | build s | search peak MB | "
        "build peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.get("ef_search", 64) != 64:
            continue
        note = ""
        if "n_queries_answered" in row and row["n_queries_answered"] != args.n_queries:
            note = f" ({row['n_queries_answered']} queries)"
        lines.append(
            f"| {row['n_items']:,} | {row['method']}{note} | {row['seconds_per_1000']:.3f} | "
            f"{row['recall']:.3f} | {row['build_seconds']:.1f} | {row['search_mb']:.0f} | "
            f"{row['build_mb']:.0f} |"
        )
    lines += ["", "efSearch sweep (recall@10 / s per 1,000 queries):", ""]
    for n_items in sorted({row["n_items"] for row in rows}):
        for method in ("sk_prodembed hnsw", "faiss IndexHNSWFlat"):
            points = [r for r in rows if r["n_items"] == n_items and r["method"] == method]
            if points:
                sweep = ", ".join(
                    f"ef {r['ef_search']}: {r['recall']:.3f} / {r['seconds_per_1000']:.3f}"
                    for r in points
                )
                lines.append(f"- {n_items:,} items, {method}: {sweep}")
    lines += [
        "",
        f"Plot: `benchmarks/{PLOT.name}`. Above 1M items scikit-learn answers "
        f"{SKLEARN_QUERIES_ABOVE_1M} queries only (its time is still per 1,000) and faiss's own "
        "HNSW is not built a second time (sk_prodembed's hnsw is that same faiss graph).",
    ]
    return "\n".join(lines)


def write_results(section):
    path = HERE / "RESULTS.md"
    start, end = "<!-- bench_recommender:start -->", "<!-- bench_recommender:end -->"
    text = path.read_text()
    block = f"{start}\n{section}\n{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--n-queries", type=int, default=2000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = []
    for n_items in args.sizes:
        rows += run_size(n_items, args.n_queries, args.n_features, np.random.default_rng(0))
    plot(rows)
    section = markdown(rows, args, (time.perf_counter() - t0) / 60)
    print(section)
    (HERE / "bench_recommender.json").write_text(json.dumps(rows, indent=1))
    if not args.no_record:
        write_results(section)


if __name__ == "__main__":
    main()
