"""ONNX Runtime for bert-kind models: training and `clausemap export` write an fp32 and an int8 export, the
predictor serves int8 when it is there, and both exports decide as the PyTorch weights do."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from clausemap.clauses import segment_file
from clausemap.errors import InputFileError
from clausemap.paths import PROJECT_ROOT, default_dataset
from serving.runtime import load_pipeline as service_pipeline
from serving.settings import ServingSettings
from tests.fixtures.models import train_artifact
from tests.support.markers import needs
from training.inference.artifact import read_meta
from training.inference.predictor import load_predictor
from training.metrics import decide
from training.kinds.onnx import FP32_FILE, INT8_FILE, OnnxModel

pytestmark = pytest.mark.model

TEXTS = [c.text for path in sorted((PROJECT_ROOT / "seeds").glob("*.txt")) for c in segment_file(path).clauses]
# int8 scores may differ from fp32 ones by a little: decisions this close to a threshold may go either way.
INT8_MARGIN = 0.03


@pytest.fixture(scope="module")
@needs("model")
def exported_dir(tmp_path_factory, training_data_path):
    """The tiny test BERT trained with its ONNX export on (configs/tiny-test.yaml turns it off)."""
    return train_artifact("tiny-test.yaml", tmp_path_factory.mktemp("onnx") / "model", training_data_path,
                          "model.onnx=true")


def decisions(predictor, texts):
    scores = predictor.predict_scores(texts)
    thresholds = np.array([predictor.thresholds[label] for label in predictor.labels])
    return scores, decide(scores, thresholds, predictor.labels.index(predictor.fallback_id)), thresholds


def test_training_writes_and_records_the_export(exported_dir):
    onnx = read_meta(exported_dir).details["onnx"]
    assert onnx["fp32"] == FP32_FILE and onnx["int8"] == INT8_FILE
    assert (exported_dir / FP32_FILE).is_file() and (exported_dir / INT8_FILE).is_file()
    # int8 weights: a good deal smaller than the fp32 graph.
    assert (exported_dir / INT8_FILE).stat().st_size < 0.75 * (exported_dir / FP32_FILE).stat().st_size
    assert load_predictor(exported_dir).info["runtime"] == "onnx-int8"
    assert load_predictor(exported_dir, "torch").info["runtime"] == "torch-fp32"


def test_fp32_export_computes_what_pytorch_computes(exported_dir):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(exported_dir)
    model = AutoModelForSequenceClassification.from_pretrained(exported_dir).eval()
    batch = TEXTS[:16]
    encoded = tokenizer(batch, truncation=True, max_length=128, padding=True, return_tensors="pt")
    with torch.inference_mode():
        expected = model(**encoded, output_hidden_states=True)
    logits, states = OnnxModel(exported_dir / FP32_FILE).run({k: v.numpy() for k, v in encoded.items()})
    np.testing.assert_allclose(logits, expected.logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(states, expected.hidden_states[-1].numpy(), atol=1e-3)


def test_int8_export_gives_the_labels_pytorch_gives(exported_dir):
    fp32, int8 = load_predictor(exported_dir, "torch"), load_predictor(exported_dir, "onnx")
    fp32_scores, fp32_decided, thresholds = decisions(fp32, TEXTS)
    int8_scores, int8_decided, _ = decisions(int8, TEXTS)
    assert np.abs(fp32_scores - int8_scores).max() < INT8_MARGIN
    # Every clause × specific category decision not within the margin of its threshold is the same (the fallback
    # follows from the others).
    clear = np.abs(fp32_scores - thresholds) >= INT8_MARGIN
    clear[:, fp32.labels.index(fp32.fallback_id)] = False
    assert clear.sum() > 0.5 * clear.shape[0] * (clear.shape[1] - 1), "too few clear-cut decisions to compare"
    assert (fp32_decided[clear] == int8_decided[clear]).all()
    assert (fp32_decided == int8_decided).mean() >= 0.95
    # The department suggestions' embeddings come from the same ONNX run.
    cosine = (fp32.embed(TEXTS) * int8.embed(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.99
    predictions, embeddings = int8.predict_and_embed(TEXTS[:8])
    assert [p.labels for p in predictions] == [p.labels for p in int8.predict(TEXTS[:8])]
    np.testing.assert_allclose(embeddings, int8.embed(TEXTS[:8]), atol=1e-5)


def test_export_command_adds_onnx_to_an_older_artifact(tiny_model_dir, tmp_path):
    from clausemap.cli import main

    old = tmp_path / "old"
    shutil.copytree(tiny_model_dir, old)
    assert "onnx" not in read_meta(old).details
    with pytest.raises(InputFileError, match="clausemap export"):
        load_predictor(old, "onnx")
    assert load_predictor(old).info["runtime"] == "torch-fp32"  # auto: PyTorch until exported
    assert main(["export", str(old)]) == 0
    assert read_meta(old).details["onnx"]["int8"] == INT8_FILE
    int8 = load_predictor(old)
    assert int8.info["runtime"] == "onnx-int8"
    assert int8.predict(TEXTS[:3])[0].labels


@pytest.mark.parametrize("target", ["baseline", "missing"])
def test_export_command_refuses_what_it_cannot_export(target, baseline_model_dir, tmp_path):
    model = baseline_model_dir if target == "baseline" else tmp_path / "nothing"
    result = subprocess.run([sys.executable, "-m", "clausemap", "export", str(model)], capture_output=True,
                            text=True, cwd=PROJECT_ROOT)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    expected = ("has no export; the kinds that have one: bert, ensemble" if target == "baseline"
                else "not a clausemap model")
    assert expected in result.stderr
    assert not (model / "onnx").exists()


def test_runtime_setting_chooses_the_engine(exported_dir, monkeypatch):
    monkeypatch.setenv("CLAUSEMAP_RUNTIME", "torch")
    forced = ServingSettings(model=exported_dir, dataset=default_dataset())
    assert forced.runtime == "torch"
    assert service_pipeline(forced).info["runtime"] == "torch-fp32"
    monkeypatch.delenv("CLAUSEMAP_RUNTIME")
    assert service_pipeline(ServingSettings(model=exported_dir, dataset=default_dataset())).info["runtime"] == \
        "onnx-int8"
    with pytest.raises(ValueError):
        ServingSettings(runtime="tensorrt")


def test_kinds_without_a_choice_ignore_the_runtime(baseline_model_dir):
    predictor = load_predictor(baseline_model_dir, "onnx")
    assert predictor.predict(TEXTS[:2])[0].labels
    assert "runtime" not in predictor.info


def test_model_info_through_the_service_names_the_runtime(exported_dir):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    with TestClient(create_app(ServingSettings(model=exported_dir, runtime="onnx"))) as client:
        client.portal.call(client.app.state.model.wait)
        assert client.get("/readyz").status_code == 200
        info = client.get("/v1/model").json()
    assert info["info"]["runtime"] == "onnx-int8"
    assert json.dumps(info["info"]["details"]["onnx"])


def test_quantizer_advice_is_muted_without_silencing_other_logging():
    import logging
    import os

    from training.kinds.onnx import _QuantizerAdvice

    def record(pathname):
        return logging.LogRecord("root", logging.WARNING, pathname, 1, "message", None, None)

    advice = _QuantizerAdvice()
    assert not advice.filter(record(os.path.join("site-packages", "onnxruntime", "quantization", "quantize.py")))
    assert advice.filter(record(os.path.join("serving", "retrain.py")))
