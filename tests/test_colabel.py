"""The co-label metric: does the model give B because A is there, rather than because of the text?"""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import COLABEL_LIMIT, colabel_report

LABELS = ["preschool", "finance", "teachers", "other"]


def test_colabel_rates_on_a_hand_made_case():
    # Four preschool clauses without finance; the model gives finance to three of them (0.75). One finance
    # clause without preschool gets preschool (1 of 2 finance-without-preschool clauses: 0.5).
    gold = np.array([
        [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0],
        [0, 1, 0, 0], [0, 1, 0, 0],
        [0, 0, 1, 0],
    ])
    pred = np.array([
        [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0],
        [1, 1, 0, 0], [0, 1, 0, 0],
        [0, 0, 1, 0],
    ])
    report = colabel_report(gold, pred, LABELS, fallback_index=3)
    rates = {(p["from"], p["to"]): (p["given"], p["of"], p["rate"]) for p in report["pairs"]}
    assert rates[("preschool", "finance")] == (3, 4, 0.75)
    assert rates[("finance", "preschool")] == (1, 2, 0.5)
    assert rates[("teachers", "finance")] == (0, 1, 0.0)
    assert rates[("preschool", "teachers")] == (0, 4, 0.0)
    assert not any("other" in pair for pair in rates)  # the fallback is no subject to travel with
    assert report["max"]["from"] == "preschool" and report["max"]["to"] == "finance"
    assert report["above_limit"] == 2 and report["limit"] == COLABEL_LIMIT


def test_a_clause_gold_for_both_does_not_count():
    # Gold preschool + finance: giving finance is right, not a co-label error; no pair has a base then.
    gold = np.array([[1, 1, 0, 0]])
    report = colabel_report(gold, gold.copy(), LABELS, fallback_index=3)
    assert ("preschool", "finance") not in {(p["from"], p["to"]) for p in report["pairs"]}
    assert all(p["rate"] == 0 for p in report["pairs"])


def test_pairs_are_sorted_worst_first_and_min_support_filters():
    gold = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]])
    pred = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 0]])
    report = colabel_report(gold, pred, LABELS, fallback_index=3, min_support=2)
    assert all(p["of"] >= 2 for p in report["pairs"])
    assert [p["rate"] for p in report["pairs"]] == sorted((p["rate"] for p in report["pairs"]), reverse=True)
    assert report["pairs"][0] == {"from": "finance", "to": "teachers", "rate": pytest.approx(0.5), "given": 1, "of": 2}
