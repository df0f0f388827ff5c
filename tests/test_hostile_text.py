"""Hostile plan text: pathological inputs are segmented in linear time, and the text limits stop segmentation as
soon as they are passed. Hangs are caught by the per-test timeout, never by timing asserts."""

import json

import numpy as np
import pytest

from clausemap.clauses import segment, segment_text
from clausemap.clauses.deadlines import find_deadlines
from clausemap.clauses.limits import OverLimitError, TextLimits
from clausemap.clauses.sentences import split_sentences
from tests.fixtures.models import train_artifact
from tests.support.markers import needs


@pytest.mark.timeout(20)
def test_half_a_megabyte_of_dash_bullets_under_one_item():
    # Each bullet used to recount its parent's children: 0.5 MB took 29 s.
    document = segment_text("一、总体要求\n" + "——推进工作落实\n" * 20_000)
    assert len(document.clauses) == 20_000
    assert [c.number for c in document.clauses[-2:]] == ["—19999", "—20000"]


@pytest.mark.timeout(20)
def test_an_item_of_many_lines_and_parts_keeps_exact_spans():
    text = "一、总体要求:\n" + "".join(f"{n}是推进第{n}项工作;\n" for n in ["一", "二", "三"]) + "继续推进落实\n" * 30_000
    document = segment_text(text)
    assert [c.number for c in document.clauses] == ["一、一是", "一、二是", "一、三是"]
    for clause in document.clauses[:2]:
        assert document.text[clause.span[0]:clause.span[1]].replace("\n", "").endswith(clause.text)


@pytest.mark.timeout(20)
def test_unclosed_quotes_and_many_deadlines():
    # An opener searched its closer to the end of the text; every deadline was checked against all the earlier ones.
    assert len(split_sentences("“" * 200_000 + "推进。")) == 1
    assert find_deadlines("年底前完成," * 20_000 + "6月底前完成") == ["年底前", "6月底前"]


def test_a_plan_over_the_character_limit_is_refused_before_cleaning(monkeypatch):
    cleaned = []
    monkeypatch.setattr(segment, "clean_lines", lambda text: cleaned.append(text) or [])
    with pytest.raises(OverLimitError, match="CLAUSEMAP_MAX_PLAN_CHARS") as refused:
        segment_text("一、总体要求\n" * 100, limits=TextLimits(max_plan_chars=500))
    assert refused.value.http_status == 413 and cleaned == []


def test_segmentation_stops_at_the_first_clause_over_the_count(monkeypatch):
    parsed = []
    real = segment.extract_departments
    monkeypatch.setattr(segment, "extract_departments", lambda text: parsed.append(text) or real(text))
    plan = "\n".join(f"{n}. 推进第{n}项工作。" for n in range(1, 601))
    with pytest.raises(OverLimitError, match=r"more than 10 clauses.*CLAUSEMAP_MAX_CLAUSES") as refused:
        segment_text(plan, limits=TextLimits(max_clauses=10))
    assert refused.value.http_status == 422 and len(parsed) == 11
    assert len(segment_text(plan, limits=TextLimits(max_clauses=600)).clauses) == 600


def test_a_clause_over_the_length_limit_is_named_by_its_index():
    plan = "1. 推进工作。\n2. " + "加强建设" * 100 + "\n3. 落实。"
    with pytest.raises(OverLimitError, match=r"clause 1 has 400 characters.*CLAUSEMAP_MAX_CLAUSE_CHARS"):
        segment_text(plan, limits=TextLimits(max_clause_chars=399))
    # The note a clause states is not part of its length.
    noted = "1. 推进工作。\n2. " + "加强建设" * 100 + "(责任科室:办公室)"
    assert len(segment_text(noted, limits=TextLimits(max_clause_chars=400)).clauses) == 2


@pytest.fixture(scope="module")
@needs("model")
def ngram_model_dir(tmp_path_factory, training_data_path):
    """The default kind (linear heads on character n-grams, no encoder), trained on the small test subset."""
    return train_artifact("sentences-ngrams.yaml", tmp_path_factory.mktemp("ngrams") / "model", training_data_path,
                          "thresholds.source=heldout", "data.written=null")


@pytest.mark.model
@pytest.mark.timeout(300)
def test_the_ngram_models_embedding_is_compact_and_keeps_similar_texts_close(ngram_model_dir):
    from training.inference.predictor import load_predictor

    predictor = load_predictor(ngram_model_dir)
    assert len(predictor.saved["vectorizer"].vocabulary_) > 1024  # the dense n-gram row would be wider
    texts = ["加强教师队伍建设,提升教师专业素质。", "加强教师队伍建设,提高教师专业素养。", "开展校园消防演练,排查安全隐患。",
             "推进工作落实;" * 200]
    _, embeddings = predictor.predict_and_embed(texts)
    assert embeddings.shape == (4, embeddings.shape[1]) and embeddings.shape[1] <= 1024
    assert np.array_equal(predictor.embed(texts), embeddings)  # history rows and requests are embedded alike
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2


@pytest.mark.model
@pytest.mark.timeout(600)
def test_a_100_kb_request_of_short_sentences_is_answered_in_batches(ngram_model_dir):
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import ServingSettings
    from training.inference.pipeline import load_pipeline

    settings = ServingSettings(max_batch_clauses=64)
    app = create_app(settings, pipeline=load_pipeline(ngram_model_dir))
    registry = app.state.metrics.registry
    clauses = [f"加强学校建设{i % 10};" * 10 for i in range(settings.max_clauses)]  # 5,000 sentences
    body = json.dumps({"clauses": clauses}, ensure_ascii=False).encode()
    assert len(body) > 100_000
    plan = "\n".join(f"{n}. 加强学校建设;完善制度体系;推进工作落实。" for n in range(1, 1000)) * 3
    with TestClient(app) as client:
        answered = client.post("/v1/classify", content=body, headers={"Content-Type": "application/json"})
        assert answered.status_code == 200 and len(answered.json()["results"]) == len(clauses)
        # The request was cut into calls of at most max_batch_clauses, so others could go in between.
        calls = registry.get_sample_value("clausemap_inference_batch_clauses_count")
        assert calls >= len(clauses) / 64 and registry.get_sample_value("clausemap_inference_batch_clauses_sum") \
            == len(clauses)
        refused = client.post("/v1/plans", json={"text": plan})
        assert refused.status_code == 422 and "CLAUSEMAP_MAX_CLAUSES" in refused.json()["detail"]
        too_big = client.post("/v1/plans", json={"text": "1. 加强学校建设。\n" * 25_000})
        assert too_big.status_code == 413 and "CLAUSEMAP_MAX_PLAN_CHARS" in too_big.json()["detail"]
        assert client.post("/v1/classify", json={"clauses": ["加强教师队伍建设。"]}).status_code == 200
