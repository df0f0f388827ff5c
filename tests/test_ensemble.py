"""The ensemble kind (the default model): a BERT and the n-gram heads trained as members of one artifact, combined
per sentence by the mean of score / member threshold, served through the same public functions as every kind.
The BERT here is a tiny random one built from the training texts (configs/ensemble-m3e-ngrams.yaml with its
m3e-small member swapped for it): nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from clausemap.clauses import segment_file
from clausemap.clauses.sentences import split_sentences
from clausemap.errors import InputFileError
from clausemap.paths import PROJECT_ROOT
from serving.settings import ServingSettings
from tests.fixtures.models import CONFIGS, train_artifact
from tests.support.markers import needs
from training.inference.artifact import read_meta
from training.config import load_config
from training.kinds.ensemble import EnsemblePredictor, member_dir
from training.inference.predictor import load_predictor
from training.kinds.onnx import INT8_FILE

TEXTS = [c.text for path in sorted((PROJECT_ROOT / "seeds").glob("*.txt")) for c in segment_file(path).clauses]
DEFAULT = CONFIGS / "ensemble-m3e-ngrams.yaml"
TINY_BERT = {"kind": "bert", "max_length": 64, "onnx": True,
             "random_init": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                             "intermediate_size": 64}}


def tiny_config(tmp_path: Path) -> Path:
    """The default ensemble config with its m3e-small member replaced by a tiny random BERT that trains in seconds."""
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    bert = next(m for m in raw["model"]["members"] if m["model"]["kind"] == "bert")
    bert["model"] = TINY_BERT
    bert["training"].update(epochs=2, max_steps=40, learning_rate=3.0e-3, batch_size=8, validation_fraction=0.25)
    path = tmp_path / "tiny-ensemble.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
@needs("model")
def ensemble_dir(tmp_path_factory, training_data_path) -> Path:
    folder = tmp_path_factory.mktemp("ensemble")
    # Without the 646 written rows: the fixture's 80 clauses train both members in seconds.
    return train_artifact(str(tiny_config(folder)), folder / "model", training_data_path, "data.written=null")


def member_scores(predictor: EnsemblePredictor, texts: list[str]) -> list[np.ndarray]:
    return [member.predict_scores(texts) for member in predictor.members]


@pytest.mark.model
@pytest.mark.timeout(600)
def test_the_ensemble_trains_each_member_into_its_own_folder(ensemble_dir):
    meta = read_meta(ensemble_dir)
    assert meta.kind == "ensemble" and meta.unit == "sentence"
    assert set(meta.thresholds.values()) == {0.5}  # the combined rule: a mean ratio of 1 is a score of 0.5
    bert, ngrams = read_meta(member_dir(ensemble_dir, "bert")), read_meta(member_dir(ensemble_dir, "ngrams"))
    # Thresholds from real clauses only: the BERT's held-out ones, the n-grams' out-of-fold scores.
    assert bert.thresholds_from == "heldout" and ngrams.thresholds_from == "out-of-fold"
    assert bert.n_heldout > 0 and ngrams.metrics["n"] > 0
    assert meta.details["members"]["bert"]["thresholds"] == bert.thresholds
    assert (member_dir(ensemble_dir, "bert") / INT8_FILE).is_file()
    # The BERT member is a save_pretrained classifier that transformers.pipeline loads as it is.
    from transformers import pipeline

    classifier = pipeline("text-classification", model=str(member_dir(ensemble_dir, "bert")), top_k=None,
                          function_to_apply="sigmoid")
    assert {row["label"] for row in classifier([TEXTS[0]])[0]} == set(meta.labels)


@pytest.mark.model
@pytest.mark.timeout(600)
def test_a_category_is_given_where_the_mean_of_score_over_threshold_reaches_one(ensemble_dir):
    predictor = load_predictor(ensemble_dir)
    assert isinstance(predictor, EnsemblePredictor)
    # One-sentence texts: the clause score is that sentence's.
    texts = [t for t in TEXTS if "。" not in t.rstrip("。")][:20]
    ratio = np.mean([scores / divisor for scores, divisor in zip(member_scores(predictor, texts),
                                                                 predictor.divisors)], axis=0)
    np.testing.assert_allclose(predictor.predict_scores(texts), ratio / (1 + ratio), atol=1e-5)
    specific = [i for i, label in enumerate(predictor.labels) if label != predictor.fallback_id]
    for row, prediction in zip(ratio, predictor.predict(texts)):
        expected = [predictor.labels[i] for i in specific if row[i] >= 1] or [predictor.fallback_id]
        assert prediction.labels == expected


class FixedScores:
    """A member that scores sentences from a table (to make the members disagree on purpose)."""

    def __init__(self, table: dict[str, list[float]]):
        self.table = table

    def _scores(self, batch):
        return np.array([self.table[text] for text in batch], dtype=np.float32)

    def _scores_and_embed(self, batch):
        return np.concatenate([self._scores(batch), np.ones((len(batch), 4), np.float32)], axis=1)

    def _score_rows(self, texts, embed):
        return self._scores_and_embed(texts) if embed else self._scores(texts)


@pytest.mark.model
@pytest.mark.timeout(600)
def test_the_evidence_is_the_sentence_the_combined_score_picks(ensemble_dir):
    predictor = load_predictor(ensemble_dir)
    labels, target = predictor.labels, predictor.labels.index("preschool")
    first, second = "新增公办幼儿园学位二千个。", "学前三年毛入园率达到百分之九十。"

    def row(value):
        scores = [0.0] * len(labels)
        scores[target] = value
        return scores

    # Member 1 prefers the first sentence (ratios 1.8 and 1.2), member 2 the second (0.2 and 1.0): the mean
    # prefers the second (1.0 against 1.1), which no member alone would show as best.
    predictor.members = [FixedScores({first: row(0.9), second: row(0.6)}),
                         FixedScores({first: row(0.1), second: row(0.5)})]
    predictor.divisors = [np.full(len(labels), 0.5, np.float32)] * 2
    predictor.embedder = 0
    for prediction in (predictor.predict([first + second])[0], predictor.predict_and_embed([first + second])[0][0]):
        assert "preschool" in prediction.labels
        evidence = prediction.evidence["preschool"]
        assert evidence[0].text == second and evidence[0].score == pytest.approx(1.1 / 2.1, abs=1e-5)
        assert [e.text for e in evidence] == [second, first]  # both reach the combined threshold, best first
        assert prediction.scores["preschool"] == pytest.approx(1.1 / 2.1, abs=1e-5)


@pytest.mark.model
@pytest.mark.timeout(600)
def test_int8_ensemble_agrees_with_fp32(ensemble_dir):
    fp32, int8 = load_predictor(ensemble_dir, "torch"), load_predictor(ensemble_dir)
    assert int8.info["runtime"].startswith("onnx-int8") and fp32.info["runtime"].startswith("torch-fp32")
    fp32_scores, int8_scores = fp32.predict_scores(TEXTS), int8.predict_scores(TEXTS)
    # A member's score over a small threshold moves more than the score itself: a wider margin than the bert
    # kind's own (tests/test_onnx.py), on a model only 40 steps from random.
    margin = 0.05
    assert np.abs(fp32_scores - int8_scores).max() < margin
    clear = np.abs(fp32_scores - 0.5) >= margin
    assert ((fp32_scores >= 0.5) == (int8_scores >= 0.5))[clear].all()
    same = np.mean([a.labels == b.labels for a, b in zip(fp32.predict(TEXTS), int8.predict(TEXTS))])
    assert same >= 0.95
    cosine = (fp32.embed(TEXTS) * int8.embed(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.99


@pytest.mark.model
@pytest.mark.timeout(600)
def test_export_command_exports_the_bert_member_of_an_ensemble(ensemble_dir, tmp_path):
    import shutil

    from clausemap.cli import main

    copy = tmp_path / "ensemble"
    shutil.copytree(ensemble_dir, copy)
    shutil.rmtree(member_dir(copy, "bert") / "onnx")
    assert load_predictor(copy).info["runtime"].startswith("torch-fp32")  # no export left: PyTorch
    assert main(["export", str(copy)]) == 0
    assert (member_dir(copy, "bert") / INT8_FILE).is_file()
    assert load_predictor(copy).info["runtime"] == "onnx-int8 + linear"


@pytest.mark.model
@pytest.mark.timeout(600)
def test_the_onnx_runtime_tokenises_as_transformers_does_without_importing_it(ensemble_dir):
    import subprocess
    import sys

    from transformers import AutoTokenizer

    from training.kinds.bert import JsonTokenizer, _pad_token

    bert = member_dir(ensemble_dir, "bert")
    ours = JsonTokenizer(bert / "tokenizer.json", 64, _pad_token(bert))
    theirs = AutoTokenizer.from_pretrained(bert)
    for batch in (TEXTS[:16], TEXTS[-5:], ["", "a", "１２３ＡＢ学前教育" * 30]):  # padding, truncation, odd input
        expected = theirs(batch, truncation=True, max_length=64, padding=True, return_tensors="np")
        got = ours(batch)
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            np.testing.assert_array_equal(got[name], expected[name])
    # The service's start on ONNX Runtime pays for neither transformers nor torch.
    code = ("import sys; from training.inference.predictor import load_predictor; "
            f"p = load_predictor({str(ensemble_dir)!r}); p.predict_and_embed(['加强教师队伍建设。']); "
            "print(sorted({'torch', 'transformers'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.model
@pytest.mark.timeout(600)
def test_each_sentence_goes_through_the_bert_once_for_scores_and_embedding(ensemble_dir):
    predictor = load_predictor(ensemble_dir, "torch")
    bert = predictor.members[predictor.embedder]
    seen: list[int] = []
    bert.backend.model.register_forward_hook(lambda module, args, kwargs, out: seen.append(len(kwargs["input_ids"])),
                                             with_kwargs=True)
    texts = TEXTS[:40] + TEXTS[:3]  # a clause sent twice in one call runs once
    predictions, embeddings = predictor.predict_and_embed(texts)
    n_sentences = len({s for text in texts for s in ([x.text for x in split_sentences(text)] or [text])})
    assert sum(seen) == n_sentences  # every distinct sentence once, scores and vectors from the same pass
    assert len(seen) == -(-n_sentences // bert.batch_size)  # in full batches of the BERT's size, not one per clause
    assert embeddings.shape == (len(texts), bert.backend.model.config.hidden_size)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(embeddings[40:], embeddings[:3])
    assert [p.scores for p in predictions[40:]] == [p.scores for p in predictions[:3]]
    seen.clear()
    assert [p.labels for p in predictions] == [p.labels for p in predictor.predict(texts)]
    assert sum(seen) == n_sentences


@pytest.mark.model
@pytest.mark.timeout(600)
def test_the_service_serves_the_ensemble(ensemble_dir):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    with TestClient(create_app(ServingSettings(model=ensemble_dir))) as client:
        client.portal.call(client.app.state.model.wait)
        assert client.get("/readyz").status_code == 200
        info = client.get("/v1/model").json()["info"]
        response = client.post("/v1/classify", json={"clauses": TEXTS[:5]})
    assert info["kind"] == "ensemble" and info["runtime"] == "onnx-int8 + linear"
    assert set(info["members"]) == {"bert", "ngrams"}
    assert response.status_code == 200
    direct = load_predictor(ensemble_dir).predict(TEXTS[:5])
    for result, expected in zip(response.json()["results"], direct, strict=True):
        assert result["labels"] == expected.labels
        assert result["departments"]  # department suggestions from the BERT member's vectors


@pytest.mark.model
@pytest.mark.timeout(600)
def test_a_model_of_the_old_ngram_default_still_loads_and_serves(tmp_path, training_data_path):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    old = train_artifact("sentences-ngrams.yaml", tmp_path / "ngrams", training_data_path)
    assert read_meta(old).kind == "linear"
    predictions = load_predictor(old).predict(TEXTS[:3])
    with TestClient(create_app(ServingSettings(model=old))) as client:
        client.portal.call(client.app.state.model.wait)
        response = client.post("/v1/classify", json={"clauses": TEXTS[:3]})
    assert response.status_code == 200
    assert [r["labels"] for r in response.json()["results"]] == [p.labels for p in predictions]


def test_the_default_config_is_the_ensemble_and_names_what_it_fetches():
    config = load_config(DEFAULT)
    assert config.model.kind == "ensemble" and config.training.unit == "sentence"
    assert config.model.pretrained_sources() == ["m3e-small"]
    assert [m.name for m in config.model.members] == ["bert", "ngrams"]
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"CONFIG ?= configs/{DEFAULT.name}" in makefile


@pytest.mark.parametrize("change, message", [
    (lambda m: m.append(dict(m[0])), "member names must differ"),
    (lambda m: m.__setitem__(1, {"name": "inner", "model": {"kind": "ensemble", "members": []}}),
     "cannot be a member of an ensemble"),
    (lambda m: m[1].__setitem__("thresholds", {"tune": False}), "must be tuned"),
    (lambda m: m[1]["model"].__setitem__("C_tfidf", -1), "C_tfidf"),
    (lambda m: m.pop(), "at least 2"),
])
def test_a_bad_member_is_a_config_error_naming_it(tmp_path, change, message):
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    change(raw["model"]["members"])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputFileError, match=message) as error:
        load_config(path)
    assert str(path) in str(error.value)


def test_the_embedding_member_must_be_one_of_the_members(tmp_path):
    raw = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    raw["model"]["embedding"] = "nope"
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(InputFileError, match="'nope' is not a member"):
        load_config(path)


@pytest.mark.parametrize("cpu_max, expected", [("max 100000\n", None), ("150000 100000\n", 2), ("50000 100000", 1),
                                               ("garbage", None)])
def test_inference_threads_fit_the_container_quota(tmp_path, cpu_max, expected):
    from training.kinds.onnx import cpu_threads

    limit = tmp_path / "cpu.max"
    limit.write_text(cpu_max, encoding="ascii")
    affinity = cpu_threads(tmp_path / "absent")
    assert cpu_threads(limit) == (affinity if expected is None else min(affinity, expected))


@pytest.mark.model
@pytest.mark.timeout(900)
def test_cv_of_the_ensemble_scores_each_member_from_the_same_fold_models(tmp_path, training_data_path, capsys):
    from clausemap.cli import main

    docs = sorted({json.loads(line)["doc"] for line in training_data_path.read_text(encoding="utf-8").splitlines()})
    splits = tmp_path / "splits.json"  # two folds keep it short
    splits.write_text(json.dumps({"folds": [{"name": d, "test_docs": [d]} for d in docs[:2]]}), encoding="utf-8")
    data = [f"data.path={training_data_path}", f"data.splits={splits}", "data.written=null"]

    assert main(["cv", "--config", str(tiny_config(tmp_path)), "--json", *data]) == 0
    ensemble = json.loads(capsys.readouterr().out)
    assert set(ensemble["parts"]) == {"bert", "ngrams"}
    for part in ensemble["parts"].values():
        assert [f["fold"] for f in part["folds"]] == docs[:2]
        assert part["pooled"]["n"] == ensemble["pooled"]["n"]
        assert 0 < part["train_seconds_total"] < ensemble["train_seconds_total"]
    # The n-gram member is configs/sentences-ngrams.yaml: its cv alone gives the same figures as the member's row.
    assert main(["cv", "--config", str(CONFIGS / "sentences-ngrams.yaml"), "--json", *data]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert "parts" not in alone
    assert [f["macro_f1"] for f in ensemble["parts"]["ngrams"]["folds"]] == [f["macro_f1"] for f in alone["folds"]]
    assert ensemble["parts"]["ngrams"]["pooled"] == alone["pooled"]


def test_compare_models_gives_each_member_a_row_of_its_own():
    from bench.compare_models import table, with_parts

    def figures(macro):
        return {"macro_f1_mean": macro, "macro_f1_std": 0.0, "folds": [{"fold": "000", "macro_f1": macro}],
                "pooled": {"macro_f1": macro, "micro_f1": macro, "per_label": {"preschool": {"f1": macro}}},
                "train_seconds_total": 10.0}

    rows = with_parts({"variant": "ensemble", "wall_seconds": 30.0, **figures(0.9),
                       "parts": {"bert": figures(0.8), "ngrams": figures(0.85)}})
    assert [r["variant"] for r in rows] == ["ensemble", "ensemble › bert", "ensemble › ngrams"]
    lines = table(rows).splitlines()[2:]
    assert [line.split(" | ")[0].lstrip("| ") for line in lines] == ["ensemble", "ensemble › ngrams", "ensemble › bert"]
    assert lines[1].endswith("| 10 | – |")
