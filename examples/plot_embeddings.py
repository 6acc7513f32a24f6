"""Plot the training curves of both embedders and a 2-D map of their embeddings.

Trains a MaskedAutoencoderEmbedder (no labels) and a TripletEmbedder (with
category labels) on product names from the bundled Flipkart catalog, both with
early stopping, and draws one PNG figure:

- top row: each model's training loss per epoch (``loss_curve_``) and its
  score on the held-out validation rows (``validation_scores_``), with the
  epoch whose weights early stopping kept;
- bottom row: the products of 8 categories embedded by each model, projected
  to 2-D by PCA and coloured by category.

Run it with::

    python examples/plot_embeddings.py [--output embeddings.png]

The figure goes to ``--output``, by default ``sk_prodembed_embeddings.png``
in the system's temporary directory. It takes about ten seconds.
"""

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # draw to a file; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder  # noqa: E402
from sk_prodembed.datasets import load_flipkart_products  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--output",
    type=Path,
    default=Path(tempfile.gettempdir()) / "sk_prodembed_embeddings.png",
    help="where to save the PNG figure (default: %(default)s)",
)
args = parser.parse_args()

# %%
# Data: up to 300 products from each of the 8 largest categories, so that
# every colour of the map is visible.
products = load_flipkart_products(depth=2, min_class_size=5)
names, categories = products.data, products.target
labels, counts = np.unique(categories, return_counts=True)
top_categories = labels[np.argsort(-counts)[:8]]
rng = np.random.RandomState(0)
rows = np.concatenate(
    [
        rng.permutation(np.flatnonzero(categories == category))[:300]
        for category in top_categories
    ]
)
names, categories = names[rows], categories[rows]
X = TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32).fit_transform(names)
print(f"{X.shape[0]} products in {len(top_categories)} categories, {X.shape[1]} features")

# %%
# Two embedders with early stopping: 10% of the rows are held out, scored
# after every epoch, and the weights of the best epoch are restored.
# The autoencoder learns more slowly per epoch: on this small catalog, smaller
# batches (more steps per epoch) let it converge, and stop early, within a few
# seconds.
common = dict(n_components=32, early_stopping=True, n_iter_no_change=5, random_state=0)
autoencoder = MaskedAutoencoderEmbedder(batch_size=128, **common)
models = {
    "MaskedAutoencoderEmbedder": autoencoder.fit(X),
    "TripletEmbedder": TripletEmbedder(**common).fit(X, categories),
}
score_names = {
    "MaskedAutoencoderEmbedder": "validation score\n(minus reconstruction loss)",
    "TripletEmbedder": "validation precision@10",
}
for name, model in models.items():
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    print(
        f"{name}: {model.n_iter_} epochs, best validation score "
        f"{model.best_validation_score_:.3f} at epoch {best_epoch}"
    )

# %%
# The figure
# ----------
fig, axes = plt.subplots(2, 2, figsize=(12, 10))
colors = plt.get_cmap("tab10")

for column, (name, model) in enumerate(models.items()):
    # Training loss (left axis) and validation score (right axis) per epoch.
    ax = axes[0, column]
    epochs = np.arange(1, model.n_iter_ + 1)
    ax.plot(epochs, model.loss_curve_, "o-", color="tab:blue", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="tab:blue")
    ax.set_title(name)
    score_ax = ax.twinx()
    score_ax.plot(
        epochs, model.validation_scores_, "s-", color="tab:orange", label="validation score"
    )
    score_ax.set_ylabel(score_names[name], color="tab:orange")
    best_epoch = int(np.argmax(model.validation_scores_)) + 1
    ax.axvline(best_epoch, color="grey", linestyle=":", label="kept (best) epoch")
    handles = ax.get_legend_handles_labels()[0] + score_ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="center right")

    # The embedding of every product, projected to its two main directions.
    ax = axes[1, column]
    embedding_2d = PCA(n_components=2, random_state=0).fit_transform(model.transform(X))
    for index, category in enumerate(top_categories):
        mask = categories == category
        ax.scatter(*embedding_2d[mask].T, s=6, alpha=0.6, color=colors(index), label=category)
    ax.set_title(f"{name}: embeddings, PCA to 2-D")
    ax.set_xticks([])
    ax.set_yticks([])

# One legend of the categories for both maps, below them.
fig.legend(
    *axes[1, 0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9, markerscale=3
)
fig.tight_layout(rect=(0, 0.07, 1, 1))
args.output.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(args.output, dpi=80)
print(f"Saved figure to {args.output}")
