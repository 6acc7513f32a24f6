"""Default fits on features at other scales than TF-IDF's unit rows.

The defaults were measured on l2-normalised TF-IDF. Shops also feed counts, TF-IDF without
normalisation, standardised dense features, or numbers in other units; since 3d3a7e5 each
encoder multiplies its input by a power of two (``input_scale_``) that brings the training
rows' root mean square norm near 1. This script fits both embedders with default parameters
(n_components=64, random_state=0) on 6,000-row uniform subsamples of the Flipkart and
Instacart catalogs (70/30 split, seed 0) in several representations, and prints the test
precision@10 of each (cosine, self excluded, as in ../shared/data/README.md):

- ``tfidf``: TF-IDF of words and word pairs, unit rows (``input_scale_`` 1: unchanged fits);
- ``tfidf x 1e-6`` / ``tfidf x 1e6``: the same rows times a constant;
- ``counts``: CountVectorizer counts of words and word pairs;
- ``tfidf, no norm``: TfidfVectorizer(norm=None);
- ``svd128, standardised``: StandardScaler(TruncatedSVD(128) of the TF-IDF), dense.

Run from the repository root, one benchmark at a time (``--record`` writes RESULTS.md):

    python benchmarks/bench_input_scale.py --record
    python benchmarks/bench_input_scale.py --label before   # at an older commit, to compare
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import load_catalog, machine_line, precision_at_10, record_section  # noqa: E402

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder  # noqa: E402

N_ROWS = 6000


def representations(train_texts, test_texts):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.preprocessing import StandardScaler

    words = dict(min_df=2, ngram_range=(1, 2), dtype=np.float32)
    tfidf = TfidfVectorizer(sublinear_tf=True, **words).fit(train_texts)
    A, B = tfidf.transform(train_texts), tfidf.transform(test_texts)
    yield "tfidf", A, B
    yield "tfidf x 1e-6", A * np.float32(1e-6), B * np.float32(1e-6)
    yield "tfidf x 1e6", A * np.float32(1e6), B * np.float32(1e6)
    counts = CountVectorizer(**words).fit(train_texts)
    yield "counts", counts.transform(train_texts), counts.transform(test_texts)
    raw = TfidfVectorizer(sublinear_tf=True, norm=None, **words).fit(train_texts)
    yield "tfidf, no norm", raw.transform(train_texts), raw.transform(test_texts)
    svd = TruncatedSVD(128, random_state=0).fit(A)
    scaler = StandardScaler().fit(svd.transform(A))
    yield (
        "svd128, standardised",
        scaler.transform(svd.transform(A)).astype(np.float32),
        scaler.transform(svd.transform(B)).astype(np.float32),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="now", help="column label of this run")
    parser.add_argument("--record", action="store_true", help="write the table to RESULTS.md")
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split

    rows = []
    for catalog in ("flipkart", "instacart"):
        texts, labels = load_catalog(catalog)
        keep = np.random.RandomState(0).choice(len(texts), min(N_ROWS, len(texts)), replace=False)
        t_train, t_test, y_train, y_test = train_test_split(
            texts[keep], labels[keep], test_size=0.3, random_state=0
        )
        for name, X_train, X_test in representations(t_train, t_test):
            scores = []
            for Model in (MaskedAutoencoderEmbedder, TripletEmbedder):
                model = Model(64, random_state=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # measured as they are
                    model.fit(X_train, y_train) if Model is TripletEmbedder else model.fit(X_train)
                scores.append(precision_at_10(model.transform(X_test), y_test))
            scale = getattr(model, "input_scale_", None)
            rows.append((catalog, name, scale, *scores))
            print(f"{catalog:10s} {name:22s} input_scale_={scale} MAE {scores[0]:.3f} "
                  f"Triplet {scores[1]:.3f}", flush=True)
    if args.record:
        lines = [
            f"Run ({args.label}): `python benchmarks/bench_input_scale.py --record`; "
            + machine_line(),
            "",
            "| catalog | features | input_scale_ | MAE p@10 | Triplet p@10 |",
            "|---|---|---|---|---|",
        ]
        for catalog, name, scale, mae, triplet in rows:
            shown = "–" if scale is None else f"{scale:g}"
            lines.append(f"| {catalog} | {name} | {shown} | {mae:.3f} | {triplet:.3f} |")
        record_section(f"bench_input_scale_{args.label}", "\n".join(lines))


if __name__ == "__main__":
    main()
