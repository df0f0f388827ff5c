"""clausemap.settings: one settings object, paths resolved once against one documented base, and the generated
docs/settings.md kept current."""

from pathlib import Path

import pytest

from clausemap import paths
from clausemap.settings import Settings
from serving.settings import ServingSettings
from serving.settings_doc import DOC, render


def test_relative_paths_resolve_against_home_and_absolute_ones_stay(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUSEMAP_HOME", str(tmp_path))
    monkeypatch.setenv("CLAUSEMAP_DATASET", "elsewhere/rows.jsonl")
    monkeypatch.setenv("CLAUSEMAP_FEEDBACK_DB", str(tmp_path / "abs" / "feedback.sqlite"))
    monkeypatch.delenv("CLAUSEMAP_MODEL", raising=False)
    settings = Settings()
    assert settings.dataset == tmp_path / "elsewhere" / "rows.jsonl"
    assert settings.model == tmp_path / "models" / "default"
    assert settings.feedback_db == tmp_path / "abs" / "feedback.sqlite"
    assert all(Path(getattr(settings, name)).is_absolute() for name in ("catalogues", "bureau_history", "cache"))


def test_every_entry_point_reads_the_same_object(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAUSEMAP_FEEDBACK_DB", str(tmp_path / "one.sqlite"))
    monkeypatch.setenv("CLAUSEMAP_SUGGESTED_SECTIONS", "4")
    assert issubclass(ServingSettings, Settings)
    assert paths.feedback_db() == Settings().feedback_db == ServingSettings().feedback_db == tmp_path / "one.sqlite"
    assert Settings().suggested_sections == ServingSettings().suggested_sections == 4


def test_label_studio_settings_keep_label_studios_names(monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://studio:8080")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "token")
    monkeypatch.setenv("CLAUSEMAP_API_KEY", "  ")
    settings = Settings()
    assert settings.label_studio_url == "http://studio:8080"
    assert settings.label_studio_api_key.get_secret_value() == "token"
    assert settings.api_key is None  # empty means unset, not a key nobody can send
    assert Settings.variable("label_studio_url") == "LABEL_STUDIO_URL"


@pytest.mark.parametrize("value", ["none", "0", "6"])  # 6: more than the five ranked candidates a clause gets
def test_a_bad_value_names_the_setting(monkeypatch, value):
    monkeypatch.setenv("CLAUSEMAP_SUGGESTED_SECTIONS", value)
    with pytest.raises(ValueError, match="suggested_sections"):
        Settings()


def test_every_setting_is_described():
    assert [name for name, field in ServingSettings.model_fields.items() if not field.description] == []


def test_the_settings_doc_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), \
        "docs/settings.md is out of date: run .venv/bin/python -m serving.settings_doc --write"
