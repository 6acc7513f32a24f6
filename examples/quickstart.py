"""Quickstart: recommend similar products from their names.

One scikit-learn Pipeline goes from raw product text to recommendations:

    product names -> TfidfVectorizer -> MaskedAutoencoderEmbedder -> NearestNeighborRecommender

The masked autoencoder needs no labels: it learns a 32-dimensional embedding
of each product name by hiding half of its words and reconstructing them. The
recommender stores the embedded catalog and returns its nearest items. The
embedder never sees the category labels: the recommender keeps them only to
measure how often the recommended products share the query's category
(precision@10).

The script uses 4,000 products of the bundled Flipkart catalog so that it runs
in a few seconds. Run it with::

    python examples/quickstart.py
"""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sk_prodembed import MaskedAutoencoderEmbedder, NearestNeighborRecommender
from sk_prodembed.datasets import load_flipkart_products

# %%
# The catalog
# -----------
# ``min_class_size=5`` keeps the products with a two-level category (such as
# "Clothing > Women's Clothing"), each product name once. We keep a stratified
# sample of 4,000 of them as our shop's catalog, and hold out 500 more as
# products listed after the model was trained.
products = load_flipkart_products(depth=2, min_class_size=5)
names, categories = products.data, products.target
catalog_names, rest_names, catalog_categories, rest_categories = train_test_split(
    names, categories, train_size=4000, stratify=categories, random_state=0
)
new_names, new_categories = rest_names[:500], rest_categories[:500]
print(f"Catalog: {len(catalog_names)} products in {len(set(catalog_categories))} categories")

# %%
# The pipeline
# ------------
# float32 TF-IDF keeps the embedder in float32, which halves its memory and
# time. ``item_ids`` makes the recommender return product names instead of
# row numbers; it is a fit parameter of the last step, routed by the Pipeline.
pipe = make_pipeline(
    TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32),
    MaskedAutoencoderEmbedder(n_components=32, random_state=0),
    NearestNeighborRecommender(n_recommendations=10),
)
pipe.fit(
    catalog_names,
    catalog_categories,
    nearestneighborrecommender__item_ids=catalog_names,
)
embedder = pipe.named_steps["maskedautoencoderembedder"]
print(
    f"Trained the embedder for {embedder.n_iter_} epochs on "
    f"{embedder.n_features_in_} TF-IDF features (loss {embedder.loss_!r})"
)

# %%
# Recommendations from raw text
# -----------------------------
# ``pipe.predict`` takes any text, including names the model has never seen.
queries = ["Slim Fit Women's Blue Jeans", "Stainless Steel 1000 ml Water Bottle"]
for query, recommended in zip(queries, pipe.predict(queries)):
    print(f"\n{query!r} ->")
    for name in recommended[:3]:
        print(f"    {name}")

# ``recommend`` also returns the cosine similarity of each recommendation. A
# Pipeline only forwards ``predict``, so we embed the new products with every
# step but the last and ask the recommender directly.
recommender = pipe[-1]
new_products = new_names[[2, 4]]
item_names, similarities = recommender.recommend(pipe[:-1].transform(new_products), 3)
for query, row_names, row_similarities in zip(new_products, item_names, similarities):
    print(f"\nNew product {query!r} ->")
    for name, similarity in zip(row_names, row_similarities):
        print(f"    {similarity:.3f}  {name}")

# %%
# How good are the recommendations?
# ---------------------------------
# ``score`` is the label precision@10: for each query, the share of its 10
# recommended catalog products that have the query's category. Scoring the
# catalog against itself excludes each product from its own list.
print("\nPrecision@10 (share of recommendations in the query's category)")
print(f"    new products as queries:     {pipe.score(new_names, new_categories):.3f}")
print(f"    catalog products as queries: {pipe.score(catalog_names, catalog_categories):.3f}")
