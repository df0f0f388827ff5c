"""Categories decided per sentence: the aggregation to clauses, the evidence, the linear kind, and the rule
that rows written for training are trained on but never evaluated on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clausemap.cli import main
from clausemap.clauses.sentences import split_sentences
from clausemap.paths import PROJECT_ROOT
from labels.taxonomy import load_taxonomy
from tests.support.markers import needs
from training.data import Example, holdout_split
from training.inference.predictor import load_predictor

CONFIGS = PROJECT_ROOT / "configs"
TAXONOMY = load_taxonomy()
CLAUSE = "推进学前教育普及普惠发展,新增公办幼儿园学位3000个。落实教师工资待遇,开展国培省培项目。加强校园安全管理,开展防溺水演练。"


def rows_of(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def written_rows(real: list[dict], n: int = 6) -> list[dict]:
    """Rows marked as written for training, the first one edited from a real clause of the first document."""
    rows = []
    for i, row in enumerate(real[:n]):
        rows.append({"id": f"w-{i}", "doc": "written", "text": row["text"] + "开展专项工作。",
                     "categories": row["categories"], "source": "written",
                     "made_from": row["id"] if i == 0 else None})
    return rows


@pytest.mark.model
def test_a_sentence_model_gives_each_clause_its_best_sentence_score(tiny_model_dir):
    predictor = load_predictor(tiny_model_dir)
    assert predictor.unit == "sentence"
    sentences = [s.text for s in split_sentences(CLAUSE)]
    assert len(sentences) == 3
    clause_scores = predictor.predict_scores([CLAUSE])[0]
    each = predictor.predict_scores(sentences)
    np.testing.assert_allclose(clause_scores, each.max(axis=0), atol=1e-5)


@pytest.mark.model
def test_every_category_given_carries_the_sentences_that_decided_it(tiny_model_dir):
    predictor = load_predictor(tiny_model_dir)
    texts = [CLAUSE, "全面从严治党,落实党风廉政建设责任制。", "没有结尾标点的一句话"]
    for text, prediction in zip(texts, predictor.predict(texts)):
        specific = [label for label in prediction.labels if label != predictor.fallback_id]
        assert set(prediction.evidence) == set(specific)
        for label, evidence in prediction.evidence.items():
            assert evidence, label
            assert all(text[e.start:e.end] == e.text for e in evidence)
            assert all(e.score >= predictor.thresholds[label] - 1e-6 for e in evidence)
            assert [e.score for e in evidence] == sorted((e.score for e in evidence), reverse=True)
            assert evidence[0].score == pytest.approx(prediction.scores[label], abs=1e-5)


def test_held_out_rows_are_never_written_ones():
    real = [Example(f"d-{i}", "d", f"文本{i}", ("other",)) for i in range(20)]
    written = [Example(f"w-{i}", "written", f"写的{i}", ("other",), source="written") for i in range(20)]
    train, held = holdout_split(real + written, 0.5, seed=1)
    assert held and not any(ex.written for ex in held)
    assert sum(ex.written for ex in train) == 20


@pytest.mark.model
def test_evaluate_skips_written_rows(baseline_model_dir, training_data_path, tmp_path, capsys):
    real = rows_of(training_data_path)
    mixed = write_rows(tmp_path / "mixed.jsonl", real + written_rows(real))
    assert main(["evaluate", "--model", str(baseline_model_dir), "--data", str(mixed), "--json",
                 "--report", str(tmp_path / "report.md")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == len(real) and report["n_written_skipped"] == 6
    assert "Co-label report" in (tmp_path / "report.md").read_text(encoding="utf-8")
    only_written = write_rows(tmp_path / "written.jsonl", written_rows(real))
    assert main(["evaluate", "--model", str(baseline_model_dir), "--data", str(only_written)]) == 2
    assert "real clauses" in capsys.readouterr().err


@pytest.mark.model
def test_cv_trains_on_written_rows_but_tests_real_clauses_only(training_data_path, tmp_path, capsys):
    real = rows_of(training_data_path)
    written = write_rows(tmp_path / "written.jsonl", written_rows(real))
    origin = real[0]["doc"]
    assert main(["cv", "--config", str(CONFIGS / "baseline-tfidf.yaml"), "--json", f"data.path={training_data_path}",
                 f"data.written={written}", f"data.splits={tmp_path / 'none.json'}", "training.unit=sentence",
                 "--report", str(tmp_path / "cv.md")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_real"] == len(real) and result["n_written"] == 6
    assert result["pooled"]["n"] == len(real)
    for fold in result["folds"]:
        in_doc = sum(r["doc"] in fold["test_docs"] for r in real)
        assert fold["n_test"] == in_doc
        # A row edited from a clause of the tested document would leak its text into training.
        leaking = 1 if origin in fold["test_docs"] else 0
        assert fold["n_train"] == len(real) - in_doc + 6 - leaking
    assert {"from", "to", "rate"} <= set(result["colabel"]["max"])
    assert "Co-label report" in (tmp_path / "cv.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
@needs("model")
def tiny_encoder(tmp_path_factory, training_data_path):
    """A small random BERT encoder saved locally, standing in for m3e-small (nothing is downloaded)."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from training.kinds.bert import char_vocab

    texts = [r["text"] for r in rows_of(training_data_path)] + [CLAUSE]
    tokenizer = BertTokenizerFast(vocab=char_vocab(texts, 1), do_lower_case=False)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id)
    path = tmp_path_factory.mktemp("encoder") / "tiny-encoder"
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.model
def test_the_linear_kind_trains_with_out_of_fold_thresholds_and_serves_evidence(tiny_encoder, training_data_path,
                                                                                 tmp_path, capsys):
    output = tmp_path / "model"
    assert main(["train", "--config", str(CONFIGS / "m3e-sentences.yaml"), "--output", str(output),
                 f"model.encoder={tiny_encoder}", f"data.path={training_data_path}", "data.written=null"]) == 0
    capsys.readouterr()
    meta = json.loads((output / "clausemap.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "linear" and meta["unit"] == "sentence"
    # Thresholds were tuned on every real row, each scored by a model that did not see its document.
    assert meta["thresholds_from"] == "out-of-fold" and meta["metrics"]["n"] == len(rows_of(training_data_path))
    predictor = load_predictor(output)
    assert predictor.labels == TAXONOMY.ids
    predictions, embeddings = predictor.predict_and_embed([CLAUSE, "全面从严治党,落实党风廉政建设责任制。"])
    assert embeddings.shape[0] == 2
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    for prediction in predictions:
        assert set(prediction.evidence) == set(prediction.labels) - {TAXONOMY.fallback_id}
    # It learned its training rows (n-grams + encoder heads): far above chance on them.
    assert main(["evaluate", "--model", str(output), "--data", str(training_data_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["micro_f1"] > 0.7
