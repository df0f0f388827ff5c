"""training/inference/annotated_cache.py: the annotated rows' scores and embeddings, reused between starts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from training.inference.annotated_cache import CACHE_FOLDER, scores_and_embeddings
from training.inference.predictor import Prediction


@dataclass
class CountingPredictor:
    """Scores a text by its length; counts the texts it ran."""

    model_version: str = "m-1"
    runtime: str = "onnx-int8"
    ran: int = 0
    labels = ("party_building", "other")

    @property
    def info(self):
        return {"runtime": self.runtime}

    def predict_and_embed(self, texts):
        self.ran += len(texts)
        predictions = [Prediction(scores={"party_building": len(t) / 10, "other": 0.5}, labels=["other"]) for t in texts]
        return predictions, np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


TEXTS = ["加强党的建设。", "推进学前教育普及普惠。"]


def test_the_second_start_reads_what_the_first_computed(tmp_path):
    first, second = CountingPredictor(), CountingPredictor()
    computed = scores_and_embeddings(first, TEXTS, tmp_path)
    read = scores_and_embeddings(second, TEXTS, tmp_path)
    assert (first.ran, second.ran) == (2, 0)
    assert read[0] == computed[0]
    assert computed[0] == [{"party_building": pytest.approx(0.7), "other": 0.5},
                           {"party_building": pytest.approx(1.1), "other": 0.5}]
    np.testing.assert_array_equal(read[1], computed[1])


def test_another_model_engine_or_text_is_computed_again(tmp_path):
    scores_and_embeddings(CountingPredictor(), TEXTS, tmp_path)
    for changed, texts in [(CountingPredictor(model_version="m-2"), TEXTS),
                           (CountingPredictor(runtime="torch-fp32"), TEXTS),
                           (CountingPredictor(), [*TEXTS, "加强教师队伍建设。"])]:
        scores_and_embeddings(changed, texts, tmp_path)
        assert changed.ran == len(texts)


def test_a_damaged_or_unwritable_cache_only_costs_time(tmp_path):
    scores_and_embeddings(CountingPredictor(), TEXTS, tmp_path)
    (saved,) = (tmp_path / CACHE_FOLDER).iterdir()
    saved.write_bytes(b"not an npz")
    again = CountingPredictor()
    assert scores_and_embeddings(again, TEXTS, tmp_path)[0][0]["party_building"] == pytest.approx(0.7)
    assert again.ran == 2
    assert np.load(saved)["scores"].shape == (2, 2)  # replaced by a good one
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    assert scores_and_embeddings(CountingPredictor(), TEXTS, blocked)[1].shape == (2, 2)


def test_without_a_cache_folder_nothing_is_written(tmp_path):
    predictor = CountingPredictor()
    scores_and_embeddings(predictor, TEXTS, None)
    scores_and_embeddings(predictor, TEXTS, None)
    assert predictor.ran == 4 and not any(tmp_path.iterdir())


@pytest.mark.model
def test_a_pipeline_loaded_again_reads_the_rows_scores_and_suggests_the_same(baseline_model_dir, tmp_path,
                                                                            monkeypatch):
    from clausemap.paths import PROJECT_ROOT
    from training.inference.pipeline import load_pipeline
    from training.inference.predictor import Predictor

    dataset = PROJECT_ROOT / "data" / "dataset.jsonl"
    first = load_pipeline(baseline_model_dir, annotated=dataset, cache_dir=tmp_path)
    assert len(list((tmp_path / CACHE_FOLDER).iterdir())) == 1
    with monkeypatch.context() as patch:
        patch.setattr(Predictor, "predict_and_embed", lambda *args: pytest.fail("the model ran over the rows again"))
        second = load_pipeline(baseline_model_dir, annotated=dataset, cache_dir=tmp_path)
    np.testing.assert_array_equal(second.annotated.embeddings, first.annotated.embeddings)
    assert second.annotated.scores == first.annotated.scores
    texts = ["加强幼儿园教师队伍建设。", "做好校园安全工作。"]
    assert [[d.name for d in r.departments] for r in second.classify(texts)] == \
        [[d.name for d in r.departments] for r in first.classify(texts)]
