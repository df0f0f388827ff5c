"""Train, save, reload, predict and evaluate real models through the public commands (tiny BERT, baseline)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from clausemap.cli import main
from labels.taxonomy import load_taxonomy
from tests.fixtures.models import CONFIGS, taxonomy_rows, train_artifact
from tests.support.markers import needs
from labels.rows import Labels
from training.data import load_examples
from training.inference.predictor import load_predictor

TAXONOMY = load_taxonomy()
TEXTS = [
    "加强幼儿园教师队伍建设，落实教师工资待遇保障。",
    "开展校园安全专项整治，做好防溺水和校车安全工作。",
    "推进职业教育产教融合，深化校企合作。",
    "落实全面从严治党主体责任，加强党风廉政建设。" * 20,  # longer than max_length: truncated, not an error
]


def rows_of(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(params=["tiny_model_dir", "baseline_model_dir"])
@needs("model")
def model_dir(request):
    return request.getfixturevalue(request.param)


@pytest.mark.model
def test_artifact_holds_what_the_issue_lists(model_dir):
    meta = json.loads((model_dir / "clausemap.json").read_text(encoding="utf-8"))
    assert meta["labels"] == TAXONOMY.ids
    assert meta["fallback"] == TAXONOMY.fallback_id
    assert set(meta["thresholds"]) == set(TAXONOMY.ids)
    assert re.fullmatch(rf"{meta['config_name']}-{meta['data_hash'][:8]}-\d{{8}}T\d{{6}}Z", meta["model_version"])
    for name in ("metrics.json", "config.yaml", "report.md", "report.png"):
        assert (model_dir / name).is_file(), name
    report = (model_dir / "report.md").read_text(encoding="utf-8")
    assert all(f"| {label} (" in report for label in TAXONOMY.ids)
    assert (model_dir / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(model_dir.parent.glob(".*.partial")), "staging directory left behind"


@pytest.mark.model
def test_predictor_interface(model_dir):
    predictor = load_predictor(model_dir)
    assert predictor.labels == TAXONOMY.ids
    assert predictor.info["kind"] in ("bert", "tfidf") and predictor.info["data_hash"]
    scores = predictor.predict_scores(TEXTS)
    assert scores.shape == (len(TEXTS), len(TAXONOMY.ids))
    assert ((scores >= 0) & (scores <= 1)).all()
    # Internally sorted by length, but returned in input order.
    np.testing.assert_allclose(predictor.predict_scores(TEXTS[::-1])[::-1], scores, atol=1e-5)
    np.testing.assert_allclose(predictor.predict_scores(TEXTS[1:2])[0], scores[1], atol=1e-5)
    for prediction, row in zip(predictor.predict(TEXTS), scores):
        assert list(prediction.scores) == TAXONOMY.ids
        passing = [l for l, s in zip(TAXONOMY.ids, row) if l in TAXONOMY.specific_ids and s >= predictor.thresholds[l]]
        assert prediction.labels == (passing or [TAXONOMY.fallback_id])
    vectors = predictor.embed(TEXTS)
    assert vectors.shape[0] == len(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert predictor.predict([]) == [] and predictor.predict_scores([]).shape == (0, len(TAXONOMY.ids))


@pytest.mark.model
def test_predictor_is_safe_to_share_between_threads(model_dir):
    from concurrent.futures import ThreadPoolExecutor

    predictor = load_predictor(model_dir)
    expected = predictor.predict_scores(TEXTS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: predictor.predict_scores(TEXTS), range(8)))
    for scores in results:
        np.testing.assert_allclose(scores, expected, atol=1e-5)


@pytest.mark.model
def test_bert_artifact_loads_in_transformers_pipeline(tiny_model_dir):
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(tiny_model_dir), top_k=None, function_to_apply="sigmoid")
    out = classify(TEXTS[0])
    out = out[0] if isinstance(out[0], list) else out
    assert sorted(item["label"] for item in out) == sorted(TAXONOMY.ids)
    ours = load_predictor(tiny_model_dir).predict([TEXTS[0]])[0].scores
    for item in out:
        assert item["score"] == pytest.approx(ours[item["label"]], abs=1e-4)


@pytest.mark.model
def test_evaluate_json_through_the_command(model_dir, training_data_path):
    result = subprocess.run([sys.executable, "-m", "clausemap", "evaluate", "--model", str(model_dir),
                             "--data", str(training_data_path), "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"macro_f1", "micro_f1", "per_label", "n", "colabel", "n_written_skipped"}
    assert report["n"] == len(rows_of(training_data_path))
    assert set(report["per_label"]) == set(TAXONOMY.ids)
    for label, m in report["per_label"].items():
        assert set(m) == {"precision", "recall", "f1", "support"}
        assert m["support"] == sum(label in r["categories"] for r in rows_of(training_data_path))
    # The same figures, recomputed from the predictor's own label sets.
    predictor = load_predictor(model_dir)
    examples = load_examples(training_data_path, Labels(predictor.labels, predictor.fallback_id))
    predicted = predictor.predict([ex.text for ex in examples])
    hits = sum(len(set(p.labels) & set(ex.categories)) for p, ex in zip(predicted, examples))
    n_pred = sum(len(p.labels) for p in predicted)
    n_gold = sum(len(ex.categories) for ex in examples)
    assert report["micro_f1"] == pytest.approx(2 * hits / (n_pred + n_gold))


@pytest.mark.model
def test_evaluate_prints_a_table(baseline_model_dir, training_data_path, capsys):
    assert main(["evaluate", "--model", str(baseline_model_dir), "--data", str(training_data_path)]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "micro-F1" in out
    assert all(f"| {label} |" in out for label in TAXONOMY.ids)


@pytest.mark.model
def test_baseline_learns_its_training_rows(baseline_model_dir, training_data_path, capsys):
    assert main(["evaluate", "--model", str(baseline_model_dir), "--data", str(training_data_path), "--json"]) == 0
    # Most rows were in its training split; a model that learned nothing would score near chance.
    assert json.loads(capsys.readouterr().out)["micro_f1"] > 0.7


@pytest.mark.model
def test_tiny_bert_fits_a_small_set(tmp_path, capsys):
    """Fine-tuning really updates the model: enough steps on a few learnable rows and it reproduces their labels."""
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in taxonomy_rows()[::3]), encoding="utf-8")
    model = train_artifact("tiny-test.yaml", tmp_path / "fit", data, "training.epochs=30", "training.batch_size=4",
                           "training.validation_fraction=0", "training.learning_rate=3e-3")
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["micro_f1"] > 0.9


@pytest.mark.model
def test_training_is_reproducible(tmp_path, training_data_path):
    first = train_artifact("tiny-test.yaml", tmp_path / "a", training_data_path, "training.epochs=1")
    second = train_artifact("tiny-test.yaml", tmp_path / "b", training_data_path, "training.epochs=1")
    a, b = load_predictor(first), load_predictor(second)
    assert a.info["data_hash"] == b.info["data_hash"]
    np.testing.assert_allclose(a.predict_scores(TEXTS), b.predict_scores(TEXTS), atol=1e-5)
    assert a.thresholds == b.thresholds


@pytest.mark.model
def test_failed_training_keeps_the_previous_artifact(tmp_path, training_data_path, monkeypatch):
    import dataclasses

    from training import kinds

    model = train_artifact("baseline-tfidf.yaml", tmp_path / "model", training_data_path)
    before = json.loads((model / "clausemap.json").read_text(encoding="utf-8"))["model_version"]
    real = kinds.get_kind("tfidf")

    def crash_after_writing(job):
        real.fit(job)
        raise RuntimeError("simulated crash")

    monkeypatch.setitem(kinds._KINDS, "tfidf", dataclasses.replace(real, fit=crash_after_writing))
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(["train", "--config", str(CONFIGS / "baseline-tfidf.yaml"), "--output", str(model),
              f"data.path={training_data_path}"])
    assert load_predictor(model).model_version == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_train_refuses_to_replace_a_foreign_directory(tmp_path, training_data_path, capsys):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine", encoding="utf-8")
    code = main(["train", "--config", str(CONFIGS / "baseline-tfidf.yaml"), "--output", str(precious),
                 f"data.path={training_data_path}"])
    assert code == 2
    assert "is not a clausemap model" in capsys.readouterr().err
    assert (precious / "keep.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("content, message", [
    ('{"text": "x", "categories": ["no_such_label"]}\n', r":1: categories: unknown categories \['no_such_label'\]"),
    ('{"text": "x", "categories": ["other"]}\nnot json\n', ":2: invalid JSON"),
    ('{"categories": ["other"]}\n', ":1: text: Field required"),
    ('{"text": "x", "categories": ["other", "preschool"]}\n', ":1: categories: 'other' is given only when"),
    ("", "no rows"),
])
@pytest.mark.model
def test_evaluate_rejects_bad_data_with_file_and_line(baseline_model_dir, tmp_path, capsys, content, message):
    data = tmp_path / "bad.jsonl"
    data.write_text(content, encoding="utf-8")
    assert main(["evaluate", "--model", str(baseline_model_dir), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl" in err and re.search(message, err)


def test_evaluate_rejects_a_directory_that_is_not_a_model(tmp_path, training_data_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path), "--data", str(training_data_path)]) == 2
    assert "not a clausemap model" in capsys.readouterr().err


@pytest.mark.model
def test_cv_leaves_one_document_out(training_data_path, tmp_path, capsys):
    docs = sorted({r["doc"] for r in rows_of(training_data_path)})
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"folds": [{"name": d, "test_docs": [d]} for d in docs]}), encoding="utf-8")
    assert main(["cv", "--config", str(CONFIGS / "baseline-tfidf.yaml"), "--json",
                 f"data.path={training_data_path}", f"data.splits={splits}"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [f["fold"] for f in result["folds"]] == docs
    n_rows = len(rows_of(training_data_path))
    for fold in result["folds"]:
        assert fold["n_train"] + fold["n_test"] == n_rows
    assert result["macro_f1_mean"] == pytest.approx(np.mean([f["macro_f1"] for f in result["folds"]]))
    assert result["pooled"]["n"] == n_rows


@pytest.mark.model
def test_keep_existing_keeps_a_model_of_its_config_and_refuses_one_of_another(baseline_model_dir, capsys):
    """What `make model` runs when MODEL exists: the same config starts at once; another config's model is an
    error naming both, not served as if trained from this one."""
    meta_file = baseline_model_dir / "clausemap.json"
    before = meta_file.read_bytes()
    assert main(["train", "--config", str(CONFIGS / "baseline-tfidf.yaml"), "--output", str(baseline_model_dir),
                 "--keep-existing"]) == 0
    assert "already" in capsys.readouterr().err
    assert main(["train", "--config", str(CONFIGS / "sentences-ngrams.yaml"), "--output", str(baseline_model_dir),
                 "--keep-existing"]) == 2
    err = capsys.readouterr().err
    assert "'baseline-tfidf'" in err and "'sentences-ngrams'" in err and "MODEL=" in err
    assert meta_file.read_bytes() == before
