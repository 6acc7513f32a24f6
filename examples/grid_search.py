"""Tune an embedder by the quality of its recommendations with GridSearchCV.

The whole path from product names to recommendations is one Pipeline::

    TfidfVectorizer -> TripletEmbedder -> NearestNeighborRecommender

so GridSearchCV can tune any step's parameters. In each split the training
fold is fitted and becomes the recommender's catalog; the test fold's products
are the queries, and a recommendation is relevant when it shares the query's
category. The recommender's ``score`` (precision@10) is the default score; here
we also rank the candidates by NDCG@10 with a scorer from
``sk_prodembed.metrics``, refitting the best one by precision@10.

The script tunes on 3,000 products of the bundled Flipkart catalog and runs in
about ten seconds. Run it with::

    python examples/grid_search.py
"""

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import make_pipeline

from sk_prodembed import NearestNeighborRecommender, TripletEmbedder
from sk_prodembed.datasets import load_flipkart_products
from sk_prodembed.metrics import make_recommendation_scorer

# %%
# Data: 3,000 products to tune on, 1,000 held out for the final check.
products = load_flipkart_products(depth=2, min_class_size=5)
names, _, categories, _ = train_test_split(
    products.data, products.target, train_size=4000, stratify=products.target, random_state=0
)
names_train, names_test, categories_train, categories_test = train_test_split(
    names, categories, test_size=1000, random_state=0
)

pipe = make_pipeline(
    TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32),
    TripletEmbedder(random_state=0),
    NearestNeighborRecommender(n_recommendations=10),
)

# %%
# The search
# ----------
# Parameters are addressed as ``<step name>__<parameter>``, as in any
# Pipeline. Both scorers are called as ``scorer(pipe, texts, categories)``;
# "precision@10" gives the same number as ``pipe.score``.
param_grid = {
    "tripletembedder__n_components": [16, 32],
    # loss="auto" picks the proxy loss for classes this small; compare both.
    "tripletembedder__loss": ["triplet", "proxy"],
}
scoring = {
    "precision@10": make_recommendation_scorer("precision", k=10),
    "ndcg@10": make_recommendation_scorer("ndcg", k=10),
}
# A plain KFold: recommenders are not classifiers, so GridSearchCV would not
# stratify on its own; shuffling keeps each fold's categories representative.
search = GridSearchCV(
    pipe,
    param_grid,
    scoring=scoring,
    refit="precision@10",
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(names_train, categories_train)

# %%
# Results
# -------
results = pd.DataFrame(search.cv_results_)
columns = {
    "param_tripletembedder__n_components": "n_components",
    "param_tripletembedder__loss": "loss",
    "mean_test_precision@10": "precision@10",
    "std_test_precision@10": "(std)",
    "mean_test_ndcg@10": "ndcg@10",
    "mean_fit_time": "fit seconds",
}
table = results[list(columns)].rename(columns=columns)
table = table.sort_values("precision@10", ascending=False)
print("Cross-validated scores (3 folds, test fold = queries, training fold = catalog):")
print(table.to_string(index=False, float_format="{:.3f}".format))

print(f"\nBest parameters: {search.best_params_}")
print(f"Best cross-validated precision@10: {search.best_score_:.3f}")

# %%
# The refitted best pipeline, checked on products it has never seen: its
# catalog is the 3,000 tuning products, the queries are the held-out ones.
best = search.best_estimator_
print(
    f"Held-out precision@10 of the best pipeline: "
    f"{best.score(names_test, categories_test):.3f}"
)
