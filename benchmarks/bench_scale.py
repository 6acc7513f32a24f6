"""Fit and transform time and peak memory of MaskedAutoencoderEmbedder against the number of rows.

Synthetic sparse TF-IDF-like rows (Zipf-distributed word columns, L2-normalised rows), from
10,000 to 1,000,000 rows, one epoch each, in two ways:

- in memory: every chunk loaded and stacked into one CSR matrix, then ``fit`` (``max_iter=1``)
  and ``transform`` of the whole matrix;
- streaming: the chunks are ``.npz`` files in a temporary folder, read one at a time and given
  to ``partial_fit``; ``transform`` also goes chunk by chunk, each chunk's embeddings saved to
  its own ``.npy`` file. Nothing grows with the number of rows, so peak memory stays flat.

Every configuration runs in its own child process, which reports its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so the runs do not pollute each other.
Writes a table and ``benchmarks/bench_scale.png`` and records them in RESULTS.md. Run from the
repository root:

    python benchmarks/bench_scale.py            # 10k to 1M rows, about 6 minutes
    python benchmarks/bench_scale.py --quick    # 10k to 100k rows
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
COMMAND = "python benchmarks/bench_scale.py"
PLOT = HERE / "bench_scale.png"


def synthetic_sparse_rows(n_rows, n_features, nnz_per_row, random_state=0, dtype=np.float32):
    """TF-IDF-like CSR rows: ``nnz_per_row`` word columns drawn from a Zipf law, unit L2 rows.

    Duplicated columns within a row are merged, so rows hold at most ``nnz_per_row`` entries.
    """
    rng = np.random.default_rng(random_state)
    popularity = 1.0 / (np.arange(n_features) + 10.0)
    cdf = np.cumsum(popularity)
    cdf /= cdf[-1]
    n_entries = n_rows * nnz_per_row
    columns = np.minimum(np.searchsorted(cdf, rng.random(n_entries)), n_features - 1)
    values = (0.5 + rng.random(n_entries)).astype(dtype)
    indptr = np.arange(0, n_entries + 1, nnz_per_row, dtype=np.int64)
    X = sp.csr_matrix((values, columns.astype(np.int32), indptr), shape=(n_rows, n_features))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel()).astype(dtype)
    X = sp.csr_matrix(sp.diags(1 / norms) @ X, dtype=dtype)
    return X


def write_chunks(folder, n_chunks, chunk_rows, n_features, nnz_per_row):
    paths = []
    for i in range(n_chunks):
        path = Path(folder) / f"chunk_{i:04d}.npz"
        sp.save_npz(path, synthetic_sparse_rows(chunk_rows, n_features, nnz_per_row, i), False)
        paths.append(path)
    return paths


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode, paths, out_dir):
    """Run one configuration and print a JSON line of timings and memory."""
    from sk_prodembed import MaskedAutoencoderEmbedder

    warnings.simplefilter("ignore")
    model = MaskedAutoencoderEmbedder(64, max_iter=1, random_state=0)
    baseline = _peak_rss_mb()
    if mode == "memory":
        X = sp.vstack([sp.load_npz(p) for p in paths], format="csr")
        start = time.perf_counter()
        model.fit(X)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        Z = model.transform(X)
        transform_seconds = time.perf_counter() - start
        n_rows = Z.shape[0]
    else:
        start = time.perf_counter()
        for p in paths:
            model.partial_fit(sp.load_npz(p))
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        n_rows = 0
        for i, p in enumerate(paths):
            Z = model.transform(sp.load_npz(p))
            np.save(Path(out_dir) / f"embedding_{i:04d}.npy", Z)
            n_rows += Z.shape[0]
        transform_seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rows": n_rows,
                "fit_seconds": fit_seconds,
                "transform_seconds": transform_seconds,
                "peak_rss_mb": _peak_rss_mb(),
                "baseline_rss_mb": baseline,
            }
        )
    )


def run_child(mode, paths, out_dir):
    command = [sys.executable, __file__, "--child", mode, "--out", str(out_dir), *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_time, ax_memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, style in (("memory", "o-"), ("stream", "s--")):
        rows = [r for r in results if r["mode"] == mode]
        n = [r["rows"] for r in rows]
        label = "in memory (fit)" if mode == "memory" else "streaming partial_fit"
        ax_time.loglog(n, [r["fit_seconds"] for r in rows], style, label=label)
        ax_time.loglog(
            n, [r["transform_seconds"] for r in rows], style, alpha=0.5,
            label=label.split(" (")[0].replace(" partial_fit", "") + " transform",
        )
        ax_memory.semilogx(n, [r["peak_rss_mb"] for r in rows], style, label=label)
    n_all = np.array(sorted({r["rows"] for r in results}), dtype=float)
    first = min((r for r in results if r["mode"] == "stream"), key=lambda r: r["rows"])
    ax_time.loglog(
        n_all, first["fit_seconds"] * n_all / first["rows"], ":", color="grey", label="linear"
    )
    ax_time.set_xlabel("rows")
    ax_time.set_ylabel("seconds (one epoch)")
    ax_time.set_title("Fit and transform time")
    ax_time.legend(fontsize=8)
    ax_memory.set_xlabel("rows")
    ax_memory.set_ylabel("peak RSS (MB)")
    ax_memory.set_title("Peak memory of the process")
    ax_memory.set_ylim(bottom=0)
    ax_memory.legend(fontsize=8)
    fig.suptitle("MaskedAutoencoderEmbedder(64), synthetic sparse rows", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k to 100k rows only")
    parser.add_argument("--features", type=int, default=20000)
    parser.add_argument("--nnz", type=int, default=12, help="word columns drawn per row")
    parser.add_argument("--chunk-rows", type=int, default=10000)
    parser.add_argument("--child", choices=("memory", "stream"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.paths, args.out)
        return

    sizes = [10_000, 30_000, 100_000] if args.quick else [10_000, 30_000, 100_000, 300_000, 1_000_000]
    command = COMMAND + (" --quick" if args.quick else "")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        n_chunks = sizes[-1] // args.chunk_rows
        start = time.perf_counter()
        paths = write_chunks(folder, n_chunks, args.chunk_rows, args.features, args.nnz)
        disk_mb = sum(p.stat().st_size for p in paths) / 2**20
        print(f"wrote {n_chunks} chunks ({disk_mb:.0f} MB) in {time.perf_counter() - start:.0f} s")
        out_dir = Path(folder) / "embeddings"
        out_dir.mkdir()
        for n_rows in sizes:
            for mode in ("memory", "stream"):
                result = run_child(mode, paths[: n_rows // args.chunk_rows], out_dir)
                result["mode"] = mode
                results.append(result)
                print(
                    f"{mode:6s} {n_rows:>9,} rows: fit {result['fit_seconds']:7.1f} s, "
                    f"transform {result['transform_seconds']:6.1f} s, "
                    f"peak RSS {result['peak_rss_mb']:6.0f} MB",
                    flush=True,
                )
    plot(results, PLOT)

    table = [
        "| rows | mode | fit s | fit s per 100k rows | transform s | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        mode = "in memory, fit" if r["mode"] == "memory" else "streaming .npz chunks, partial_fit"
        table.append(
            f"| {r['rows']:,} | {mode} | {r['fit_seconds']:.1f} | "
            f"{r['fit_seconds'] * 1e5 / r['rows']:.2f} | {r['transform_seconds']:.1f} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    baseline = min(r["baseline_rss_mb"] for r in results)
    record_section(
        "bench_scale",
        "## Scale: time and memory against the number of rows\n\n"
        f"Command: `{command}` ({time.strftime('%Y-%m-%d')}). {machine_line()}\n"
        f"MaskedAutoencoderEmbedder(64) defaults (multinomial loss, reconstruction sampling "
        f"'auto' = 2048), one epoch (`max_iter=1`, or one `partial_fit` per chunk), on synthetic "
        f"sparse rows: {args.features:,} features, {args.nnz} Zipf-drawn words per row, chunks of "
        f"{args.chunk_rows:,} rows saved as .npz. Each configuration runs in a fresh child "
        f"process; peak RSS is the child's `ru_maxrss` (about {baseline:.0f} MB of it is the "
        "interpreter and imports). Streaming fit time includes reading the chunks from disk; "
        "streaming transform saves each chunk's embeddings to its own .npy file.\n\n"
        + "\n".join(table)
        + "\n\n![scale](bench_scale.png)",
    )


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    from _protocol import machine_line, record_section

    main()
