"""Types to trust when loading a saved model with skops."""

# Every type a fitted estimator of this package holds, besides numpy arrays and
# builtins, which skops trusts by default. They are plain containers: loading
# them builds the object from its saved attributes and runs none of its code.
SKOPS_TRUSTED_TYPES = [
    "sk_prodembed._autoencoder.MaskedAutoencoderEmbedder",
    "sk_prodembed._triplet.TripletEmbedder",
    "sk_prodembed._recommender.NearestNeighborRecommender",
    "sk_prodembed._network.MLP",
    "sk_prodembed._optimizers.Adam",
    "sk_prodembed._optimizers.SGD",
    "sk_prodembed._engine.TrainingHistory",
]
