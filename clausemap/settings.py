"""The one settings object: every CLAUSEMAP_* environment variable, and Label Studio's two, is read here.

    from clausemap.settings import Settings
    Settings().dataset        # an absolute path: data/dataset.jsonl under `home`, or CLAUSEMAP_DATASET

A relative path in a setting is resolved once, here, against `home` (CLAUSEMAP_HOME; default: the checkout
clausemap runs from, where configs/, data/, labels/ and seeds/ are). Paths given on the command line are relative
to the current directory, as usual. The service adds its own settings (serving.settings.ServingSettings extends
this object); docs/settings.md is generated from the field descriptions (`python -m serving.settings_doc`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from clausemap import PROJECT_ROOT
from clausemap.clauses.budgets import DocumentBudgets


# The ranked sections listed per clause in results (seed 000 names at most five for an item): the candidates
# shown, not a setting. How many of them are suggested (the breakdown, Label Studio's pre-selection) is the
# suggested_sections setting, at most this many.
RANKED_SECTIONS = 5


def _shown(default: str) -> dict:
    """How docs/settings.md shows a default that is worked out at run time."""
    return {"shown_default": default}


class Settings(DocumentBudgets):
    """Every field can be set as CLAUSEMAP_<NAME> (e.g. CLAUSEMAP_DATASET=/srv/data/dataset.jsonl), except the two
    Label Studio ones, which keep Label Studio's own names."""

    model_config = SettingsConfigDict(env_prefix="CLAUSEMAP_", extra="ignore", populate_by_name=True)

    home: Path = Field(PROJECT_ROOT, description="the folder relative paths in these settings are resolved against",
                       json_schema_extra=_shown("the checkout (where configs/, data/, labels/, seeds/ are)"))
    cache: Path | None = Field(
        None, description="user cache: fetched encoders, retrained models, the model's scores of the annotated rows, "
        "the Label Studio test install",
        json_schema_extra=_shown("$XDG_CACHE_HOME/clausemap, else ~/.cache/clausemap"))
    model: Path = Field(Path("models/default"), description="the model artifact `clausemap serve` serves "
                        "(`--model` overrides)")
    catalogue: str | None = Field(
        None, description="the default department catalogue, a file or an id (`--catalogue` overrides); requests "
        "may name another", json_schema_extra=_shown("the model's own"))
    catalogues: Path = Field(Path("labels/catalogues"), description="the folder of catalogues found by id, one "
                             "<id>.yaml per bureau; new bureaus are written here (the shipped folder is always "
                             "searched too)")
    bureau_history: Path = Field(Path("data/history"), description="each bureau's table history, <id>.jsonl")
    history: Path | None = Field(
        None, description="annotated rows (JSONL) the department suggestions learn from; /v1/model says which file "
        "was used", json_schema_extra=_shown("the model's history.jsonl, else `dataset`"))
    dataset: Path = Field(Path("data/dataset.jsonl"), description="the annotated dataset `clausemap data build` "
                          "writes: the history fallback, and the base rows of Label Studio retraining")
    feedback_db: Path = Field(Path("data/feedback.sqlite"), description="the SQLite database of staff corrections "
                              "(/v1/feedback, `feedback export`, `data build`; git-ignored); a broken one is named at "
                              "startup, the feedback endpoints answer 503 and the service still classifies")
    retrained_models: Path | None = Field(
        None, description="where retraining started from Label Studio writes its models",
        json_schema_extra=_shown("`cache`/retrained"))
    keep_models: int = Field(3, ge=1, description="retrained models kept; older ones are removed after each "
                             "retrain, never the one being served")
    runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="bert models: auto serves the int8 ONNX export when the model has one, else PyTorch")
    api_key: SecretStr | None = Field(
        None, description="the service's API key: when set, every endpoint but /healthz and /readyz needs it "
        "(X-API-Key: KEY, Authorization: Bearer KEY, or Basic auth with KEY as the password), else 401; the page, its "
        "static files and /docs stay open. `label connect` sends it to Label Studio")
    suggested_sections: int = Field(
        3, gt=0, le=RANKED_SECTIONS, description="how many sections a clause is suggested (lead included; at most "
        f"{RANKED_SECTIONS}, the ranked candidates it gets): in the breakdown when the "
        "plan names none, and pre-selected in Label Studio")
    ls_config: Path | None = Field(
        None, description="a YAML file with url: and api_key: for Label Studio (the two settings below win)",
        json_schema_extra=_shown("$XDG_CONFIG_HOME/clausemap/label-studio.yaml, else ~/.config/…"))
    label_studio_url: str | None = Field(
        None, validation_alias=AliasChoices("LABEL_STUDIO_URL"), description="the Label Studio server, e.g. "
        "http://localhost:8080: the one `clausemap label` works with and the service fetches annotations from when it "
        "retrains", json_schema_extra={"variable": "LABEL_STUDIO_URL"})
    label_studio_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("LABEL_STUDIO_API_KEY"), description="its API token (never printed or "
        "logged)", json_schema_extra={"variable": "LABEL_STUDIO_API_KEY"})

    @field_validator("api_key", "catalogue", "history", "label_studio_url", "label_studio_api_key", "cache",
                     "retrained_models", "ls_config", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        """CLAUSEMAP_API_KEY= (empty) means no key, not a key nobody can send."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _resolve_paths(self):
        """Every path absolute, once: relative ones against `home`, ~ expanded; unset ones worked out."""
        self.home = self.home.expanduser().resolve()
        if self.cache is None:
            self.cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "clausemap"
        if self.retrained_models is None:
            self.retrained_models = self.resolved(self.cache) / "retrained"
        if self.ls_config is None:
            self.ls_config = Path(os.environ.get("XDG_CONFIG_HOME") or "~/.config") / "clausemap" / "label-studio.yaml"
        for name in ("cache", "model", "catalogues", "bureau_history", "history", "dataset", "feedback_db",
                     "retrained_models", "ls_config"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, self.resolved(value))
        return self

    def resolved(self, path: str | Path) -> Path:
        path = Path(path).expanduser()
        return path if path.is_absolute() else self.home / path

    @classmethod
    def problem(cls, error: ValidationError) -> str:
        """A settings validation error in one line naming the variable: `CLAUSEMAP_MAX_CLAUSES: Input should …`."""
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        variable = cls.variable(name) if name in cls.model_fields else name
        return f"{variable}: {first['msg']}"

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of a field: CLAUSEMAP_<NAME>, or the name a field keeps (LABEL_STUDIO_URL)."""
        extra = cls.model_fields[name].json_schema_extra or {}
        return extra.get("variable") or f"CLAUSEMAP_{name.upper()}"
