"""Training configs: YAML files validated by pydantic, with spaCy-style dotted overrides.

`load_config("configs/m3e-small.yaml", ["training.epochs=3"])` reads the file, applies the overrides and
validates the result; unknown keys and bad values raise an InputFileError naming the key. The `model:` section
is validated by the section class of its `kind` (training.kinds), so each kind declares its own keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError

from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import read_yaml
from clausemap.paths import PROJECT_ROOT
from training.kinds import ModelSection, get_kind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainingConfig(_Strict):
    seed: int = 13
    # What the model is trained on and scores: whole clauses, or annotated sentences (a clause then takes each
    # category's best sentence score). Rows without sentence labels train as whole clauses either way.
    unit: Literal["clause", "sentence"] = "clause"
    # With unit: sentence, train on the whole clauses too.
    include_clauses: bool = True
    # Share of the training rows held out to tune the per-label thresholds (and pick the best epoch).
    validation_fraction: float = Field(0.2, ge=0.0, lt=0.9)
    epochs: float = Field(4, gt=0)
    learning_rate: float = Field(1e-4, gt=0)
    batch_size: int = Field(16, gt=0)
    eval_batch_size: int = Field(32, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    # Positive-class weight of the BCE loss per label is neg/pos from the training rows, capped here.
    pos_weight_cap: float = Field(10.0, ge=1.0)
    # Keep the epoch with the best held-out macro-F1 (needs validation_fraction > 0).
    select_best: bool = True
    max_steps: int = Field(-1, ge=-1, description="stop after this many optimiser steps (-1: run all epochs)")


class ThresholdConfig(_Strict):
    tune: bool = True
    default: float = Field(0.5, gt=0, lt=1)
    # heldout: tune on the validation_fraction of real rows held out; oof: on out-of-fold scores of every real
    # training row (one model per training document, trained on the others), then train on all rows.
    source: Literal["heldout", "oof"] = "heldout"


class DataConfig(_Strict):
    path: Path = Path("data/dataset.jsonl")
    splits: Path = Path("data/splits.json")
    taxonomy: Path | None = None
    # Rows written for training (source: written): trained on, never evaluated on. null: none.
    written: Path | None = None


class Config(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    model: SerializeAsAny[ModelSection]  # validated by its kind's section class (validate_config)
    training: TrainingConfig = TrainingConfig()
    thresholds: ThresholdConfig = ThresholdConfig()
    data: DataConfig = DataConfig()

    def resolve(self, path: Path) -> Path:
        """Relative data paths are relative to the project root (where `configs/` lives)."""
        return path if path.is_absolute() else PROJECT_ROOT / path


def _key_of(loc: tuple, prefix: tuple = ()) -> str:
    return ".".join(str(p) for p in (*prefix, *loc)) or "(top level)"


def _problems(exc: ValidationError, prefix: tuple = ()) -> list[str]:
    problems = []
    for err in exc.errors():
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{_key_of(err['loc'], prefix)}: {msg}")
    return problems


def model_section(raw: object) -> tuple[ModelSection | None, list[str]]:
    """The `model:` section validated by its kind's own class, or the problems found."""
    if not isinstance(raw, dict):
        return None, ["model: Field required" if raw is None else "model: must be a mapping with a 'kind'"]
    try:
        kind = get_kind(str(raw.get("kind")))
    except KeyError as exc:
        return None, [f"model.kind: {exc.args[0]}"]
    try:
        return kind.section.model_validate(raw), []
    except ValidationError as exc:
        return None, _problems(exc, ("model",))


def parse_override(text: str) -> tuple[list[str], object]:
    """'training.epochs=3' -> (['training', 'epochs'], 3); the value is read as YAML (numbers, bools, lists)."""
    key, sep, value = text.partition("=")
    key = key.strip().removeprefix("--")
    if not sep or not key or any(not part for part in key.split(".")):
        raise ClausemapError(f"override {text!r}: expected KEY.PATH=VALUE, e.g. training.epochs=3")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.split("."), parsed


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Set each dotted key; in a list of named sections (an ensemble's members) a key picks an item by its name
    or position: `model.members.bert.training.epochs=1`, `model.members.0.training.epochs=1`."""
    for text in overrides:
        keys, value = parse_override(text)
        node = raw
        for depth, key in enumerate(keys[:-1]):
            where = ".".join(keys[: depth + 1])
            child = _list_item(node, key, text, where) if isinstance(node, list) else node.setdefault(key, {})
            if not isinstance(child, dict | list):
                raise ClausemapError(f"override {text!r}: {where} is not a section")
            node = child
        if isinstance(node, list):
            raise ClausemapError(f"override {text!r}: {'.'.join(keys[:-1])} is a list; name one of its items "
                                 "and a key in it")
        node[keys[-1]] = value
    return raw


def _list_item(items: list, key: str, text: str, where: str) -> dict:
    names = [item.get("name") for item in items if isinstance(item, dict)]
    for position, item in enumerate(items):
        if isinstance(item, dict) and key in (item.get("name"), str(position)):
            return item
    raise ClausemapError(f"override {text!r}: {where.rpartition('.')[0]} has no item {key!r} "
                         f"(names: {', '.join(map(str, names))}; or a position from 0)")


def validate_config(raw: object, source: str | Path) -> Config:
    if not isinstance(raw, dict):
        raise InputFileError(source, "a config must be a YAML mapping")
    model, problems = model_section(raw.get("model"))
    try:
        config = Config.model_validate({**raw, "model": model} if model else {k: v for k, v in raw.items()
                                                                             if k != "model"})
    except ValidationError as exc:
        problems += [p for p in _problems(exc) if not (model is None and p.startswith("model:"))]
    if problems:
        raise InputFileError(source, "; ".join(problems)) from None
    return config


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    raw = read_yaml(path, "config")
    if isinstance(raw, dict):
        raw = apply_overrides(raw, overrides or [])
    return validate_config(raw, path)
