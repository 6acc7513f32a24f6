import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import FunctionTransformer

from sk_prodembed import metrics
from sk_prodembed._pair_metrics import (
    make_pair_scorer,
    pair_ranking_score,
    partner_sets,
    top_k_by_cosine,
)
from sk_prodembed.pairs import RowPairs


def _embedding_and_pairs(n=40, dim=6, seed=0):
    rng = np.random.RandomState(seed)
    E = rng.randn(n, dim)
    pairs = np.array([rng.choice(n, 2, replace=False) for _ in range(70)])
    return E, pairs


@pytest.mark.parametrize("sparse", [False, True])
def test_top_k_by_cosine_matches_sorting(sparse):
    E, _ = _embedding_and_pairs()
    X = sp.csr_matrix(np.where(np.abs(E) > 0.5, E, 0)) if sparse else E
    dense = X.toarray() if sparse else X
    queries = np.array([3, 0, 17, 39])
    top = top_k_by_cosine(X, queries, 5)
    unit = dense / np.linalg.norm(dense, axis=1, keepdims=True)
    for q, row in zip(queries, top):
        similarities = unit @ unit[q]
        order = [r for r in np.argsort(-similarities, kind="stable") if r != q]
        assert row.tolist() == order[:5]


def test_top_k_breaks_ties_at_the_cut_by_the_lowest_row():
    # Row 0 is at cosine 0 from the 199 others, all tied: argpartition alone
    # would pick any four of them.
    E = np.zeros((200, 2))
    E[:, 1] = 1
    E[0] = [1, 0]
    assert top_k_by_cosine(E, np.array([0]), 5).tolist() == [[1, 2, 3, 4, 5]]
    # Ties above the cut keep their order by row too.
    E[[7, 9]] = [1, 0.5]
    assert top_k_by_cosine(E, np.array([0]), 5).tolist() == [[7, 9, 1, 2, 3]]


def test_a_repeated_query_keeps_its_partners():
    E = np.random.RandomState(0).rand(6, 3)
    assert pair_ranking_score(E, [[0, 1], [2, 3]], queries=[0, 0]) == pair_ranking_score(
        E, [[0, 1], [2, 3]], queries=[0]
    )


def test_a_cut_off_below_one_is_refused():
    E, pairs = _embedding_and_pairs()
    with pytest.raises(ValueError, match="k must be a positive int"):
        pair_ranking_score(E, pairs, k=0)


def test_partner_sets_are_undirected():
    pairs = np.array([[0, 1], [2, 0], [3, 4], [0, 1]])
    assert partner_sets(pairs, np.array([0, 4, 5])) == [{1, 2}, {3}, set()]


def _recall_by_definition(E, pairs, queries, k):
    """The pair protocol: |top k and partners| / min(k, partners), by a loop."""
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    scores = []
    for q in queries:
        partners = {b for a, b in pairs if a == q} | {a for a, b in pairs if b == q}
        similarities = unit @ unit[q]
        similarities[q] = -np.inf
        top = set(np.argsort(-similarities, kind="stable")[:k].tolist())
        scores.append(len(top & partners) / min(k, len(partners)))
    return np.mean(scores)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_recall_is_the_protocol_definition(k):
    E, pairs = _embedding_and_pairs()
    queries = np.unique(pairs)[::2]
    score = pair_ranking_score(E, pairs, metric="recall", k=k, queries=queries)
    assert score == pytest.approx(_recall_by_definition(E, pairs, queries, k))
    assert 0 < score < 1


@pytest.mark.parametrize(
    "metric, function",
    [
        ("ndcg", metrics.ndcg_at_k),
        ("hit_rate", metrics.hit_rate_at_k),
        ("precision", metrics.precision_at_k),
        ("recall_uncapped", metrics.recall_at_k),
        ("average_precision", metrics.average_precision_at_k),
    ],
)
def test_other_metrics_are_those_of_the_metrics_module(metric, function):
    E, pairs = _embedding_and_pairs()
    queries = np.unique(pairs)
    top = top_k_by_cosine(E, queries, 5)
    expected = function(partner_sets(pairs, queries), top, k=5)
    assert pair_ranking_score(E, pairs, metric=metric, k=5) == pytest.approx(expected)


def test_perfect_embedding_scores_one():
    groups = np.repeat(np.arange(5), 3)
    E = np.eye(5)[groups] + 1e-3 * np.random.RandomState(0).randn(15, 5)
    pairs = np.array(
        [(i, j) for i in range(15) for j in range(i + 1, 15) if groups[i] == groups[j]]
    )
    for metric in ("recall", "ndcg", "hit_rate", "average_precision"):
        assert pair_ranking_score(E, pairs, metric=metric, k=2) == pytest.approx(1.0)
    # precision@5 with 2 partners: 2 / 5.
    assert pair_ranking_score(E, pairs, metric="precision", k=5) == pytest.approx(0.4)


def test_pair_ranking_score_errors():
    E, pairs = _embedding_and_pairs()
    with pytest.raises(ValueError, match="no partner"):
        pair_ranking_score(E, pairs[pairs.max(axis=1) < 39], queries=[39])
    with pytest.raises(ValueError, match="metric must be one of"):
        pair_ranking_score(E, pairs, metric="map")
    with pytest.raises(ValueError, match="is not a row index"):
        pair_ranking_score(E[:10], pairs)


def test_scorer_reads_pairs_from_argument_or_row_pairs_y():
    E, pairs = _embedding_and_pairs()
    identity = FunctionTransformer().fit(E)
    scorer = make_pair_scorer("ndcg", k=4)
    expected = pair_ranking_score(E, pairs, metric="ndcg", k=4)
    assert scorer(identity, E, pairs=pairs) == pytest.approx(expected)
    assert scorer(identity, E, RowPairs(pairs, 40)) == pytest.approx(expected)
    assert scorer(identity, E, None, pairs=RowPairs(pairs, 40)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="needs the pairs"):
        scorer(identity, E)
    with pytest.raises(ValueError, match="RowPairs of 40 rows but X has 39"):
        scorer(identity, E[:39], pairs=RowPairs(pairs, 40))
    with pytest.raises(ValueError, match="No pair has both rows"):
        scorer(identity, E, pairs=np.zeros((0, 2), dtype=int))
    assert scorer.get_metadata_routing().score.requests == {"pairs": True}
    with pytest.raises(ValueError, match="metric must be one of"):
        make_pair_scorer("map")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        make_pair_scorer(k=0)


@pytest.mark.parametrize(
    "statement",
    [
        "import sk_prodembed._pair_metrics; from sk_prodembed.metrics import make_pair_scorer",
        "from sk_prodembed.metrics import pair_ranking_score; import sk_prodembed._pair_metrics",
        "import sk_prodembed.pairs; from sk_prodembed.metrics import make_pair_scorer",
    ],
)
def test_pair_scorers_import_from_metrics_in_any_order(statement):
    # sk_prodembed.metrics exports the pair scorers, which use its metrics:
    # no import order may hit the cycle.
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", statement], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
