import numpy as np
import pytest

from robustcifar.knn import knn_classify


def naive_knn(query, gallery, labels, k, num_classes):
    sims = gallery @ query
    order = sorted(range(len(gallery)), key=lambda i: -sims[i])[:k]
    votes = [0] * num_classes
    totals = [0.0] * num_classes
    for i in order:
        votes[labels[i]] += 1
        totals[labels[i]] += sims[i]
    best = max(range(num_classes), key=lambda c: (votes[c], totals[c]))
    return best, votes[best] / k, order


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_matches_a_naive_vote(k):
    rng = np.random.default_rng(k)
    gallery = unit(rng.normal(size=(200, 16))).astype(np.float32)
    labels = rng.integers(0, 5, 200)
    queries = unit(rng.normal(size=(30, 16))).astype(np.float32)
    result = knn_classify(queries, gallery, labels, k, 5)
    for q in range(30):
        label, confidence, order = naive_knn(queries[q], gallery, labels, k, 5)
        assert result.labels[q] == label
        assert result.confidence[q] == pytest.approx(confidence)
        assert result.neighbor_indices[q].tolist() == order


def test_ties_go_to_the_more_similar_class():
    gallery = unit(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    query = unit(np.array([[0.9, 0.1]], dtype=np.float32))
    assert knn_classify(query, gallery, np.array([3, 1]), 2, 4).labels[0] == 3


def test_bad_k_is_rejected():
    with pytest.raises(ValueError, match="k must be"):
        knn_classify(np.ones((1, 2)), np.ones((3, 2)), np.zeros(3, int), 4, 2)
