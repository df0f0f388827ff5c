"""The model kinds, registered in one place.

A kind is one module that owns everything about it: its config section (a `ModelSection` subclass whose
`kind` names it), `fit`, the files it saves into an artifact, and the `Predictor` that loads and runs them.
The module ends with `register(ModelKind(...))`; the built-in kinds are imported on first use (by the module
names in BUILTIN, with importlib), so `clausemap --help` stays fast. Adding a kind touches its module and BUILTIN
below, nothing else; code outside training/kinds/ reaches a kind only through get_kind (and the Predictor it
names), never by importing its module:

    KIND = register(ModelKind(name="tfidf", section=TfidfSection, fit=fit, predictor=TfidfPredictor))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

# The registry is a leaf: it imports nothing from training/, so that the config, the artifact and the predictor
# can import it and a kind module can import them. What a kind receives and provides is named here by alias:
Config = Any  # training.config.Config
Example = Any  # training.data.Example: one clause or sentence and its labels
PredictorClass = type  # a training.inference.predictor.Predictor subclass: called with (path, meta[, runtime])
ExportFn = Callable[[Path], dict[str, Any]]
PartsFn = Callable[[Path], dict[str, Path]]

# kind name -> the module that registers it.
BUILTIN = {"bert": "training.kinds.bert", "tfidf": "training.kinds.tfidf", "linear": "training.kinds.linear",
           "ensemble": "training.kinds.ensemble"}


class ModelSection(BaseModel):
    """The `model:` section of a config; each kind subclasses it with its own fields."""

    model_config = ConfigDict(extra="forbid")
    kind: str

    def pretrained_sources(self) -> list[str]:
        """The pretrained encoders (names, hub names or paths) this section loads: what `models fetch --config`
        fetches. A kind that loads one overrides this."""
        return []

    def token_limit(self) -> int | None:
        """The tokens per unit the kind's predictor truncates to (recorded in the artifact), if it has a limit."""
        return None


@dataclass(frozen=True)
class FitJob:
    """What a kind's `fit` gets: the config, the units to fit on and to pick epochs with (clauses or sentences,
    training.train decides), the label order, and where to write."""

    config: Config
    train_units: list[Example]
    held_units: list[Example]
    labels: list[str]
    fallback: str
    out_dir: Path  # the artifact being built: the kind writes its files here
    scratch_dir: Path  # removed after training
    # The labelled rows the units were made from (a kind whose members are trained by training.train needs them).
    rows: tuple[Example, ...] = ()


@dataclass(frozen=True)
class ModelKind:
    name: str
    section: type[ModelSection]
    # Fits and writes the kind's files into job.out_dir; returns kind-specific details for the artifact
    # description (e.g. {"vocabulary_size": 9000}).
    fit: Callable[[FitJob], dict[str, Any]]
    predictor: PredictorClass
    # `clausemap export`: adds the kind's exported files (ONNX) to a trained artifact's folder and records them in
    # its clausemap.json; returns what it recorded. None: the kind has nothing to export.
    export: ExportFn | None = None
    # The complete artifacts inside a trained one, by name (an ensemble's members): cv scores each of them too,
    # from the same fold models, so a member alone is compared on exactly the models the ensemble combines.
    parts: PartsFn | None = None


_KINDS: dict[str, ModelKind] = {}


def register(kind: ModelKind) -> ModelKind:
    """Make a kind known to configs, training and loading (a test or plug-in may register its own)."""
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> ModelKind:
    """The registered kind `name`; KeyError naming the known ones if there is none."""
    if name not in _KINDS and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in _KINDS:
        raise KeyError(f"unknown model kind {name!r} (known: {', '.join(kind_names())})")
    return _KINDS[name]


def kind_names() -> list[str]:
    return sorted(set(BUILTIN) | set(_KINDS))
