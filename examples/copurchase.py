"""Recommend for a product nobody has bought yet, from what was bought together.

Orders tell which products go together (pasta with pasta sauce), which their
titles alone rarely say. This example:

1. turns orders into weighted pairs of products bought together
   (``pairs_from_baskets``: at least 3 orders together, NPMI >= 0.25);
2. pre-trains a MaskedAutoencoderEmbedder on the titles of every product;
3. fine-tunes a TripletEmbedder from it with the pairs (``pairs=``,
   ``pair_weight=`` the co-purchase counts);
4. recommends for new products, which have no orders yet: their titles are
   embedded next to what their category is bought with.

The catalog is synthetic (``make_product_catalog``): categories come in
complementary couples (category 2k is bought with 2k + 1, as pasta with
sauce), and an order draws a few popular products of both categories of a
couple. Titles say which category a product is in, never what it is bought
with. Run it with::

    python examples/copurchase.py
"""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from sk_prodembed import MaskedAutoencoderEmbedder, NearestNeighborRecommender, TripletEmbedder
from sk_prodembed.datasets import make_product_catalog
from sk_prodembed.pairs import pairs_from_baskets

# %%
# A catalog and its orders
# ------------------------
# A fifth of the products are new: they are in the catalog (their title is
# known) but in no order yet.
rng = np.random.RandomState(0)
texts, categories = make_product_catalog(1200, 12, noise=0.4, random_state=0)
is_new = rng.rand(len(texts)) < 0.2
complement = categories ^ 1  # 0 <-> 1, 2 <-> 3, ...

orders = []
for _ in range(6000):
    couple = 2 * rng.randint(6)
    basket = []
    for category in (couple, couple + 1):
        candidates = np.flatnonzero((categories == category) & ~is_new)
        # Popular products sell more: weights decreasing with the product's rank.
        popularity = 1.0 / (1 + np.arange(len(candidates))) ** 0.7
        size = rng.randint(1, 4)
        basket += list(rng.choice(candidates, size, replace=False, p=popularity / popularity.sum()))
    orders.append(basket)

copurchases = pairs_from_baskets(
    orders, min_count=3, min_npmi=0.25, item_index=np.arange(len(texts))
)
pairs, counts = copurchases.pairs, copurchases.counts
crosses = np.mean(categories[pairs[:, 0]] != categories[pairs[:, 1]])
print(
    f"{len(texts)} products ({is_new.sum()} new, in no order), {len(orders)} orders -> "
    f"{len(pairs)} pairs bought together, {crosses:.0%} of them across two categories"
)

# %%
# Pre-train on every title, fine-tune with the pairs
# --------------------------------------------------
X = TfidfVectorizer(sublinear_tf=True, dtype=np.float32).fit_transform(texts)
autoencoder = MaskedAutoencoderEmbedder(n_components=32, random_state=0).fit(X)
embedder = TripletEmbedder(n_components=32, encoder_init=autoencoder, random_state=0)
embedder.fit(X, pairs=pairs, pair_weight=counts)


# %%
# Recommend for the new products
# ------------------------------
# What goes with a new product is its complement category: the share of the
# recommendations of that category says how well each embedding knows it.
def complement_precision(embedding, k=10):
    recommender = NearestNeighborRecommender(n_recommendations=k + 1).fit(embedding)
    new_rows = np.flatnonzero(is_new)
    ids, _ = recommender.recommend(embedding[new_rows])
    # Each new product is in the catalog too: drop it from its own list.
    ids = np.array([row[row != query][:k] for row, query in zip(ids, new_rows)])
    return np.mean(categories[ids] == complement[new_rows][:, None])


for name, embedding in [
    ("TF-IDF (the titles alone)", X),
    ("MaskedAutoencoderEmbedder", autoencoder.transform(X)),
    ("TripletEmbedder fine-tuned with pairs", embedder.transform(X)),
]:
    score = complement_precision(embedding)
    print(f"{name:<40} complement precision@10 of the new products: {score:.3f}")

new_product = np.flatnonzero(is_new)[0]
recommender = NearestNeighborRecommender(n_recommendations=6).fit(embedder.transform(X))
ids, _ = recommender.recommend(embedder.transform(X[[new_product]]))
print(f"\nNew product {texts[new_product]!r} (category {categories[new_product]}), recommended:")
for item in ids[0][ids[0] != new_product][:5]:
    print(f"  {texts[item]!r:<40} category {categories[item]}")
