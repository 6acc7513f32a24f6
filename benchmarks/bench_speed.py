"""Training speed: against the machine's GEMM, against PyTorch, and with reconstruction sampling.

Four parts, all measured in the same run:

(a) numpy float32 GEMM throughput of this machine (GFLOP/s, best of square sizes).
(b) Useful training throughput of MaskedAutoencoderEmbedder and TripletEmbedder on dense
    float32 input with layer widths of 256 and more: the matrix-multiply FLOPs of the forward
    and backward passes of the networks (2 m k n per product; forward, weight gradient, and
    input gradient of every layer but the input layer of the encoder), divided by the wall
    time of a training epoch (``partial_fit``: batching, masking, loss, optimizer included),
    as a share of the GEMM figure. Target: 50%.
(c) The same models in PyTorch on the CPU (same layers, activations, loss, batch size, Adam
    with the same L2 penalty, same masking and triplet mining), if torch is installed:
    seconds per epoch side by side, on dense input and on the sparse TF-IDF of the shared
    catalogs (torch sparse CSR matmul for the input layer). Targets: sk_prodembed no slower
    on dense input, faster on sparse.
(d) Reconstruction sampling on wide sparse input: epoch time against the vocabulary size and
    against the number of stored entries per row, with and without sampling, on synthetic
    rows; and precision@10 on flipkart with a 100,000+ feature word and character n-gram
    vocabulary.

Timings are the best of a few epochs, because the machine's 2 cores may be shared with other
work; the load average at the start is printed with the results. Run from the repository root:

    python benchmarks/bench_speed.py            # about 10 minutes
    python benchmarks/bench_speed.py --quick    # fewer sizes and repeats
"""

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import (  # noqa: E402
    load_catalog,
    machine_line,
    precision_at_10,
    record_section,
    split_and_vectorize,
)
from bench_scale import synthetic_sparse_rows  # noqa: E402

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder  # noqa: E402
from sk_prodembed._sampling import class_balanced_batches  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

COMMAND = "python benchmarks/bench_speed.py"
DENSE_ROWS, DENSE_FEATURES = 8192, 1024
BATCH = 512
MASK_RATIO, MAE_LR, TRIPLET_LR, ALPHA = 0.5, 3e-3, 1e-3, 1e-4
TRIPLET_MARGIN = 0.1  # margin="auto" with the cosine metric


def best_time(function, repeats, min_seconds=0.0):
    """Fastest of ``repeats`` calls (and of as many more as fit in ``min_seconds``)."""
    times = []
    deadline = time.perf_counter() + min_seconds
    while len(times) < repeats or time.perf_counter() < deadline:
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


# -- (a) GEMM -----------------------------------------------------------------


def gemm_gflops(sizes=(1024, 2048, 4096)):
    rng = np.random.RandomState(0)
    best = 0.0
    for n in sizes:
        A, B = rng.rand(n, n).astype(np.float32), rng.rand(n, n).astype(np.float32)
        C = np.empty_like(A)
        np.matmul(A, B, out=C)
        seconds = best_time(lambda: np.matmul(A, B, out=C), 3, min_seconds=1.0)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


# -- FLOP counts ----------------------------------------------------------------


def network_flops_per_row(layer_sizes, input_gradient):
    """Matmul FLOPs per row of forward + backward through one network."""
    products = [a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    forward = 2 * sum(products)
    weight_gradients = 2 * sum(products)
    input_gradients = 2 * sum(products if input_gradient else products[1:])
    return forward + weight_gradients + input_gradients


def mae_flops_per_row(n_features, width):
    encoder = network_flops_per_row([n_features, width, width], input_gradient=False)
    decoder = network_flops_per_row([width, width, n_features], input_gradient=True)
    return encoder + decoder


def triplet_flops_per_row(n_features, width, batch_rows):
    """The encoder's forward and backward, plus the batch's distance matrix for mining."""
    network = network_flops_per_row([n_features, width, width], input_gradient=False)
    return network + 2 * batch_rows * width


# -- data -------------------------------------------------------------------------


def dense_data(n_classes=64, random_state=0):
    rng = np.random.RandomState(random_state)
    y = rng.randint(n_classes, size=DENSE_ROWS)
    centers = rng.rand(n_classes, DENSE_FEATURES)
    X = (0.5 * centers[y] + rng.rand(DENSE_ROWS, DENSE_FEATURES)).astype(np.float32)
    return X, y


# -- sk_prodembed epochs -------------------------------------------------------------


def sk_mae(width, n_features, **params):
    hidden = (width,) if width != 64 else ()
    # tanh on every layer, as the torch twin it is timed against (TorchMLP(..., "tanh")).
    return MaskedAutoencoderEmbedder(
        width, hidden_layer_sizes=hidden, activation="tanh", batch_size=BATCH,
        learning_rate_init=MAE_LR, alpha=ALPHA, mask_ratio=MASK_RATIO, random_state=0, **params,
    )


def sk_triplet(width, classes_per_batch, samples_per_class):
    hidden = (width,) if width != 64 else ()
    return TripletEmbedder(
        width, hidden_layer_sizes=hidden, classes_per_batch=classes_per_batch,
        samples_per_class=samples_per_class, learning_rate_init=TRIPLET_LR, alpha=ALPHA,
        random_state=0,
    )


def sk_epoch_seconds(model, X, y, repeats):
    """Best seconds of one ``partial_fit`` epoch, and the rows it trained on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.partial_fit(X, y)  # initialisation and warm-up
        seen = model.t_
        seconds = best_time(lambda: model.partial_fit(X, y), repeats)
    rows = model.t_ - seen
    return seconds, rows / (model.n_iter_ - 1)


def masking_seconds(X, repeats):
    """Seconds per epoch that the zero masking of the batches takes on its own."""
    from sk_prodembed._masking import corrupt

    rng = np.random.RandomState(0)
    order = rng.permutation(X.shape[0])
    batches = [X[order[start : start + BATCH]] for start in range(0, X.shape[0], BATCH)]
    return best_time(lambda: [corrupt(b, MASK_RATIO, "zero", rng) for b in batches], repeats)


def flush_seconds(model, repeats):
    """Seconds that the end-of-epoch catch-up of a fitted autoencoder's lazily updated
    weights takes (``optimizer.flush``, once per epoch; zero without lazy updates)."""
    import copy

    optimizer = copy.deepcopy(model._optimizer)
    if all(last is None for last in optimizer.last_updates):
        return 0.0
    params = [p.copy(order="K") for p in model.encoder_.params + model.decoder_.params]

    def flush():
        optimizer.t += 16  # every slice has steps to catch up on
        optimizer.flush(params)

    return best_time(flush, repeats)


# -- PyTorch reference ------------------------------------------------------------------


class TorchMLP:
    """Dense layers stored as (in, out) matrices like sk_prodembed's, tanh hidden units."""

    def __init__(self, layer_sizes, output_activation, seed):
        generator = torch.Generator().manual_seed(seed)
        self.weights, self.biases = [], []
        for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            bound = math.sqrt(6 / (fan_in + fan_out))
            W = (torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound
            self.weights.append(W.requires_grad_())
            self.biases.append(torch.zeros(fan_out, requires_grad=True))
        self.output_activation = output_activation

    def __call__(self, X):
        n = len(self.weights)
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            X = torch.addmm(b, X, W) if not X.is_sparse_csr else X @ W + b
            if i < n - 1 or self.output_activation == "tanh":
                X = torch.tanh(X)
        return X


def torch_adam(networks, lr, batch_size):
    # sk_prodembed's L2 penalty alpha / (2 n) ||W||^2 per batch of n rows is Adam's
    # (coupled) weight_decay = alpha / n on the weights only.
    weights = [W for net in networks for W in net.weights]
    biases = [b for net in networks for b in net.biases]
    return torch.optim.Adam(
        [{"params": weights, "weight_decay": ALPHA / batch_size}, {"params": biases}],
        lr=lr, betas=(0.9, 0.999), eps=1e-8,
    )


def _to_torch_batch(X_batch, mask_rng=None):
    """A batch as a torch tensor; sparse rows become sparse CSR, zero-masked if asked."""
    if sp.issparse(X_batch):
        data = X_batch.data
        if mask_rng is not None:
            data = data * (mask_rng.random_sample(data.shape[0]) >= MASK_RATIO)
        return torch.sparse_csr_tensor(
            torch.from_numpy(X_batch.indptr.astype(np.int64)),
            torch.from_numpy(X_batch.indices.astype(np.int64)),
            torch.from_numpy(data.astype(np.float32, copy=False)),
            size=X_batch.shape,
        )
    return torch.from_numpy(X_batch)


def torch_mae_epoch(encoder, decoder, optimizer, X, loss, rng):
    """One epoch of masked reconstruction in torch: zero masking of half the non-zeros."""
    dense = not sp.issparse(X)
    X_all = torch.from_numpy(X) if dense else None
    order = rng.permutation(X.shape[0])
    for start in range(0, X.shape[0], BATCH):
        rows = order[start : start + BATCH]
        if dense:
            rows = torch.from_numpy(rows)
        if dense:
            target = X_all[rows]
            corrupted = target * (torch.rand_like(target) >= MASK_RATIO)
        else:
            batch = X[rows]
            corrupted = _to_torch_batch(batch, rng)
            target = torch.from_numpy(batch.toarray())
        output = decoder(encoder(corrupted))
        if loss == "mse":
            value = 0.5 * ((output - target) ** 2).sum() / target.shape[0]
        else:
            proportions = target / target.sum(dim=1, keepdim=True).clamp_min(1e-30)
            value = -(proportions * torch.log_softmax(output, dim=1)).sum() / target.shape[0]
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()


def torch_triplet_epoch(encoder, optimizer, X, batches, rng):
    """One epoch of batch-hard cosine triplet training in torch, on the same batches."""
    dense = not sp.issparse(X)
    X_all = torch.from_numpy(X) if dense else None
    for rows, labels in batches:
        inputs = X_all[torch.from_numpy(rows)] if dense else _to_torch_batch(X[rows])
        E = torch.nn.functional.normalize(encoder(inputs), dim=1)
        with torch.no_grad():
            distances = 1 - E @ E.T
            same = labels[:, None] == labels[None, :]
            eye = torch.eye(len(rows), dtype=torch.bool)
            positive, negative = same & ~eye, ~same
            anchors = torch.nonzero(positive.any(1) & negative.any(1)).ravel()
            d = distances[anchors]
            hardest_positive = torch.where(positive[anchors], d, -math.inf).argmax(1)
            hardest_negative = torch.where(negative[anchors], d, math.inf).argmin(1)
        d_ap = 1 - (E[anchors] * E[hardest_positive]).sum(1)
        d_an = 1 - (E[anchors] * E[hardest_negative]).sum(1)
        value = torch.relu(d_ap - d_an + TRIPLET_MARGIN).mean()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()


def torch_mae_seconds(X, layer_sizes_encoder, layer_sizes_decoder, loss, repeats):
    encoder = TorchMLP(layer_sizes_encoder, "tanh", 0)
    decoder = TorchMLP(layer_sizes_decoder, "identity", 1)
    optimizer = torch_adam([encoder, decoder], MAE_LR, BATCH)
    rng = np.random.RandomState(0)

    def epoch():
        torch_mae_epoch(encoder, decoder, optimizer, X, loss, rng)

    epoch()
    return best_time(epoch, repeats)


def torch_triplet_seconds(X, y, layer_sizes, classes_per_batch, samples_per_class, repeats):
    encoder = TorchMLP(layer_sizes, "tanh", 0)
    batch_rows = classes_per_batch * samples_per_class
    optimizer = torch_adam([encoder], TRIPLET_LR, batch_rows)
    _, codes = np.unique(y, return_inverse=True)
    make_batches = class_balanced_batches(codes, classes_per_batch, samples_per_class, 256)
    rng = np.random.RandomState(0)

    def epoch():
        batches = [(rows, torch.from_numpy(codes[rows])) for rows in make_batches(rng)]
        torch_triplet_epoch(encoder, optimizer, X, batches, rng)

    epoch()
    return best_time(epoch, repeats)


# -- parts ---------------------------------------------------------------------------


def part_dense(widths, repeats, gemm, threads):
    """(b) and the dense half of (c), with ``threads`` BLAS / torch threads."""
    X, y = dense_data()
    rows = []
    for width in widths:
        model = sk_mae(width, DENSE_FEATURES, loss="mse", reconstruction_sampling=None)
        seconds, n_rows = sk_epoch_seconds(model, X, None, repeats)
        flops = mae_flops_per_row(DENSE_FEATURES, width) * n_rows
        torch_seconds = None
        if torch is not None:
            torch_seconds = torch_mae_seconds(
                X, [DENSE_FEATURES, width, width], [width, width, DENSE_FEATURES], "mse", repeats
            )
        masking = masking_seconds(X, repeats)
        rows.append(
            (threads, "MaskedAutoencoderEmbedder", width, seconds, flops, torch_seconds, masking)
        )
        _print_dense(rows[-1], gemm)
        model = sk_triplet(width, 64, 8)
        seconds, n_rows = sk_epoch_seconds(model, X, y, repeats)
        flops = triplet_flops_per_row(DENSE_FEATURES, width, 512) * n_rows
        torch_seconds = None
        if torch is not None:
            torch_seconds = torch_triplet_seconds(
                X, y, [DENSE_FEATURES, width, width], 64, 8, repeats
            )
        rows.append((threads, "TripletEmbedder", width, seconds, flops, torch_seconds, None))
        _print_dense(rows[-1], gemm)
    return rows


def _print_dense(row, gemm):
    threads, name, width, seconds, flops, torch_seconds, masking = row
    useful = flops / seconds / 1e9
    text = (
        f"  {threads} thread(s), {name} width {width}: {seconds:.3f} s/epoch, "
        f"{useful:.1f} GFLOP/s = {100 * useful / gemm:.0f}% of GEMM"
    )
    if torch_seconds:
        text += f"; torch {torch_seconds:.3f} s/epoch"
    if masking:
        text += f"; masking alone {masking:.3f} s/epoch"
    print(text, flush=True)


def part_sparse(data, repeats, threads):
    """The sparse half of (c): default models on the shared catalogs' TF-IDF."""
    rows = []
    for catalog, (X, y) in data.items():
        n_features = X.shape[1]
        variants = [("reconstruction_sampling=None", None)]
        if n_features > 8192:
            variants.append(("reconstruction_sampling='auto' (2048)", "auto"))
        torch_seconds = None
        if torch is not None:
            torch_seconds = torch_mae_seconds(
                X, [n_features, 64], [64, n_features], "multinomial", repeats
            )
        for label, sampling in variants:
            model = sk_mae(64, n_features, reconstruction_sampling=sampling)
            seconds, _ = sk_epoch_seconds(model, X, None, repeats)
            name = f"MaskedAutoencoderEmbedder(64), {label}"
            rows.append((threads, catalog, X.shape, name, seconds, torch_seconds))
            _print_sparse(rows[-1])
        model = sk_triplet(64, 32, 4)
        seconds, _ = sk_epoch_seconds(model, X, y, repeats)
        torch_seconds = None
        if torch is not None:
            torch_seconds = torch_triplet_seconds(X, y, [n_features, 64], 32, 4, repeats)
        rows.append((threads, catalog, X.shape, "TripletEmbedder(64), defaults", seconds, torch_seconds))
        _print_sparse(rows[-1])
    return rows


def _print_sparse(row):
    threads, catalog, _, name, seconds, torch_seconds = row
    text = f"  {threads} thread(s), {catalog}, {name}: {seconds:.3f} s/epoch"
    if torch_seconds:
        text += f"; torch {torch_seconds:.3f} s/epoch"
    print(text, flush=True)


def part_sampling_timing(vocabularies, entries, full_max_features, n_rows, repeats):
    """(d) epoch time against vocabulary size and stored entries, with and without sampling."""
    rows = []
    configurations = [(v, 16) for v in vocabularies] + [
        (vocabularies[-1], k) for k in entries if k != 16
    ]
    for n_features, nnz in configurations:
        X = synthetic_sparse_rows(n_rows, n_features, nnz, random_state=0)
        for sampling in (2048, None):
            if sampling is None and n_features > full_max_features:
                continue
            model = sk_mae(64, n_features, reconstruction_sampling=sampling)
            seconds, _ = sk_epoch_seconds(model, X, None, repeats)
            flush = flush_seconds(model, 3)
            rows.append((n_features, X.nnz / n_rows, sampling, seconds, flush))
            print(
                f"  {n_features:>7} features, {X.nnz / n_rows:4.1f} entries/row, sampling "
                f"{sampling}: {seconds:.2f} s/epoch, of which end-of-epoch catch-up {flush:.2f} s",
                flush=True,
            )
    return rows


def part_sampling_quality(max_iter):
    """(d) precision@10 on flipkart with a 100,000+ feature vocabulary: word 1-3-grams and
    character 2-5-grams."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_union

    texts, labels = load_catalog("flipkart")
    t_train, t_test, _, y_test = train_test_split(
        texts, labels, test_size=0.3, stratify=labels, random_state=0
    )
    vectorizer = make_union(
        TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, dtype=np.float32),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, dtype=np.float32),
    )
    X_train = vectorizer.fit_transform(t_train)
    X_test = vectorizer.transform(t_test)
    rows = [("raw TF-IDF", None, precision_at_10(X_test, y_test), 0.0)]
    for sampling in (2048, 8192, None):
        model = sk_mae(64, X_train.shape[1], reconstruction_sampling=sampling, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X_train)
            seconds = time.perf_counter() - start
        score = precision_at_10(model.transform(X_test), y_test)
        rows.append((f"MaskedAutoencoderEmbedder(64), {max_iter} epochs", sampling, score, seconds))
        print(f"  sampling {sampling}: precision@10 {score:.3f}, fit {seconds:.1f} s", flush=True)
    return X_train.shape, X_train.nnz / X_train.shape[0], rows


def _ratio(sk_seconds, torch_seconds):
    if not torch_seconds:
        return "n/a", "not installed"
    return f"{torch_seconds / sk_seconds:.2f}", f"{torch_seconds:.3f}"


def target_lines(dense, sparse, timing, quality, gemm):
    """One line per target: met or not, with the measured figures behind it."""
    lines = []
    for threads in sorted(gemm):
        rows = [r for r in dense if r[0] == threads and r[2] >= 256]
        shares = [(r[1], r[2], 100 * r[4] / r[3] / 1e9 / gemm[threads], r[6], r[3]) for r in rows]
        met = [f"{name.split('Embedder')[0]} w={w}: {share:.0f}%" for name, w, share, *_ in shares]
        verdict = "met" if all(share >= 50 for _, _, share, *_ in shares) else "not met everywhere"
        lines.append(f"- >= 50% of GEMM with {threads} thread(s): {verdict} ({', '.join(met)}).")
        masked = [
            f"w={w}: {100 * masking / seconds:.0f}%"
            for _, w, _, masking, seconds in shares
            if masking
        ]
        if masked:
            lines.append(
                f"  - Share of the masked autoencoder's epoch spent in masking the batches "
                f"(`_masking.corrupt`, single-threaded) with {threads} thread(s): "
                + ", ".join(masked) + "."
            )
        with_torch = [r for r in rows if r[5]]
        if with_torch:
            ratios = [f"{r[1].split('Embedder')[0]} w={r[2]}: {r[5] / r[3]:.2f}" for r in with_torch]
            verdict = "met" if all(r[5] >= r[3] for r in with_torch) else "not met everywhere"
            lines.append(
                f"- Dense, no slower than PyTorch with {threads} thread(s) (torch/sk >= 1): "
                f"{verdict} ({', '.join(ratios)})."
            )
        sparse_rows = [r for r in sparse if r[0] == threads and r[5]]
        if sparse_rows:
            ratios = [f"{r[1]} {r[3]}: {r[5] / r[4]:.2f}" for r in sparse_rows]
            verdict = "met" if all(r[5] > r[4] for r in sparse_rows) else "not met everywhere"
            lines.append(
                f"- Sparse, faster than PyTorch with {threads} thread(s) (torch/sk > 1): "
                f"{verdict} ({', '.join(ratios)})."
            )
    sampled = {(f, round(e)): (t, a) for f, e, smp, t, a in timing if smp == 2048}
    full = {(f, round(e)): (t, a) for f, e, smp, t, a in timing if smp is None}
    vocabularies = sorted({f for f, _ in sampled})
    small = min((k for k in sampled if k[0] == vocabularies[0]), key=lambda k: k[1])
    large = min((k for k in sampled if k[0] == vocabularies[-1] and k[1] == small[1]), default=None)
    if large is not None:
        time_ratio = sampled[large][0] / sampled[small][0]
        flush_share = sampled[large][1] / sampled[large][0]
        lines.append(
            f"- Sampled epoch time against the vocabulary: x{time_ratio:.1f} from "
            f"{small[0]:,} to {large[0]:,} features (x{large[0] / small[0]:.0f}); of the "
            f"{large[0]:,}-feature epoch (16 batches), the once-per-epoch catch-up of the "
            f"lazily updated weights takes {100 * flush_share:.0f}%, a share that shrinks "
            "as epochs have more batches."
        )
    at_top = sorted(k for k in sampled if k[0] == vocabularies[-1])
    if len(at_top) >= 2:
        (_, e0), (_, e1) = at_top[0], at_top[-1]
        t0, t1 = sampled[at_top[0]][0], sampled[at_top[-1]][0]
        lines.append(
            f"- Sampled epoch time against stored entries at {vocabularies[-1]:,} features: "
            f"x{t1 / t0:.1f} from {e0} to {e1} entries per row."
        )
    both = [k for k in sampled if k in full]
    if both:
        k = max(both)
        lines.append(
            f"- Speed-up of sampling at {k[0]:,} features, {k[1]} entries per row: "
            f"x{full[k][0] / sampled[k][0]:.1f}."
        )
    scores = {smp: score for name, smp, score, _ in quality if name != "raw TF-IDF"}
    if None in scores:
        sampled_scores = ", ".join(
            f"{smp}: {score:.3f}" for smp, score in scores.items() if smp is not None
        )
        best = max(score for smp, score in scores.items() if smp is not None)
        verdict = "met" if best >= scores[None] - 0.005 else "not met"
        lines.append(
            f"- Equal precision@10 with sampling (within 0.005 of no sampling, "
            f"{scores[None]:.3f}): {verdict} for the best sampled setting ({sampled_scores})."
        )
    return lines


def _set_threads(threads):
    if torch is not None:
        torch.set_num_threads(threads)
    return threadpool_limits(threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=sorted({1, os.cpu_count()}),
        help="BLAS and torch thread counts to measure (a)-(c) with",
    )
    args = parser.parse_args()
    quick = args.quick
    repeats = 2 if quick else 3
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}; torch {torch.__version__ if torch else 'not installed'}")

    sparse_data = {}
    for catalog in ("flipkart",) if quick else ("flipkart", "instacart"):
        texts, labels = load_catalog(catalog)
        X, _, y, _ = split_and_vectorize(texts, labels)
        sparse_data[catalog] = (X, y)

    gemm, dense, sparse = {}, [], []
    for threads in args.threads:
        with _set_threads(threads):
            gemm[threads] = gemm_gflops()
            print(f"(a) {threads} thread(s): numpy float32 GEMM {gemm[threads]:.1f} GFLOP/s")
            print("(b, c) dense")
            widths = (256, 512) if quick else (256, 512, 1024)
            dense += part_dense(widths, repeats, gemm[threads], threads)
            print("(c) sparse")
            sparse += part_sparse(sparse_data, repeats, threads)
            gemm_after = gemm_gflops((2048,))
            print(f"(a) GEMM again after (b, c): {gemm_after:.1f} GFLOP/s")
            gemm[threads] = max(gemm[threads], gemm_after)

    print("(d) reconstruction sampling, synthetic")
    vocabularies = (16384, 65536, 131072) if quick else (16384, 32768, 65536, 131072, 262144)
    timing = part_sampling_timing(
        vocabularies, (4, 16, 64) if quick else (4, 8, 16, 32, 64), 131072, 8192, repeats=2
    )
    print("(d) reconstruction sampling, flipkart word and character n-grams")
    shape, entries_per_row, quality = part_sampling_quality(5 if quick else 20)

    load_end = os.getloadavg()[0]
    threads_text = " and ".join(str(t) for t in args.threads)
    lines = [
        "## Training speed",
        "",
        f"Command: `{COMMAND}{' --quick' if quick else ''}` ({time.strftime('%Y-%m-%d')}). "
        f"{machine_line()} PyTorch {torch.__version__ if torch else 'not installed'}. "
        f"Load average {load:.2f} at the start, {load_end:.2f} at the end: the 2 cores may be "
        "shared with other work (another process on one core makes OpenBLAS's 2-thread GEMM "
        "collapse, while 1-thread figures hold), so "
        f"every time below is the best of {repeats} epochs, and parts (a)-(c) were measured "
        f"with {threads_text} BLAS (and torch) thread(s).",
        "",
        "(a) numpy float32 GEMM, best of square 1024-4096, measured before and after (b, c): "
        + ", ".join(f"**{gemm[t]:.0f} GFLOP/s with {t} thread(s)**" for t in args.threads)
        + ".",
        "",
        f"(b, c) Dense float32 input, {DENSE_ROWS} rows x {DENSE_FEATURES} features, Adam, "
        f"L2 alpha={ALPHA}. MaskedAutoencoderEmbedder: encoder {DENSE_FEATURES}-w-w, decoder "
        f"w-w-{DENSE_FEATURES}, tanh, loss='mse', zero masking of half the entries, batch "
        f"{BATCH}. TripletEmbedder: encoder {DENSE_FEATURES}-w-w, tanh, cosine, batch-hard, "
        "64 classes x 8 rows = 512 rows per batch. Useful GFLOP/s: the matmul FLOPs of the "
        "network layers (forward, weight gradients, input gradients; plus the batch's "
        "distance matrix for the triplet miner) over the wall time of whole epochs, as a "
        "share of the GEMM figure with as many threads; torch/sk > 1 means sk_prodembed is "
        "faster.",
        "",
        "| threads | model | width w | sk s/epoch | of which masking | useful GFLOP/s | % of GEMM | torch s/epoch | torch/sk |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for threads, name, width, seconds, flops, torch_seconds, masking in dense:
        useful = flops / seconds / 1e9
        ratio, torch_text = _ratio(seconds, torch_seconds)
        masking_text = "" if masking is None else f"{masking:.3f}"
        lines.append(
            f"| {threads} | {name} | {width} | {seconds:.3f} | {masking_text} | {useful:.1f} | "
            f"{100 * useful / gemm[threads]:.0f}% | {torch_text} | {ratio} |"
        )
    lines += [
        "",
        "(c) Sparse TF-IDF input (the protocol's training rows), default architectures "
        "(one layer to 64 dimensions, tanh). The masked autoencoder reconstructs with the "
        "multinomial loss; torch reconstructs every feature (as sampling=None does) and "
        "multiplies the masked batch as a sparse CSR tensor. Triplet: 32 classes x 4 rows "
        "per batch, as the defaults.",
        "",
        "| threads | catalog | rows x features | model | sk s/epoch | torch s/epoch | torch/sk |",
        "|---|---|---|---|---|---|---|",
    ]
    for threads, catalog, shape_, name, seconds, torch_seconds in sparse:
        ratio, torch_text = _ratio(seconds, torch_seconds)
        lines.append(
            f"| {threads} | {catalog} | {shape_[0]} x {shape_[1]} | {name} | {seconds:.3f} | "
            f"{torch_text} | {ratio} |"
        )
    lines += [
        "",
        "(d) Reconstruction sampling, synthetic sparse rows (8192 rows, Zipf-drawn words, "
        "MaskedAutoencoderEmbedder(64) with this script's settings (tanh, as the torch twin), "
        "default BLAS threads): seconds per "
        "epoch. With sampling, a step updates only the weights the batch touches and the "
        "others catch up once per epoch ('of which catch-up': that `optimizer.flush`, whose "
        "cost follows the vocabulary, once per epoch).",
        "",
        "| features | stored entries per row | sampling=2048 s/epoch | of which catch-up | sampling=None s/epoch |",
        "|---|---|---|---|---|",
    ]
    by_config = {}
    for n_features, entries, sampling, seconds, flush in timing:
        by_config.setdefault((n_features, entries), {})[sampling] = (seconds, flush)
    for (n_features, entries), values in by_config.items():
        sampled, sampled_flush = values[2048]
        full_text = "not run"
        if None in values:
            full_text = f"{values[None][0]:.2f}"
        lines.append(
            f"| {n_features:,} | {entries:.1f} | {sampled:.2f} | {sampled_flush:.2f} | {full_text} |"
        )
    lines += [
        "",
        "Flipkart names, TF-IDF of word 1-3-grams and character 2-5-grams side by side "
        f"(`make_union`, `analyzer='char_wb'` for the characters): {shape[0]} training "
        f"rows x {shape[1]:,} features, {entries_per_row:.0f} stored entries per row; test "
        "precision@10 of the protocol.",
        "",
        "| method | reconstruction_sampling | precision@10 | fit seconds |",
        "|---|---|---|---|",
    ]
    for name, sampling, score, seconds in quality:
        sampling_text = "" if name == "raw TF-IDF" else str(sampling)
        lines.append(f"| {name} | {sampling_text} | {score:.3f} | {seconds:.1f} |")
    lines += ["", "Targets, read off the tables above:", ""]
    lines += target_lines(dense, sparse, timing, quality, gemm)
    record_section("bench_speed", "\n".join(lines))


if __name__ == "__main__":
    main()
