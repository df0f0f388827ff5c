"""The shared inference path: one pass for scores and embeddings gives what the two separate calls give."""

import numpy as np
import pytest

from clausemap.clauses import segment_file
from clausemap.paths import PROJECT_ROOT
from training.inference.predictor import load_predictor

pytestmark = pytest.mark.model

TEXTS = [c.text for c in segment_file(PROJECT_ROOT / "seeds" / "004_52ddec6fee4f7535.txt").clauses]


@pytest.mark.parametrize("model_fixture", ["tiny_model_dir", "baseline_model_dir"])
def test_predict_and_embed_matches_predict_and_embed(model_fixture, request):
    predictor = load_predictor(request.getfixturevalue(model_fixture))
    predictions, embeddings = predictor.predict_and_embed(TEXTS)
    separate = predictor.predict(TEXTS)
    assert [p.labels for p in predictions] == [p.labels for p in separate]
    for one, other in zip(predictions, separate):
        assert one.scores == pytest.approx(other.scores, abs=1e-5)
    np.testing.assert_allclose(embeddings, predictor.embed(TEXTS), atol=1e-5)
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    no_predictions, no_embeddings = predictor.predict_and_embed([])
    assert no_predictions == [] and no_embeddings.size == 0
