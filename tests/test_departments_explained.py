"""Each suggested section says why, in the API and in the XLSX 依据 column; collectives stand as written."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from clausemap.paths import default_dataset
from serving.app import create_app
from serving.exports import COLUMNS
from serving.settings import ServingSettings

pytestmark = [pytest.mark.model, pytest.mark.timeout(600)]

PLAN = ("2023年工作要点\n"
        "1.加强校园安全管理,开展防溺水和消防应急演练。\n"
        "2.推进学前教育普及普惠发展,新建公办幼儿园。(责任科室:基础教育科、各科室)\n")


@pytest.fixture(scope="module")
def client(tiny_model_dir):
    with TestClient(create_app(ServingSettings(model=tiny_model_dir, dataset=default_dataset()))) as c:
        c.portal.call(c.app.state.model.wait)
        yield c


def test_api_gives_each_suggestion_its_reasons_and_collectives_as_written(client):
    clauses = client.post("/v1/plans", json={"text": PLAN}).json()["clauses"]
    suggested, stated = clauses
    assert suggested["departments_source"] == "suggested"
    for section in suggested["departments"]:
        assert section["reasons"] and section["reasons"][0]["text"] == section["evidence"][0]
        assert {r["kind"] for r in section["reasons"]} <= {"history", "category", "keyword"}
    history = [r for s in suggested["departments"] for r in s["reasons"] if r["kind"] == "history"]
    assert history and all(r["bureau"] == "承德市教育局" and r["number"] and r["year"] == "2022" for r in history)
    assert stated["stated_departments"] == ["基础教育科"] and stated["collectives"] == ["各科室"]
    assert all(s["name"] != "各科室" for c in clauses for s in c["departments"])


def test_xlsx_reasons_in_the_evidence_column_and_collectives_in_the_sections(client):
    plan = client.post("/v1/plans", json={"text": PLAN}).json()
    response = client.post("/v1/plans?format=xlsx", json={"text": PLAN})
    rows = list(load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(values_only=True))
    evidence, lead, cooperating = COLUMNS.index("依据"), COLUMNS.index("牵头科室"), COLUMNS.index("配合科室")
    suggested = plan["clauses"][0]
    reasons = {d["name"]: d["evidence"][0] for d in suggested["departments"]}
    lines = rows[1][evidence].splitlines()
    for name in suggested["lead_departments"] + suggested["cooperating_departments"]:
        assert f"{name}: {reasons[name]}" in lines
    assert rows[2][lead] == "基础教育科" and rows[2][cooperating] == "各科室"
