"""The pair protocol of ../shared/data/README.md (cold-start recommendation from pairs).

1. Items and pairs: Instacart, every product of instacart_orders (sorted by
   product_id), pairs bought together in at least 3 orders with NPMI >= 0.25
   (sk_prodembed.pairs.pairs_from_baskets); WDC, one category at a time
   (offers in file order), every two offers of the same product_cluster.
2. Split: 30% of the items that have a pair are test items
   (sk_prodembed.pairs.train_test_split_pairs, random_state=0, which is
   ``np.random.RandomState(0).choice(items_with_a_pair, round(0.3 * n))``);
   training pairs touch no test item.
3. Features: TF-IDF fitted on all item texts; embedders are fitted on all
   rows with the training pairs only.
4. Score: recall@10 of each test item's partners among all other items by
   cosine similarity, over min(10, number of partners).
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _protocol import DATA_DIR  # noqa: E402

from sk_prodembed._pair_metrics import pair_ranking_score  # noqa: E402
from sk_prodembed.pairs import pairs_from_baskets, train_test_split_pairs  # noqa: E402

WDC_CATEGORIES = ("computers", "cameras", "watches", "shoes")
DATASETS = ("instacart", *(f"wdc_{category}" for category in WDC_CATEGORIES))


@dataclass
class PairDataset:
    name: str
    texts: np.ndarray
    pairs: np.ndarray  # all pairs, row indices
    labels: np.ndarray  # category labels of every row, or None
    train_pairs: np.ndarray
    train_weights: np.ndarray  # e.g. co-purchase counts; ones for WDC
    test_rows: np.ndarray
    test_pairs: np.ndarray
    X: sp.csr_matrix

    def describe(self):
        return (
            f"{self.name}: {len(self.texts):,} items, {len(self.pairs):,} pairs, "
            f"{len(self.test_rows):,} test items, {len(self.train_pairs):,} training pairs, "
            f"{self.X.shape[1]:,} TF-IDF features"
        )


def _instacart():
    orders = pd.read_csv(DATA_DIR / "instacart_orders.csv.gz")
    products = pd.read_csv(DATA_DIR / "instacart_products.csv.gz").set_index("product_id")
    items = np.unique(orders["product_id"].to_numpy())
    result = pairs_from_baskets(
        orders["order_id"].to_numpy(),
        orders["product_id"].to_numpy(),
        min_count=3,
        min_npmi=0.25,
        item_index=items,
    )
    texts = products.loc[items, "product_name"].to_numpy()
    labels = products.loc[items, "aisle"].to_numpy()
    return texts, result.pairs, labels, result.counts.astype(np.float64)


def _wdc(category):
    offers = pd.read_csv(DATA_DIR / "wdc_offers.csv.gz")
    offers = offers[offers["category"] == category].reset_index(drop=True)
    clusters = offers["product_cluster"].to_numpy()
    pairs = []
    for members in pd.Series(np.arange(len(offers))).groupby(clusters).agg(list):
        members = np.asarray(members)
        first, second = np.triu_indices(len(members), k=1)
        pairs.append(np.column_stack([members[first], members[second]]))
    pairs = np.concatenate(pairs)
    pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return offers["title"].to_numpy(), pairs, None, np.ones(len(pairs))


def load_pair_dataset(name):
    """Steps 1 to 3 of the protocol for one dataset."""
    if name == "instacart":
        texts, pairs, labels, weights = _instacart()
    elif name.startswith("wdc_") and name[4:] in WDC_CATEGORIES:
        texts, pairs, labels, weights = _wdc(name[4:])
    else:
        raise ValueError(f"unknown pair dataset {name!r}; one of {DATASETS}")
    train_pairs, test_pairs, test_rows = train_test_split_pairs(
        pairs, test_size=0.3, random_state=0
    )
    touches_test = np.isin(pairs, test_rows).any(axis=1)
    tfidf = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2), dtype=np.float32)
    X = tfidf.fit_transform(texts)
    return PairDataset(
        name=name,
        texts=texts,
        pairs=pairs,
        labels=labels,
        train_pairs=train_pairs,
        train_weights=weights[~touches_test],
        test_rows=test_rows,
        test_pairs=test_pairs,
        X=X,
    )


def held_out_recall(dataset, Z, k=10):
    """Step 4: recall@10 of the test items' partners, ranked among all items."""
    return pair_ranking_score(
        Z, dataset.test_pairs, metric="recall", k=k, queries=dataset.test_rows
    )


def side_by_side(X, Z):
    """TF-IDF and an embedding as the columns of one matrix, each row part of
    unit length (the output of a FeatureUnion of the two): its cosine
    similarity is the mean of the two cosine similarities."""
    return sp.hstack([normalize(X), sp.csr_matrix(normalize(np.asarray(Z)))], format="csr")


def torch_infonce_anchor(
    X, train_pairs, *, n_components=64, epochs=20, batch_size=256, temperature=0.05,
    learning_rate=1e-3, seed=0,
):
    """The by-hand PyTorch reference of the README: a linear encoder trained by
    symmetric InfoNCE over the training pairs, in-batch negatives (the other
    pairs' rows), no masking of known partners, Adam, ``epochs`` epochs.

    Returns the embedding of every row of X, or raises ImportError without
    torch (an optional dependency of the benchmarks only).
    """
    import torch

    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    threads = torch.get_num_threads()
    encoder = torch.nn.Linear(X.shape[1], n_components)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=learning_rate)
    X = sp.csr_matrix(X, dtype=np.float32)

    def embed(rows):
        batch = torch.from_numpy(X[rows].toarray())
        return torch.nn.functional.normalize(encoder(batch), dim=1)

    targets = torch.arange(batch_size)
    for _ in range(epochs):
        order = rng.permutation(len(train_pairs))
        for start in range(0, len(order), batch_size):
            chosen = train_pairs[order[start : start + batch_size]]
            logits = embed(chosen[:, 0]) @ embed(chosen[:, 1]).T / temperature
            labels = targets[: len(chosen)]
            loss = (
                torch.nn.functional.cross_entropy(logits, labels)
                + torch.nn.functional.cross_entropy(logits.T, labels)
            ) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        Z = np.vstack(
            [embed(np.arange(s, min(s + 4096, X.shape[0]))).numpy()
             for s in range(0, X.shape[0], 4096)]
        )
    torch.set_num_threads(threads)
    return Z
