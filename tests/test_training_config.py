"""Configs and dotted overrides: validation, typing and one-line errors naming the file and key."""

from __future__ import annotations

import pytest

from clausemap.cli import main
from clausemap.errors import ClausemapError, InputFileError
from clausemap.paths import PROJECT_ROOT
from training.config import load_config

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
    ("model.kind=gpt", "model.kind: unknown model kind 'gpt' (known: bert, ensemble, linear, "),
])
def test_bad_overrides_name_the_key(override, key):
    with pytest.raises(InputFileError) as err:
        load_config(CONFIGS / "tiny-test.yaml", [override])
    assert key in str(err.value)
    assert "tiny-test.yaml" in str(err.value)


def test_overrides_reach_an_ensembles_members_by_name_or_position():
    config = load_config(CONFIGS / "ensemble-m3e-ngrams.yaml", ["model.members.bert.training.epochs=1",
                                                                  "model.members.1.model.C_tfidf=2.0"])
    bert, ngrams = config.model.members
    assert (bert.name, bert.training.epochs, ngrams.model.C_tfidf) == ("bert", 1, 2.0)
    with pytest.raises(ClausemapError, match="model.members has no item 'gpt' \\(names: bert, ngrams"):
        load_config(CONFIGS / "ensemble-m3e-ngrams.yaml", ["model.members.gpt.training.epochs=1"])
    with pytest.raises(ClausemapError, match="model.members is a list; name one of its items"):
        load_config(CONFIGS / "ensemble-m3e-ngrams.yaml", ["model.members.bert=1"])
    with pytest.raises(InputFileError, match=r"members.0.training.epochs: Input should be greater than 0"):
        load_config(CONFIGS / "ensemble-m3e-ngrams.yaml", ["model.members.bert.training.epochs=0"])


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
