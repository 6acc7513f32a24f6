"""Top-10 search restricted to candidate items (``recommend(..., candidate_items=...)``).

A shop recommends among the items in stock, of one category or sold in one country: the
candidates, the same for every query. This measures what that costs against an unfiltered
search, on the clustered catalog of bench_recommender.py (1,000,000 float32 items in 64
dimensions by default, 1,000 queries drawn from the same mixture, cosine, k=10), for random
candidate sets of several shares of the catalog:

- exact (``algorithm="brute"``): the search scores the candidates only, so its time should
  follow their number;
- HNSW (``algorithm="hnsw"``, M=32, efConstruction=80, efSearch=64): under an eighth of the
  catalog the candidates are searched exactly; above it the graph is searched for more rows
  (as many more as the share suggests) and the queries it found too few candidates for are
  answered exactly. Recall@10 is against the exact filtered search;
- each query's own candidates: every item gets one of 1,000 random categories and each query
  one of them, and the candidates of a query are its category's items (a sparse
  (n_queries, n_items) matrix, built as ``recommend_for_items(same_label=True)`` builds it):
  only those pairs are scored, whatever the backend.

Seconds are per 1,000 queries, the best of three runs. Records the table in RESULTS.md. Run
from the repository root, alone on the machine:

    flock /tmp/sk_bench.lock python benchmarks/bench_candidates.py   # ~3 minutes
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _protocol import machine_line, record_section  # noqa: E402
from bench_recommender import HNSW, N_CLUSTERS, clustered_on_sphere  # noqa: E402

from sk_prodembed import NearestNeighborRecommender  # noqa: E402
from sk_prodembed._search._filters import same_label  # noqa: E402

COMMAND = "flock /tmp/sk_bench.lock python benchmarks/bench_candidates.py"
SHARES = (0.5, 0.125, 0.1, 0.01, 0.001)
N_QUERIES = 1000
REPEATS = 3


def best_seconds(function):
    best, result = np.inf, None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def recall(found, exact):
    return float(np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(found, exact)]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    directions = rng.standard_normal((N_CLUSTERS, 64), dtype=np.float32)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    catalog = clustered_on_sphere(args.items, 64, rng, directions)
    queries = clustered_on_sphere(N_QUERIES, 64, rng, directions)
    masks = {share: rng.random(args.items) < share for share in SHARES}

    exact = NearestNeighborRecommender(10).fit(catalog)
    hnsw = NearestNeighborRecommender(10, algorithm="hnsw", hnsw_m=HNSW["m"],
                                      ef_construction=HNSW["ef_construction"]).fit(catalog)
    scale = 1000 / N_QUERIES
    rows = []
    for share in (1.0, *SHARES):
        mask = masks.get(share)
        exact_seconds, exact_ids = best_seconds(
            lambda: exact.predict(queries, candidate_items=mask)
        )
        hnsw_seconds, hnsw_ids = best_seconds(lambda: hnsw.predict(queries, candidate_items=mask))
        if mask is not None:
            assert mask[exact_ids].all() and mask[hnsw_ids].all()
        rows.append((share, exact_seconds * scale, hnsw_seconds * scale, recall(hnsw_ids, exact_ids)))
        print(f"candidates {share:.1%}: exact {rows[-1][1]:.3f} s, hnsw {rows[-1][2]:.3f} s "
              f"(recall {rows[-1][3]:.3f})", flush=True)

    item_category = rng.integers(1000, size=args.items)
    query_category = rng.integers(1000, size=N_QUERIES)
    # The matrix recommend_for_items(same_label=True) builds for catalog items.
    own = same_label(query_category, item_category)
    own_seconds, own_ids = best_seconds(lambda: exact.predict(queries, candidate_items=own))
    assert (item_category[own_ids] == query_category[:, None]).all()
    print(f"own category ({own.nnz:,} pairs): {own_seconds * scale:.3f} s", flush=True)

    lines = [
        "## Recommending among candidate items (bench_candidates)",
        "",
        f"Command: `{COMMAND}` ({date.today().isoformat()}). {machine_line().rstrip('.')}. "
        f"{args.items:,} clustered float32 items in 64 dimensions (bench_recommender's "
        f"mixture), {N_QUERIES:,} queries, cosine, k=10; random candidate sets; seconds per "
        "1,000 queries, best of three; HNSW recall@10 against the exact filtered search. "
        "Every recommended item was a candidate.",
        "",
        "| candidates | exact s | HNSW s | HNSW recall@10 |",
        "|---|---|---|---|",
    ]
    for share, exact_s, hnsw_s, hnsw_recall in rows:
        label = "all (no filter)" if share == 1.0 else f"{share:.1%} ({round(share * args.items):,})"
        lines.append(f"| {label} | {exact_s:.3f} | {hnsw_s:.3f} | {hnsw_recall:.3f} |")
    lines += [
        "",
        f"Each query's own candidates (its category's items, 1,000 random categories; "
        f"{own.nnz:,} (query, item) pairs for {N_QUERIES:,} queries, a sparse matrix): "
        f"{own_seconds * scale:.3f} s per 1,000 queries (any backend: only those pairs are "
        "scored); every recommended item was in its query's category.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_record:
        record_section("bench_candidates", markdown)


if __name__ == "__main__":
    main()
