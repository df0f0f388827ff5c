"""Training configs: YAML files validated by pydantic, with spaCy-style dotted overrides.

`load_config("configs/m3e-small.yaml", ["training.epochs=3"])` reads the file, applies the overrides and
validates the result; unknown keys and bad values raise an InputFileError naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import read_yaml
from clausemap.paths import PROJECT_ROOT


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RandomBert(_Strict):
    """A small randomly initialised BERT whose character vocabulary is built from the training texts."""

    hidden_size: int = Field(32, gt=0)
    num_hidden_layers: int = Field(2, gt=0)
    num_attention_heads: int = Field(2, gt=0)
    intermediate_size: int = Field(64, gt=0)
    # BERT's 0.02 suits width 768; a narrow model trained from scratch needs ~1/sqrt(width) or it barely learns.
    initializer_range: float = Field(0.2, gt=0)
    min_char_count: int = Field(1, ge=1, description="characters seen fewer times map to [UNK]")

    @model_validator(mode="after")
    def _heads_divide_hidden(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        return self


class BertModelConfig(_Strict):
    kind: Literal["bert"]
    # A name from `clausemap models fetch` (e.g. m3e-small), a hub name (bert-base-chinese) or a local path.
    pretrained: str | None = None
    random_init: RandomBert | None = None
    max_length: int = Field(256, gt=8, le=512)
    # Train only the pooler and classifier on top of the frozen pretrained encoder.
    freeze_encoder: bool = False

    @model_validator(mode="after")
    def _one_source(self):
        if (self.pretrained is None) == (self.random_init is None):
            raise ValueError("give exactly one of model.pretrained and model.random_init")
        return self


class TfidfModelConfig(_Strict):
    kind: Literal["tfidf"]
    ngram_min: int = Field(1, ge=1)
    ngram_max: int = Field(3, ge=1)
    min_df: int = Field(1, ge=1)
    max_features: int | None = Field(None, gt=0)
    sublinear_tf: bool = True
    C: float = Field(4.0, gt=0, description="inverse regularisation strength of the logistic regressions")

    @model_validator(mode="after")
    def _ngram_order(self):
        if self.ngram_max < self.ngram_min:
            raise ValueError("ngram_max must be >= ngram_min")
        return self


class NgramFeatures(_Strict):
    ngram_min: int = Field(1, ge=1)
    ngram_max: int = Field(3, ge=1)
    min_df: int = Field(1, ge=1)


class LinearModelConfig(_Strict):
    """Logistic-regression heads on a frozen sentence encoder and on character n-grams, mixed."""

    kind: Literal["linear"]
    # A name from `clausemap models fetch`, a hub name or a local path; null: n-grams only.
    encoder: str | None = "m3e-small"
    max_length: int = Field(128, gt=8, le=512)
    tfidf: NgramFeatures | None = NgramFeatures()  # null: encoder only
    C_encoder: float = Field(1.0, gt=0)
    C_tfidf: float = Field(4.0, gt=0)
    # The mixed score is encoder_weight × encoder head + (1 − encoder_weight) × n-gram head.
    encoder_weight: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _some_features(self):
        if not self.encoder and not self.tfidf:
            raise ValueError("give model.encoder, model.tfidf or both")
        return self


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
    model: Annotated[Union[BertModelConfig, TfidfModelConfig, LinearModelConfig], Field(discriminator="kind")]
    training: TrainingConfig = TrainingConfig()
    thresholds: ThresholdConfig = ThresholdConfig()
    data: DataConfig = DataConfig()

    def resolve(self, path: Path) -> Path:
        """Relative data paths are relative to the project root (where `configs/` lives)."""
        return path if path.is_absolute() else PROJECT_ROOT / path


_UNION_TAGS = {"bert", "tfidf", "linear"}


def _key_of(loc: tuple) -> str:
    # pydantic puts the union tag into the location ("model.bert.max_length"); users never write it.
    parts = [str(p) for i, p in enumerate(loc) if not (i == 1 and loc[0] == "model" and p in _UNION_TAGS)]
    return ".".join(parts) or "(top level)"


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
    for text in overrides:
        keys, value = parse_override(text)
        node = raw
        for depth, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ClausemapError(f"override {text!r}: {where} is not a section")
            node = child
        node[keys[-1]] = value
    return raw


def validate_config(raw: object, source: str | Path) -> Config:
    if not isinstance(raw, dict):
        raise InputFileError(source, "a config must be a YAML mapping")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append(f"{_key_of(err['loc'])}: {msg}")
        raise InputFileError(source, "; ".join(problems)) from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    raw = read_yaml(path, "config")
    if isinstance(raw, dict):
        raw = apply_overrides(raw, overrides or [])
    return validate_config(raw, path)
