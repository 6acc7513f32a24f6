"""Types to trust when loading a saved model with skops."""

# Every type a fitted estimator of this package holds, besides numpy arrays and
# builtins, which skops trusts by default. They are plain containers: loading
# them builds the object from its saved attributes and runs none of its code,
# with one exception: HNSWIndex (algorithm="hnsw") rebuilds its faiss graph by
# handing a saved byte array to faiss.deserialize_index, a C++ reader that is
# not hardened against crafted input. Load HNSW recommenders from sources you
# trust, or save them with algorithm="brute" and refit the index after loading.
SKOPS_TRUSTED_TYPES = [
    "sk_prodembed._autoencoder.MaskedAutoencoderEmbedder",
    "sk_prodembed._triplet.TripletEmbedder",
    "sk_prodembed._recommender.NearestNeighborRecommender",
    "sk_prodembed._search._hnsw.HNSWIndex",
    "sk_prodembed._search._tree.TreeIndex",
    "sk_prodembed._network.MLP",
    "sk_prodembed._optimizers.Adam",
    "sk_prodembed._optimizers.SGD",
    "sk_prodembed._engine.TrainingHistory",
    # The catalog of a recommender fitted on sparse rows (TF-IDF, or the command
    # line's words beside the embedding). skops rebuilds it with
    # scipy.sparse.load_npz, which reads arrays without pickle.
    "scipy.sparse._csr.csr_matrix",
]
