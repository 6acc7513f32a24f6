"""The main job: learn product embeddings on a catalog, evaluate them, recommend.

Run ``python -m sk_prodembed`` for the bundled Flipkart catalog, or
``python -m sk_prodembed --csv products.csv --text-column name --label-column category``
for your own. The job splits the labelled products (30% test, stratified), fits
TF-IDF -> MaskedAutoencoderEmbedder and TF-IDF -> TripletEmbedder on the training
rows, prints the test precision@10 of each next to raw TF-IDF and TruncatedSVD,
then prints the top recommendations for a few example products.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from . import MaskedAutoencoderEmbedder, NearestNeighborRecommender, TripletEmbedder
from .datasets import labelled_product_mask, load_flipkart_products


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m sk_prodembed",
        description="Fit product embeddings on a catalog, evaluate them and print recommendations.",
    )
    parser.add_argument("--csv", help="a CSV file of products (default: the bundled Flipkart catalog)")
    parser.add_argument("--text-column", default="product_name", help="column with the product text")
    parser.add_argument("--label-column", default="category", help="column with the product label")
    parser.add_argument("--n-components", type=int, default=64, help="embedding dimension")
    parser.add_argument("--test-size", type=float, default=0.3, help="share of products held out")
    parser.add_argument("--n-examples", type=int, default=3, help="products to recommend for")
    parser.add_argument("--n-recommendations", type=int, default=5)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress lines")
    return parser.parse_args(argv)


def _load(args):
    if args.csv is None:
        catalog = load_flipkart_products(depth=2, min_class_size=5)
        print(f"Catalog: bundled Flipkart sample (PromptCloud, CC BY-SA 4.0), "
              f"{len(catalog.data)} products, {len(catalog.target_names)} categories")
        return np.asarray(catalog.data, dtype=object), np.asarray(catalog.target, dtype=object)
    import csv

    with open(args.csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for column in (args.text_column, args.label_column):
        if rows and column not in rows[0]:
            sys.exit(f"error: column {column!r} not in {args.csv} (columns: {list(rows[0])})")
    texts = np.array([row[args.text_column] for row in rows], dtype=object)
    labels = np.array([row[args.label_column] for row in rows], dtype=object)
    keep = labelled_product_mask(texts, labels, min_class_size=5)
    print(f"Catalog: {args.csv}, {keep.sum()} labelled products in "
          f"{len(set(labels[keep]))} categories (of {len(rows)} rows)")
    return texts[keep], labels[keep]


def _models(args):
    verbose = not args.quiet
    k, seed = args.n_components, args.random_state
    return {
        "raw TF-IDF": None,
        f"TruncatedSVD({k})": TruncatedSVD(k, random_state=seed),
        f"MaskedAutoencoderEmbedder({k})": MaskedAutoencoderEmbedder(
            k, verbose=verbose, random_state=seed
        ),
        f"TripletEmbedder({k})": TripletEmbedder(k, verbose=verbose, random_state=seed),
    }


def _tfidf():
    return TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2), dtype=np.float32)


def main(argv=None):
    args = _parse_args(argv)
    texts, labels = _load(args)
    t_train, t_test, y_train, y_test = train_test_split(
        texts, labels, test_size=args.test_size, stratify=labels, random_state=args.random_state
    )
    print(f"Split: {len(t_train)} training and {len(t_test)} test products\n")

    results, pipelines = [], {}
    for name, embedder in _models(args).items():
        steps = [_tfidf()] if embedder is None else [_tfidf(), embedder]
        pipeline = make_pipeline(*steps)
        print(f"Fitting TF-IDF -> {name} ...", flush=True)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(t_train, y_train)
        seconds = time.perf_counter() - start
        # Precision@10 among the test products, each excluded from its own list.
        embedded = pipeline.transform(t_test)
        precision = NearestNeighborRecommender(10).fit(embedded, y_test).score(embedded)
        results.append((name, precision, seconds))
        pipelines[name] = pipeline

    print("\nTest precision@10 (share of the 10 nearest test products in the same category)")
    print(f"{'method':<34} {'precision@10':>12} {'fit seconds':>12}")
    for name, precision, seconds in results:
        print(f"{name:<34} {precision:>12.3f} {seconds:>12.1f}")

    best_name, _, _ = max(results, key=lambda row: row[1])
    print(f"\nRecommendations with {best_name}, catalog = all {len(texts)} products:")
    embed = pipelines[best_name]
    # One more than shown: an example product is its own nearest neighbour.
    recommender = NearestNeighborRecommender(args.n_recommendations + 1)
    recommender.fit(embed.transform(texts), labels)
    rng = np.random.RandomState(args.random_state)
    examples = rng.choice(len(texts), size=min(args.n_examples, len(texts)), replace=False)
    ids, scores = recommender.recommend(embed.transform(texts[examples]))
    for example, row_ids, row_scores in zip(examples, ids, scores):
        print(f"\n  {texts[example]}  [{labels[example]}]")
        shown = [(i, s) for i, s in zip(row_ids, row_scores) if i != example]
        for item, score in shown[: args.n_recommendations]:
            print(f"    {score:5.2f}  {texts[item]}  [{labels[item]}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
