"""training.metrics: the decision rule, threshold tuning and the per-label report."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from training.metrics import decide, multilabel_report, tune_thresholds


def test_decide_gives_fallback_only_when_no_specific_label_passes():
    scores = np.array([[0.9, 0.1, 0.8], [0.2, 0.3, 0.9], [0.6, 0.7, 0.1]])
    chosen = decide(scores, np.array([0.5, 0.5, 0.5]), fallback_index=2)
    assert chosen.tolist() == [[True, False, False], [False, False, True], [True, True, False]]


def test_tuned_threshold_separates_held_out_scores():
    scores = np.array([[0.1], [0.2], [0.35], [0.4], [0.7], [0.3]])
    gold = np.array([[0], [0], [1], [1], [1], [0]])
    t = tune_thresholds(np.hstack([scores, scores]), np.hstack([gold, gold]), fallback_index=1)
    assert 0.3 < t[0] <= 0.35  # every positive above, every negative below
    assert t[1] == 0.5  # the fallback keeps the default


def test_report_matches_sklearn_on_defined_labels():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, size=(40, 4))
    pred = rng.integers(0, 2, size=(40, 4))
    gold[:, 3] = 0
    pred[:, 3] = 0  # a label absent from gold and predictions: undefined, left out of the macro average
    report = multilabel_report(gold, pred, ["a", "b", "c", "d"])
    assert report["n"] == 40
    assert report["per_label"]["d"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    for j, label in enumerate("abc"):
        m = report["per_label"][label]
        assert m["f1"] == pytest.approx(f1_score(gold[:, j], pred[:, j]))
        assert m["precision"] == pytest.approx(precision_score(gold[:, j], pred[:, j]))
        assert m["recall"] == pytest.approx(recall_score(gold[:, j], pred[:, j]))
        assert m["support"] == gold[:, j].sum()
    assert report["macro_f1"] == pytest.approx(f1_score(gold[:, :3], pred[:, :3], average="macro"))
    assert report["micro_f1"] == pytest.approx(f1_score(gold, pred, average="micro"))
