"""Fit a catalog larger than memory: stream chunks from disk through partial_fit.

When a catalog does not fit in memory, read it in chunks and train the
embedders with ``partial_fit``, which runs one epoch over the chunk it is
given and keeps the weights and the optimizer's state between calls. Only one
chunk (and the model) is in memory at any time.

This example:

1. writes a synthetic catalog (``make_product_catalog``) to a CSV file in a
   temporary directory, chunk by chunk, standing in for a large product dump;
2. reads it back with ``pandas.read_csv(..., chunksize=...)`` for a few
   passes, vectorises each chunk with a stateless HashingVectorizer and feeds
   it to ``MaskedAutoencoderEmbedder.partial_fit`` (no labels) and
   ``TripletEmbedder.partial_fit`` (with the category labels);
3. embeds held-out products and reports their precision@10.

The catalog is small enough to run in about ten seconds, but nothing in the
loop depends on its size. Run it with::

    python examples/out_of_core.py
"""

import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import HashingVectorizer

from sk_prodembed import MaskedAutoencoderEmbedder, NearestNeighborRecommender, TripletEmbedder
from sk_prodembed.datasets import make_product_catalog

N_PRODUCTS = 20_000  # streamed from disk
N_NEW_PRODUCTS = 3_000  # held out for evaluation
CHUNK_SIZE = 5_000
N_PASSES = 3

# %%
# Vectorising chunk by chunk
# --------------------------
# A TfidfVectorizer would learn its vocabulary (and IDF weights) from the data
# it is fitted on: fitted on the first chunk it would silently drop every word
# that first appears in a later chunk, and refitting it per chunk would change
# the meaning of the columns under the model. HashingVectorizer is stateless:
# a word always lands in the same column, in every chunk and every process.
# ``alternate_sign=False`` keeps the features non-negative, so that
# colliding words add up instead of cancelling, and so that the autoencoder
# can use its multinomial loss (``loss="auto"`` picks it for sparse
# non-negative input). 2**14 columns leave few collisions for a few thousand
# distinct words; real catalogs with larger vocabularies use more.
vectorizer = HashingVectorizer(n_features=2**14, alternate_sign=False, dtype=np.float32)

# Streaming shows each row only a few times; the autoencoder's default step
# (learning_rate_init=1e-2) reaches a good embedding within three passes here.
autoencoder = MaskedAutoencoderEmbedder(n_components=32, random_state=0)
triplet = TripletEmbedder(n_components=32, random_state=0)

with tempfile.TemporaryDirectory() as data_dir:
    # %%
    # 1. A catalog on disk
    # --------------------
    # In real life the file already exists. Here we generate one catalog (so
    # that every chunk shares the same made-up vocabulary) and append it to
    # the CSV file one chunk at a time.
    texts, categories = make_product_catalog(
        N_PRODUCTS + N_NEW_PRODUCTS,
        n_categories=20,
        vocabulary_size=3000,
        words_per_product=8,
        noise=0.5,
        random_state=0,
    )
    catalog_file = Path(data_dir) / "catalog.csv"
    for start in range(0, N_PRODUCTS, CHUNK_SIZE):
        chunk = pd.DataFrame(
            {
                "title": texts[start : start + CHUNK_SIZE],
                "category": categories[start : start + CHUNK_SIZE],
            }
        )
        chunk.to_csv(catalog_file, mode="a", header=start == 0, index=False)
    new_titles, new_categories = texts[N_PRODUCTS:], categories[N_PRODUCTS:]
    del texts, categories  # from here on, the catalog lives only on disk
    print(
        f"Wrote {N_PRODUCTS} products to {catalog_file.name} "
        f"({catalog_file.stat().st_size / 1e6:.1f} MB); {N_NEW_PRODUCTS} more held out"
    )

    # %%
    # 2. Stream the file through partial_fit
    # --------------------------------------
    # Each pass reads the file once and updates both models with every chunk.
    # The first partial_fit call initialises a model from its chunk; the
    # triplet model needs at least two categories in that first chunk.
    X_new = vectorizer.transform(new_titles)

    def new_product_precision(model):
        """Precision@10 among the held-out products, each excluded from its own list."""
        embedding = model.transform(X_new)
        recommender = NearestNeighborRecommender(n_recommendations=10)
        return recommender.fit(embedding, new_categories).score(embedding)

    print(f"\n{'pass':>4} {'rows streamed':>14} {'seconds':>8}   test precision@10 so far")
    rows_streamed, largest_chunk_bytes = 0, 0
    start_time = time.perf_counter()
    for pass_number in range(1, N_PASSES + 1):
        for chunk in pd.read_csv(catalog_file, chunksize=CHUNK_SIZE):
            X_chunk = vectorizer.transform(chunk["title"])
            autoencoder.partial_fit(X_chunk)
            triplet.partial_fit(X_chunk, chunk["category"].to_numpy())
            rows_streamed += len(chunk)
            chunk_bytes = X_chunk.data.nbytes + X_chunk.indices.nbytes + X_chunk.indptr.nbytes
            largest_chunk_bytes = max(largest_chunk_bytes, chunk_bytes)
        print(
            f"{pass_number:>4} {rows_streamed:>14} {time.perf_counter() - start_time:>8.1f}"
            f"   autoencoder {new_product_precision(autoencoder):.3f},"
            f" triplet {new_product_precision(triplet):.3f}"
        )

# %%
# 3. Results
# ----------
raw = NearestNeighborRecommender(n_recommendations=10).fit(X_new, new_categories)
print("\nTest precision@10 on the held-out products:")
print(f"    hashed words, no training:        {raw.score(X_new):.3f}")
print(f"    MaskedAutoencoderEmbedder (32-d): {new_product_precision(autoencoder):.3f}")
print(f"    TripletEmbedder (32-d):           {new_product_precision(triplet):.3f}")

# What had to fit in memory, against what the whole catalog would need.
n_features = X_new.shape[1]
print("\nMemory:")
print(f"    chunk size: {CHUNK_SIZE} rows; rows streamed: {rows_streamed} ({N_PASSES} passes)")
print(f"    largest sparse chunk in memory: {largest_chunk_bytes / 1e6:.1f} MB")
print(
    f"    the catalog as one dense float32 matrix would take "
    f"{N_PRODUCTS * n_features * 4 / 1e9:.1f} GB ({N_PRODUCTS} x {n_features})"
)
print(
    f"    fitted models, pickled: autoencoder {len(pickle.dumps(autoencoder)) / 1e6:.1f} MB, "
    f"triplet {len(pickle.dumps(triplet)) / 1e6:.1f} MB (weights, no training data)"
)
print(f"    the embeddings: {32 * 4} bytes per product")
