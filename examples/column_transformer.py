"""Embed product text next to numeric attributes, with pandas output.

Product tables mix text with numbers such as price and rating. A
ColumnTransformer sends each column to its own transformer:

- ``product_name`` -> TfidfVectorizer -> MaskedAutoencoderEmbedder (8 dims)
  -> StandardScaler;
- ``price`` -> log -> StandardScaler;
- ``rating`` -> StandardScaler;

and with pandas output the result is a DataFrame whose columns say where they
come from (``text__maskedautoencoderembedder0``, ``price__price``, ...). The
combined features then feed a recommender that finds products similar in name
*and* in price and rating.

The product names come from the bundled Flipkart catalog; prices and ratings
are synthetic. The script runs in a few seconds::

    python examples/column_transformer.py
"""

import numpy as np
import pandas as pd
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sk_prodembed import MaskedAutoencoderEmbedder, NearestNeighborRecommender
from sk_prodembed.datasets import load_flipkart_products

# %%
# A product table
# ---------------
# 3,000 product names with made-up prices (log-normal, a different typical
# price per category) and ratings between 1 and 5.
products = load_flipkart_products(depth=2, min_class_size=5, as_frame=True).frame
products = products.sample(3000, random_state=0).reset_index(drop=True)
rng = np.random.RandomState(0)
typical_price = {c: rng.uniform(200, 5000) for c in products["category"].unique()}
df = pd.DataFrame(
    {
        "product_name": products["product_name"],
        "price": products["category"].map(typical_price) * rng.lognormal(0, 0.5, len(products)),
        "rating": rng.uniform(1, 5, len(products)).round(1),
    }
)
print(df.head(3).to_string(), "\n")

# %%
# The ColumnTransformer
# ---------------------
# A string column selector ("product_name") hands the text branch a 1-D
# column, as TfidfVectorizer expects; a list (["price"]) hands a 2-D frame.
features = ColumnTransformer(
    [
        (
            "text",
            make_pipeline(
                TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32),
                MaskedAutoencoderEmbedder(n_components=8, random_state=0),
                StandardScaler(),  # the embedding is unbounded: on the numbers' scale
            ),
            "product_name",
        ),
        (
            "price",
            make_pipeline(
                FunctionTransformer(np.log, feature_names_out="one-to-one"), StandardScaler()
            ),
            ["price"],
        ),
        ("rating", StandardScaler(), ["rating"]),
    ]
)

# %%
# Pandas output
# -------------
# On its own an embedder names its columns with ``set_output``:
embedder = MaskedAutoencoderEmbedder(n_components=4, random_state=0)
embedder.set_output(transform="pandas")
tfidf = TfidfVectorizer(dtype=np.float32).fit_transform(df["product_name"])
print("MaskedAutoencoderEmbedder alone:", list(embedder.fit_transform(tfidf).columns))

# ``features.set_output(transform="pandas")`` would raise a ValueError here:
# it configures every inner step, and TfidfVectorizer has no ``set_output``
# (its output is sparse, which pandas output does not support). Since the text
# branch ends with the embedder, its output is dense, and scikit-learn's
# global setting does the job: every transformer that supports pandas output
# returns a DataFrame, and the vectorizer keeps passing a sparse matrix on.
with sklearn.config_context(transform_output="pandas"):
    X = features.fit_transform(df)
    X_new = features.transform(df.head(2))

print(f"\nColumnTransformer output: {type(X).__name__} of shape {X.shape}")
print("Columns:", list(X.columns))
print(X.iloc[:3, [0, 1, -3, -2, -1]].round(3).to_string())
print(f"transform() inside the context also returns a {type(X_new).__name__}")

# %%
# Recommend from text, price and rating together
# ----------------------------------------------
# Euclidean distance on the combined columns: the 8 text dimensions and the
# two numbers, all standardised.
recommender = NearestNeighborRecommender(n_recommendations=3, metric="euclidean")
recommender.fit(X)
# Query with the catalog itself; exclude_self keeps each product off its own list.
ids, _ = recommender.recommend(X, exclude_self=True)
query = 0
print(f"\nProducts like {df.product_name[query]!r} (price {df.price[query]:.0f}):")
for item in ids[query]:
    print(f"    {df.product_name[item]}  (price {df.price[item]:.0f}, rating {df.rating[item]})")
