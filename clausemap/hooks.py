"""Late-bound services: what a lower stage of the data flow may call without importing a later one.

Stages import only downward (clauses ← labels ← training ← serving). `clausemap label push --model DIR` (the
labels stage) pre-annotates with the model, which the training stage loads; so the training stage provides the
loader here (training.cli.provide_hooks, called explicitly by clausemap.cli.main before a command runs, never as
a side effect of an import or of building the parser), and the labels stage asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clausemap.errors import ClausemapError

_pipeline_loader: Callable[..., Any] | None = None


def provide_pipeline_loader(loader: Callable[..., Any]) -> None:
    global _pipeline_loader
    _pipeline_loader = loader


def load_pipeline(model_dir, **options) -> Any:
    """The inference pipeline of a model artifact (training.inference.pipeline.load_pipeline, once provided)."""
    if _pipeline_loader is None:
        raise ClausemapError("loading a model needs the training stage: call clausemap.cli.provide_hooks() first "
                             "(the clausemap command does)")
    return _pipeline_loader(model_dir, **options)
