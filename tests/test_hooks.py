"""clausemap.hooks: a later stage's services are registered explicitly, not by building the command line."""

import pytest

import clausemap.hooks as hooks
from clausemap.cli import build_parser, provide_hooks
from clausemap.errors import ClausemapError


@pytest.fixture
def no_hooks(monkeypatch):
    monkeypatch.setattr(hooks, "_pipeline_loader", None)


def test_building_the_parser_registers_nothing(no_hooks):
    build_parser()
    with pytest.raises(ClausemapError, match="provide_hooks"):
        hooks.load_pipeline("models/none")


def test_provide_hooks_registers_the_training_stages_model_loader(no_hooks, tmp_path):
    provide_hooks()
    # The training stage's loader now answers, here refusing a folder that holds no model.
    with pytest.raises(ClausemapError, match="not a clausemap model"):
        hooks.load_pipeline(tmp_path / "missing")
