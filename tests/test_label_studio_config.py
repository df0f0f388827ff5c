"""The parts of the Label Studio integration that need no server: config, connection settings, predictions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest

from clausemap.errors import ClausemapError, InputFileError
from labels.catalogue import load_catalogue
from labels.studio.config import (
    CATEGORIES_NAME,
    DEPARTMENTS_NAME,
    TEXT_NAME,
    config_choices,
    config_mismatch,
    label_config,
)
from labels.studio.connection import load_settings
from labels.studio.predictions import decision_certainty, prediction
from labels.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
CATALOGUE = load_catalogue()


def test_the_config_offers_every_category_by_id_with_its_name_and_description():
    root = ET.fromstring(label_config(TAXONOMY, CATALOGUE))
    [text] = [t for t in root.iter("Text")]
    assert text.get("name") == TEXT_NAME and text.get("value") == "$text"
    blocks = {b.get("name"): b for b in root.iter("Choices")}
    assert set(blocks) == {CATEGORIES_NAME, DEPARTMENTS_NAME}
    for block in blocks.values():
        assert block.get("toName") == TEXT_NAME and block.get("choice") == "multiple"
    choices = list(blocks[CATEGORIES_NAME].iter("Choice"))
    assert [c.get("alias") for c in choices] == TAXONOMY.ids
    for choice, category in zip(choices, TAXONOMY.categories):
        assert category.name in choice.get("value") and choice.get("hint") == category.description
    assert [c.get("value") for c in blocks[DEPARTMENTS_NAME].iter("Choice")] == CATALOGUE.names
    headers = [h.get("value") for h in root.iter("Header")]
    assert "$doc" in headers and "$section" in headers


def test_a_matching_config_has_no_mismatch_and_a_drifted_one_says_what_differs():
    config = label_config(TAXONOMY, CATALOGUE)
    assert config_mismatch(config, TAXONOMY, CATALOGUE) is None
    first = TAXONOMY.specific_ids[0]
    drifted = config.replace(f'alias="{first}"', 'alias="old_id"')
    problem = config_mismatch(drifted, TAXONOMY, CATALOGUE)
    assert f"categories lacks {first}" in problem and "unknown old_id" in problem
    narrower = label_config(TAXONOMY, CATALOGUE.model_copy(update={"departments": CATALOGUE.departments[1:]}))
    assert CATALOGUE.names[0] in config_mismatch(narrower, TAXONOMY, CATALOGUE)
    assert config_mismatch(narrower, TAXONOMY) is None  # departments are only checked against a catalogue
    with pytest.raises(ClausemapError, match="not valid XML"):
        config_choices("<View>")


def test_settings_come_from_the_environment_before_the_config_file(tmp_path, monkeypatch):
    path = tmp_path / "ls.yaml"
    path.write_text("url: http://studio.test:8080/\napi_key: file-key-123\n", encoding="utf-8")
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    settings = load_settings(path)
    assert settings.url == "http://studio.test:8080" and settings.api_key.get_secret_value() == "file-key-123"
    assert "file-key-123" not in repr(settings) and "file-key-123" not in str(settings)

    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "env-key-456")
    assert load_settings(path).api_key.get_secret_value() == "env-key-456"


def test_missing_or_bad_settings_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.setenv("CLAUSEMAP_LS_CONFIG", str(tmp_path / "absent.yaml"))
    with pytest.raises(ClausemapError, match="set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY"):
        load_settings()
    bad = tmp_path / "bad.yaml"
    bad.write_text("url: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="bad.yaml"):
        load_settings(bad)
    monkeypatch.setenv("LABEL_STUDIO_URL", "studio.test:8080")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "secret-789")
    with pytest.raises(ClausemapError, match="not an http") as error:
        load_settings()
    assert "secret-789" not in str(error.value)


@dataclass
class Suggestion:
    name: str
    score: float
    lead: bool = False
    evidence: list = field(default_factory=list)


@dataclass
class Result:
    scores: dict
    labels: list
    departments: list


def test_a_prediction_prefills_both_blocks_within_what_the_project_offers():
    a, b, c = TAXONOMY.specific_ids[:3]
    d1, d2, d3, d4 = CATALOGUE.names[:4]
    result = Result(
        scores={a: 0.9, b: 0.7, c: 0.05},
        labels=[a, b],
        departments=[Suggestion(d1, 0.9, lead=True), Suggestion(d2, 0.6), Suggestion(d3, 0.1), Suggestion(d4, 0.5)],
    )
    pred = prediction(result, "v1", categories=[a, c], departments=[d1, d2, d3])
    assert pred["model_version"] == "v1" and pred["score"] == pytest.approx(0.7)  # the least sure decision: b
    items = {item["from_name"]: item for item in pred["result"]}
    assert items[CATEGORIES_NAME]["value"]["choices"] == [a]  # b is not offered by this project
    # Lead first, then runners-up within half the best score; d3 is too weak, d4 not offered.
    assert items[DEPARTMENTS_NAME]["value"]["choices"] == [d1, d2]
    assert all(item["to_name"] == TEXT_NAME and item["type"] == "choices" for item in pred["result"])


def test_confidence_is_lowest_for_scores_near_one_half():
    assert decision_certainty({"x": 0.5, "y": 0.99}) == pytest.approx(0.5)
    assert decision_certainty({"x": 0.02, "y": 0.97}) == pytest.approx(0.97)


@pytest.mark.parametrize("api_key, warned", [(None, True), ("s3cret", False)])
def test_connect_without_an_api_key_warns_that_retraining_will_be_refused(tmp_path, monkeypatch, capsys,
                                                                          api_key, warned):
    """The warning comes before Label Studio is reached: here there is no Label Studio connection at all."""
    from clausemap.cli import main

    for name in ("CLAUSEMAP_API_KEY", "LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUSEMAP_LS_CONFIG", str(tmp_path / "none.yaml"))
    if api_key:
        monkeypatch.setenv("CLAUSEMAP_API_KEY", api_key)
    assert main(["label", "connect", "--project", "p", "--service", "http://127.0.0.1:8000"]) == 2
    err = capsys.readouterr().err
    assert "no Label Studio connection" in err  # it went on to connect
    warning = [line for line in err.splitlines() if line.startswith("clausemap: warning:")]
    if warned:
        assert len(warning) == 1 and "refuse" in warning[0] and "retrain" in warning[0]
        assert "CLAUSEMAP_API_KEY" in warning[0] and "CLAUSEMAP_RETRAIN_WITHOUT_API_KEY=true" in warning[0]
    else:
        assert warning == [] and api_key not in err
