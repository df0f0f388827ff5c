"""The seams: one module per model kind (registered in one place) and a typed artifact that ships its taxonomy."""

from __future__ import annotations

import json

import pytest
import yaml
from fastapi.testclient import TestClient

from clausemap.cli import main
from clausemap.errors import InputFileError
from clausemap.paths import PROJECT_ROOT
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support.toy_kind import register_toy
from training.inference.artifact import ARTIFACT_FILE, TAXONOMY_FILE, read_meta
from training.config import load_config
from training.inference.predictor import load_predictor

pytestmark = pytest.mark.model

CONFIGS = PROJECT_ROOT / "configs"
TOY_TAXONOMY = {"categories": [
    {"id": "kindergarten", "name": "幼儿园", "description": "幼儿园 学前"},
    {"id": "money", "name": "钱", "description": "经费 资金"},
    {"id": "rest", "name": "其余", "description": "none of them", "fallback": True},
]}


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    rows = []
    for doc in ("d1", "d2", "d3"):
        rows += [{"id": f"{doc}-1", "doc": doc, "text": "新建幼儿园三所,提高学前入园率。", "categories": ["kindergarten"]},
                 {"id": f"{doc}-2", "doc": doc, "text": "落实经费保障,管好专项资金。", "categories": ["money"]},
                 {"id": f"{doc}-3", "doc": doc, "text": "推进课程改革,提升教学质量。", "categories": ["rest"]}]
    (folder / "rows.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    (folder / "taxonomy.yaml").write_text(yaml.safe_dump(TOY_TAXONOMY, allow_unicode=True), encoding="utf-8")
    config = {"name": "toy", "model": {"kind": "toy", "top_chars": 8},
              "data": {"path": str(folder / "rows.jsonl"), "taxonomy": str(folder / "taxonomy.yaml")}}
    (folder / "toy.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def test_a_new_kind_in_one_file_trains_saves_loads_and_serves_with_its_taxonomy(toy_data, tmp_path, capsys):
    register_toy()
    config = load_config(toy_data / "toy.yaml")
    assert config.model.top_chars == 8
    with pytest.raises(InputFileError, match="model.top_charz: unknown key"):
        load_config(toy_data / "toy.yaml", ["model.top_charz=3"])

    model = tmp_path / "model"
    assert main(["train", "--config", str(toy_data / "toy.yaml"), "--output", str(model)]) == 0
    meta = read_meta(model)
    assert meta.kind == "toy" and meta.details == {"chars": meta.details["chars"]}
    assert meta.labels == ["kindergarten", "money", "rest"]
    # The artifact ships the taxonomy it was trained on ...
    assert yaml.safe_load((model / TAXONOMY_FILE).read_text(encoding="utf-8")) == TOY_TAXONOMY
    predictor = load_predictor(model)
    assert predictor.predict(["新建幼儿园两所。"])[0].labels == ["kindergarten"]

    # ... and is served with it: the API's categories are the toy ones, not labels/taxonomy.yaml's.
    with TestClient(create_app(ServingSettings(model=model, history=None, dataset=tmp_path / "none.jsonl"))) as c:
        c.portal.call(c.app.state.model.wait)
        assert [x["id"] for x in c.get("/v1/taxonomy").json()["categories"]] == meta.labels
        result = c.post("/v1/classify", json={"clauses": ["落实经费保障,管好资金。"]}).json()["results"][0]
        assert result["labels"] == ["money"]
        assert [x["name"] for x in result["categories"]] == ["幼儿园", "钱", "其余"]
        info = c.get("/v1/model").json()["info"]
        assert info["kind"] == "toy" and info["history"] == {"source": "none", "rows": 0}


def test_artifacts_of_an_unknown_format_or_kind_are_refused_clearly(baseline_model_dir, tmp_path):
    meta = json.loads((baseline_model_dir / ARTIFACT_FILE).read_text(encoding="utf-8"))
    for n, (change, message) in enumerate([({"format": 99}, "artifact format 99 is not one this clausemap reads"),
                            ({"kind": "nope"}, "unknown model kind 'nope'"),
                            ({"fallback": "nope"}, "fallback 'nope' is not one of the labels")]):
        broken = tmp_path / f"broken-{n}"
        broken.mkdir()
        (broken / ARTIFACT_FILE).write_text(json.dumps({**meta, **change}), encoding="utf-8")
        with pytest.raises(InputFileError, match=message):
            read_meta(broken)


def test_a_format_1_artifact_still_loads(baseline_model_dir, tmp_path):
    """Artifacts written before the typed description (format 1: kind facts beside the core keys, no unit, no
    shipped taxonomy) load as they are."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(baseline_model_dir, old)
    meta = json.loads((old / ARTIFACT_FILE).read_text(encoding="utf-8"))
    details = meta.pop("details")
    for key in ("unit", "n_train_written", "thresholds_from"):
        meta.pop(key)
    (old / ARTIFACT_FILE).write_text(json.dumps({**meta, "format": 1, **details}), encoding="utf-8")
    (old / TAXONOMY_FILE).unlink()
    loaded = read_meta(old)
    assert loaded.unit == "clause" and loaded.details == details
    assert load_predictor(old).predict(["推进学前教育普及普惠发展。"])[0].labels
