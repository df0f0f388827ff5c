"""training.inference.pipeline: categories from a real (TF-IDF) model artifact plus department suggestions, the one path
the service, `label push` and the ML backend share."""

from __future__ import annotations

import json

import pytest
import yaml

from clausemap.paths import PROJECT_ROOT
from labels.catalogue import load_catalogue
from labels.taxonomy import load_taxonomy
from tests.support.markers import needs
from training.config import load_config
from training.data import Example
from training.inference.pipeline import HISTORY_FILE, load_pipeline, write_annotated_rows

pytestmark = pytest.mark.model

TRAINING = [
    ("推进学前教育普及普惠发展，新建公办幼儿园，提升保教质量。", ["preschool"]),
    ("办好乡镇公办中心幼儿园，开展幼小科学衔接。", ["preschool"]),
    ("加强师德师风建设，开展国培省培项目。", ["teachers"]),
    ("推进县管校聘改革，完善教师交流轮岗。", ["teachers"]),
    ("落实教育经费两个只增不减，加强预算绩效管理。", ["finance"]),
    ("全面落实学生资助政策，开展内部审计。", ["finance"]),
    ("做好校园安全工作，防溺水、防欺凌、消防演练。", ["safety"]),
    ("全面从严治党，落实党风廉政建设责任制。", ["party_building"]),
    ("推动职业教育优质特色发展，深化产教融合。", ["vocational"]),
    ("持续提升国家通用语言文字普及水平。", ["other"]),
]

HISTORY = [
    {"id": "past-1", "doc": "past", "number": "1", "text": "推进学前教育普及普惠发展，扩大普惠性资源。",
     "departments": ["基础教育科", "规划财务科"], "lead_departments": ["基础教育科"], "categories": ["preschool"]},
    {"id": "past-2", "doc": "past", "number": "2", "text": "严抓师德师风建设，完善师德考核。",
     "departments": ["教师工作科", "人事组干科"], "lead_departments": ["教师工作科"], "categories": ["teachers"]},
    {"id": "past-3", "doc": "past", "number": "3", "text": "没有标注科室的条目。", "departments": []},
]


@pytest.fixture(scope="module")
@needs("model")
def model_dir(tmp_path_factory):
    from training.train import train

    config = load_config(PROJECT_ROOT / "configs" / "baseline-tfidf.yaml", ["training.validation_fraction=0"])
    examples = [Example(f"t-{i}", "t", text, tuple(cats)) for i, (text, cats) in enumerate(TRAINING)]
    out = tmp_path_factory.mktemp("model") / "tfidf"
    train(config, out, examples)
    return out


def test_classify_gives_categories_and_ranked_departments(model_dir):
    pipeline = load_pipeline(model_dir, annotated=HISTORY)
    taxonomy = load_taxonomy()
    assert pipeline.model_version == pipeline.predictor.model_version
    assert pipeline.catalogue == load_catalogue() and pipeline.taxonomy == taxonomy
    assert len(pipeline.suggester.history) == 2  # the row without departments is not history

    results = pipeline.classify(["推进学前教育普及普惠发展，新建幼儿园。", "加强师德师风建设。"])
    assert [r.text for r in results] == ["推进学前教育普及普惠发展，新建幼儿园。", "加强师德师风建设。"]
    for result in results:
        assert set(result.scores) == set(taxonomy.ids)
        assert result.labels and set(result.labels) <= set(taxonomy.ids)
        assert sum(d.lead for d in result.departments) == 1
        assert all(d.evidence for d in result.departments)
    preschool, teachers = results
    assert preschool.departments[0].name == "基础教育科" and preschool.departments[0].lead
    assert any(e.startswith("similar to past item 1") for e in preschool.departments[0].evidence)
    assert teachers.departments[0].name == "教师工作科"


def test_empty_input(model_dir):
    assert load_pipeline(model_dir, annotated=HISTORY).classify([]) == []


def test_another_bureaus_catalogue_reuses_the_model(model_dir, tmp_path):
    path = tmp_path / "departments-testcity.yaml"
    path.write_text(
        yaml.safe_dump(
            {"id": "testcity", "bureau": "测试市教育局", "departments": [
                {"name": "学前科", "responsibility": "幼儿园管理", "categories": ["preschool"]},
                {"name": "人事科", "responsibility": "教师招聘和培训", "categories": ["teachers"]}]},
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    pipeline = load_pipeline(model_dir, annotated=HISTORY)
    other = pipeline.for_catalogue(path)
    assert other.predictor is pipeline.predictor and other.catalogue.id == "testcity"
    assert pipeline.for_catalogue(path) is other  # built once
    assert pipeline.for_catalogue(None) is pipeline and pipeline.for_catalogue("chengde") is pipeline
    [result] = other.classify(["推进学前教育普及普惠发展，新建幼儿园。"])
    assert result.departments[0].name == "学前科"
    assert {d.name for d in result.departments} <= {"学前科", "人事科"}
    assert other.suggester.history == []  # the history names no section of this bureau


def test_history_stored_in_the_artifact_is_used_by_default(model_dir):
    assert write_annotated_rows(model_dir, HISTORY) == 2
    try:
        lines = (model_dir / HISTORY_FILE).read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["id"] for line in lines] == ["past-1", "past-2"]
        pipeline = load_pipeline(model_dir)
        assert pipeline.annotated.source == str(model_dir / HISTORY_FILE)
        assert [h.id for h in pipeline.suggester.history] == ["past-1", "past-2"]
    finally:
        (model_dir / HISTORY_FILE).unlink()


def test_catalogue_shipped_in_the_artifact_is_the_default(model_dir):
    data = yaml.safe_load((PROJECT_ROOT / "labels" / "catalogues" / "chengde.yaml").read_text(encoding="utf-8"))
    data["id"] = "shipped-with-model"
    (model_dir / "departments.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        assert load_pipeline(model_dir, annotated=[]).catalogue.id == "shipped-with-model"
        assert load_pipeline(model_dir, catalogue="chengde", annotated=[]).catalogue.id == "chengde"
    finally:
        (model_dir / "departments.yaml").unlink()
