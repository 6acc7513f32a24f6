"""scikit-learn's estimator checks over every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder


def _estimators():
    # Small widths and few epochs keep the checks fast; the checks are about the
    # API contract, not about the quality of the embedding. No variant has
    # early_stopping=True: partial_fit then raises (as scikit-learn's MLP
    # does), and the checks call partial_fit; early stopping is tested in
    # test_autoencoder.py, test_triplet.py and test_engine.py.
    return [
        MaskedAutoencoderEmbedder(n_components=2, max_iter=5, random_state=0),
        MaskedAutoencoderEmbedder(
            n_components=2,
            hidden_layer_sizes=(4,),
            corruption="marginal",
            loss="mse",
            max_iter=5,
            random_state=0,
        ),
        TripletEmbedder(n_components=2, max_iter=5, random_state=0),
        TripletEmbedder(
            n_components=2,
            hidden_layer_sizes=(4,),
            metric="euclidean",
            miner="semi_hard",
            max_iter=5,
            random_state=0,
        ),
    ]


@parametrize_with_checks(_estimators())
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
