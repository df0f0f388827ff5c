"""serving.results: how a clause's classification is summed up for the breakdown."""

import pytest


def test_confidence_is_the_score_of_the_weakest_given_category():
    from serving.results import weakest_given_score

    assert weakest_given_score({"a": 0.9, "b": 0.2, "c": 0.05}, ["a"]) == pytest.approx(0.9)
    assert weakest_given_score({"a": 0.55, "b": 0.97}, ["a", "b"]) == pytest.approx(0.55)
    # A fallback given because nothing scored high has a low score of its own.
    assert weakest_given_score({"a": 0.1, "other": 0.3}, ["other"]) == pytest.approx(0.3)
