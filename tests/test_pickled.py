"""training/kinds/pickled.py: the fitted objects of the tfidf and linear kinds, and artifacts saved before it."""

from __future__ import annotations

import shutil

import joblib
import numpy as np
import pytest

from clausemap.errors import InputFileError
from training.inference.predictor import load_predictor
from training.kinds.pickled import load_fitted, save_fitted


def test_fitted_objects_round_trip_with_their_arrays(tmp_path):
    fitted = {"vocabulary": {"学前": 0, "教师": 1}, "weights": np.arange(6, dtype=np.float32).reshape(2, 3)}
    path = save_fitted(fitted, tmp_path, "tfidf")
    assert path.name == "tfidf.pkl"
    loaded = load_fitted(tmp_path, "tfidf")
    assert loaded["vocabulary"] == fitted["vocabulary"]
    np.testing.assert_array_equal(loaded["weights"], fitted["weights"])


def test_an_older_joblib_file_still_loads(tmp_path):
    joblib.dump({"weights": np.ones(3)}, tmp_path / "linear.joblib")
    np.testing.assert_array_equal(load_fitted(tmp_path, "linear")["weights"], np.ones(3))


def test_an_artifact_without_its_fitted_objects_is_named(tmp_path):
    with pytest.raises(InputFileError, match="tfidf.pkl"):
        load_fitted(tmp_path, "tfidf")


@pytest.mark.model
def test_an_artifact_saved_with_joblib_loads_and_scores_as_before(baseline_model_dir, tmp_path):
    """A tfidf artifact from before the change (tfidf.joblib) gives the scores the current one gives."""
    old = tmp_path / "old"
    shutil.copytree(baseline_model_dir, old)
    joblib.dump(load_fitted(old, "tfidf"), old / "tfidf.joblib")
    (old / "tfidf.pkl").unlink()
    texts = ["推进学前教育普及普惠发展。", "加强教师队伍建设。"]
    np.testing.assert_allclose(load_predictor(old).predict_scores(texts),
                               load_predictor(baseline_model_dir).predict_scores(texts))
