"""Pre-train on every product, then fine-tune with a few labels.

Shops know the text of every product but have trustworthy labels for only a
few. This example:

1. pre-trains a MaskedAutoencoderEmbedder on all products (no labels needed);
2. fine-tunes a TripletEmbedder that starts from the pre-trained encoder
   (``encoder_init=``), with only 5% of the training products labelled and
   the rest marked unlabelled (-1);
3. compares it with the same TripletEmbedder trained from scratch on the same
   labels, by the precision@10 of recommendations among held-out products.

The script uses 4,000 products of the bundled Flipkart catalog and runs in
about fifteen seconds. Run it with::

    python examples/pretrain_finetune.py
"""

import warnings

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split

from sk_prodembed import MaskedAutoencoderEmbedder, NearestNeighborRecommender, TripletEmbedder
from sk_prodembed.datasets import load_flipkart_products

# A few short product names keep no word of the vocabulary (min_df=2): their
# TF-IDF row is all zero, and the recommender warns that such queries get
# arbitrary recommendations. They are counted in the scores as they are.
warnings.filterwarnings("ignore", message=".*all-zero rows", category=UserWarning)

# %%
# Data
# ----
# Self-supervised pre-training may use the text of every product, including
# the held-out ones: that text is known when the shop lists them. Only their
# categories are kept for evaluation.
products = load_flipkart_products(depth=2, min_class_size=5)
names, _, categories, _ = train_test_split(
    products.data, products.target, train_size=4000, stratify=products.target, random_state=0
)
X = TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32).fit_transform(names)
X_train, X_test, categories_train, categories_test = train_test_split(
    X, categories, test_size=0.3, random_state=0
)

# Keep 5% of the training labels. The rest are marked -1, scikit-learn's
# convention for unlabelled rows; dtype=object lets -1 sit among string labels.
rng = np.random.RandomState(0)
is_labelled = rng.rand(len(categories_train)) < 0.05
y_few = np.asarray(categories_train, dtype=object).copy()
y_few[~is_labelled] = -1
print(
    f"{X.shape[0]} products, {X.shape[1]} TF-IDF features; training on "
    f"{X_train.shape[0]}, of which {is_labelled.sum()} labelled "
    f"({len(set(y_few[is_labelled]))} categories), the rest -1"
)


def test_precision(embedding):
    """Precision@10 among the test products, each excluded from its own list."""
    recommender = NearestNeighborRecommender(n_recommendations=10)
    return recommender.fit(embedding, categories_test).score(embedding)


# %%
# 1. Pre-train on every product
# -----------------------------
pretrained = MaskedAutoencoderEmbedder(n_components=32, random_state=0)
pretrained.fit(X)
pretrained_test_embedding = pretrained.transform(X_test)

# %%
# 2. Fine-tune, and 3. train from scratch on the same few labels
# --------------------------------------------------------------
# From scratch, the unlabelled rows add a self-supervised term (two masked
# views of a product must stay close) to the labelled rows' loss. The
# fine-tuned model leaves them out (unlabeled_weight="auto"): its pre-training
# has learned from them already, and the term would pull it away from that.
# It must have the pre-trained encoder's shape: same features, n_components,
# hidden_layer_sizes (and hidden activation, if there are hidden layers); the
# copied embedding layer takes the fine-tuned model's own activation.
triplet_params = dict(n_components=32, random_state=0)
finetuned = TripletEmbedder(encoder_init=pretrained, **triplet_params).fit(X_train, y_few)
scratch = TripletEmbedder(**triplet_params).fit(X_train, y_few)

# encoder_init is copied, never modified: the pre-trained model is unchanged.
unchanged = np.array_equal(pretrained.transform(X_test), pretrained_test_embedding)
print(f"Pre-trained model unchanged by fine-tuning: {unchanged}")

# %%
# Results
# -------
results = {
    "raw TF-IDF (no training)": test_precision(X_test),
    "MaskedAutoencoderEmbedder, no labels": test_precision(pretrained_test_embedding),
    "TripletEmbedder from scratch, 5% labels": test_precision(scratch.transform(X_test)),
    "TripletEmbedder fine-tuned, 5% labels": test_precision(finetuned.transform(X_test)),
}
print(f"\n{'model':<40} {'test precision@10':>17}")
for name, precision in results.items():
    print(f"{name:<40} {precision:>17.3f}")

gain = results["TripletEmbedder fine-tuned, 5% labels"] - results[
    "TripletEmbedder from scratch, 5% labels"
]
print(f"\nPre-training adds {gain:+.3f} precision@10 over training from scratch.")
