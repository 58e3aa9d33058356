import numpy as np
import pytest

from robustcifar.classes import CLASS_NAMES
from robustcifar.gallery import Gallery
from robustcifar.predictions import answer_probabilities, classifier_answers, embedder_answers

NAMES = list(CLASS_NAMES)


def test_a_classifier_answer_gives_back_its_softmax():
    logits = np.array([[2.0, 1.0] + [0.0] * 8])
    (answer,) = classifier_answers("m", logits, NAMES)
    served, likelihoods = answer_probabilities(answer, NAMES)
    expected = np.exp(logits[0]) / np.exp(logits[0]).sum()
    assert served == pytest.approx(expected) and likelihoods is served
    assert served[answer["class_id"]] == pytest.approx(answer["confidence"])


def test_an_embedder_answer_gives_the_vote_share_and_a_smoothed_likelihood():
    # gallery: 3 items of class 2 close to the query, 1 of class 5 further away; k = 4
    gallery = np.array([[1, 0], [0.99, 0.141], [0.98, 0.199], [0, 1]], dtype=np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    (answer,) = embedder_answers("m", np.array([[1.0, 0.0]], np.float32), Gallery(gallery, np.array([2, 2, 2, 5])),
                                 4, NAMES)
    served, likelihoods = answer_probabilities(answer, NAMES)
    assert served[2] == pytest.approx(0.75) and served[5] == pytest.approx(0.25) and served.sum() == pytest.approx(1)
    assert served[2] == pytest.approx(answer["confidence"])
    assert likelihoods[2] == pytest.approx(4 / 14) and likelihoods[0] == pytest.approx(1 / 14)
    assert likelihoods.sum() == pytest.approx(1.0)


def test_an_answer_of_neither_shape_is_an_error():
    with pytest.raises(KeyError):
        answer_probabilities({"class_id": 0}, NAMES)
