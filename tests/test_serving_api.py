"""The HTTP API on a real tiny model artifact: every endpoint, the exports, and concurrent requests."""

from __future__ import annotations

import asyncio
import csv
import json
import io

import httpx
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from clausemap.clauses import segment_text
from clausemap.paths import PROJECT_ROOT, default_dataset
from labels.taxonomy import load_taxonomy
from serving.app import create_app
from serving.exports import COLUMNS
from serving.settings import ServingSettings
from tests.support.documents import make_docx, make_pdf

pytestmark = pytest.mark.model

SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))
CLAUSES = [
    "推进学前教育普及普惠发展，新建改扩建公办幼儿园10所，提升保教质量。",
    "加强教师队伍建设，落实教师工资待遇，开展国培省培项目。",
    "全面从严治党，落实党风廉政建设责任制。",
    "加强校园安全管理，开展防溺水和消防应急演练。",
]


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir):
    from training.inference.pipeline import load_pipeline

    return load_pipeline(tiny_model_dir, fallback_annotated=default_dataset())  # as the service does


@pytest.fixture(scope="module")
def client(tiny_model_dir):
    # The model loads in the background at startup, as in production; wait for it rather than poll.
    with TestClient(create_app(ServingSettings(model=tiny_model_dir))) as c:
        c.portal.call(c.app.state.model.wait)
        yield c


@pytest.fixture(scope="module")
def seed_plan():
    text = SEED_000.read_text(encoding="utf-8")
    return text, segment_text(text, doc="000")


def test_health_and_readiness(client):
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_classify_gives_every_category_labels_departments_and_version(client, pipeline):
    response = client.post("/v1/classify", json={"clauses": CLAUSES})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == pipeline.model_version
    taxonomy = load_taxonomy()
    thresholds = pipeline.predictor.thresholds
    assert len(body["results"]) == len(CLAUSES)
    for text, result in zip(CLAUSES, body["results"], strict=True):
        assert result["text"] == text
        assert [c["id"] for c in result["categories"]] == taxonomy.ids
        assert [c["name"] for c in result["categories"]] == [taxonomy.name_of(i) for i in taxonomy.ids]
        specific = [c["id"] for c in result["categories"] if c["id"] in taxonomy.specific_ids
                    and c["score"] >= thresholds[c["id"]]]
        assert result["labels"] == (specific or [taxonomy.fallback_id])
        assert all(c["assigned"] == (c["id"] in result["labels"]) for c in result["categories"])
        scores = [d["score"] for d in result["departments"]]
        assert scores == sorted(scores, reverse=True)
        assert all(isinstance(d["lead"], bool) and isinstance(d["evidence"], list) for d in result["departments"])
        given = [c["score"] for c in result["categories"] if c["assigned"]]
        assert result["confidence"] == pytest.approx(min(given), abs=1e-4)
        assert result["low_confidence"] == (result["confidence"] < ServingSettings().low_confidence)


def test_each_category_given_shows_its_sentences_as_evidence(client, pipeline):
    clause = "推进学前教育普及普惠发展。落实教师工资待遇,开展国培省培项目。加强校园安全管理,开展防溺水演练。"
    body = client.post("/v1/classify", json={"clauses": [clause, *CLAUSES]}).json()
    direct = pipeline.classify([clause, *CLAUSES])
    fallback = load_taxonomy().fallback_id
    for result, expected in zip(body["results"], direct, strict=True):
        for category in result["categories"]:
            if not category["assigned"] or category["id"] == fallback:
                assert category["evidence"] == []
                continue
            evidence = category["evidence"]
            assert [e["text"] for e in evidence] == [e.text for e in expected.evidence[category["id"]]]
            assert all(result["text"][e["start"]:e["end"]] == e["text"] for e in evidence)
            assert all(e["score"] >= category["threshold"] - 1e-4 for e in evidence)
            # A sentence-unit model: the clause's score is its best sentence's.
            assert evidence[0]["score"] == pytest.approx(category["score"], abs=1e-4)


def test_classify_matches_the_evaluation_code_path(client, pipeline):
    """The service answers exactly what training.inference.pipeline (used by `clausemap evaluate`) answers."""
    body = client.post("/v1/classify", json={"clauses": CLAUSES}).json()
    for served, direct in zip(body["results"], pipeline.classify(CLAUSES), strict=True):
        assert served["labels"] == direct.labels
        assert {c["id"]: c["score"] for c in served["categories"]} == pytest.approx(direct.scores, abs=1e-6)
        assert [d["name"] for d in served["departments"]] == [d.name for d in direct.departments]


def test_plan_as_json_has_every_clause_with_stated_departments_and_summary(client, seed_plan):
    text, document = seed_plan
    response = client.post("/v1/plans", json={"text": text, "doc": "000"})
    assert response.status_code == 200
    plan = response.json()
    assert plan["doc"] == "000"
    assert [c["number"] for c in plan["clauses"]] == [c.number for c in document.clauses]
    assert [c["title"] for c in plan["clauses"]] == [c.title for c in document.clauses]
    assert [c["section"] for c in plan["clauses"]] == [c.section for c in document.clauses]
    # Seed 000 names the responsible sections of every item.
    assert all(c["stated_departments"] for c in plan["clauses"])
    assert all(set(c["stated_lead_departments"]) <= set(c["stated_departments"]) for c in plan["clauses"])

    summary = plan["summary"]
    assert summary["clauses"] == len(document.clauses)
    counts = {c["id"]: c["clauses"] for c in summary["categories"]}
    assert list(counts) == load_taxonomy().ids
    for cid, count in counts.items():
        assert count == sum(cid in c["labels"] for c in plan["clauses"])
    assert summary["low_confidence"] == sum(c["low_confidence"] for c in plan["clauses"])
    for clause in plan["clauses"]:
        assert clause["departments_source"] == "stated"
        assert clause["lead_departments"] == clause["stated_lead_departments"]
        assert clause["lead_departments"] + clause["cooperating_departments"] == clause["stated_departments"]
    for dept in summary["departments"]:
        assert dept["lead"] == sum(dept["name"] in c["lead_departments"] for c in plan["clauses"])
        assert dept["cooperating"] == sum(dept["name"] in c["cooperating_departments"] for c in plan["clauses"])


def test_plan_without_stated_departments_gets_the_top_suggestions(client, pipeline):
    text = next((PROJECT_ROOT / "seeds").glob("002_*.txt")).read_text(encoding="utf-8")
    plan = client.post("/v1/plans", json={"text": text}).json()
    top = ServingSettings().suggested_sections
    for clause, result in zip(plan["clauses"], pipeline.classify([c["text"] for c in plan["clauses"]]), strict=True):
        assert clause["stated_departments"] == [] and clause["departments_source"] == "suggested"
        best = result.departments[:top]
        lead = [d.name for d in best if d.lead] or [best[0].name]
        assert clause["lead_departments"] == lead
        assert clause["cooperating_departments"] == [d.name for d in best if d.name not in lead]


@pytest.mark.parametrize("suffix", [".txt", ".docx", ".pdf"])
def test_plan_upload_in_each_format(client, seed_plan, tmp_path, suffix):
    text, document = seed_plan
    path = tmp_path / f"承德2022{suffix}"
    if suffix == ".txt":
        path.write_text(text, encoding="utf-8")
    else:
        {".docx": make_docx, ".pdf": make_pdf}[suffix](text, path)
    with path.open("rb") as f:
        response = client.post("/v1/plans", files={"file": (path.name, f)})
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["doc"] == "承德2022"
    assert [c["number"] for c in plan["clauses"]] == [c.number for c in document.clauses]


def test_plan_upload_in_gb18030(client, seed_plan):
    text, document = seed_plan
    response = client.post("/v1/plans", files={"file": ("plan.txt", text.encode("gb18030"), "text/plain")})
    assert response.status_code == 200
    assert len(response.json()["clauses"]) == len(document.clauses)


def test_plan_csv_export_is_the_breakdown_table(client, seed_plan):
    text, document = seed_plan
    plan = client.post("/v1/plans", json={"text": text, "doc": "000"}).json()
    response = client.post("/v1/plans?format=csv", json={"text": text, "doc": "000"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == COLUMNS
    assert len(rows) == 1 + len(document.clauses)
    names = {c["id"]: c["name"] for c in plan["summary"]["categories"]}
    for row, clause in zip(rows[1:], plan["clauses"], strict=True):
        assert clause["text"] in row[1]
        assert row[2].split("、") == [names[label] for label in clause["labels"]]
        # 依据: a line per assigned specific category, naming it and its best sentence, found in the clause.
        given = [c for c in clause["categories"] if c["assigned"] and c["evidence"]]
        assert row[3].splitlines() == [f"{c['name']}: {c['evidence'][0]['text']}" for c in given]
        for c in given:
            assert c["evidence"][0]["text"] in clause["text"]
        assert row[4].split("、") == clause["lead_departments"]
        assert row[5] == "、".join(clause["cooperating_departments"])
        assert row[6] == "、".join(clause["deadlines"])
        assert float(row[7]) == pytest.approx(clause["confidence"], abs=0.006)


def test_deadlines_the_clauses_state_fill_the_breakdown(client):
    text = "2023年工作要点\n1.加强校园安全,6月底前完成校舍安全排查,年底前全面完成整改。\n2.推进学前教育普及普惠发展。\n"
    plan = client.post("/v1/plans", json={"text": text}).json()
    assert [c["deadlines"] for c in plan["clauses"]] == [["6月底前", "年底前"], []]
    rows = list(csv.reader(io.StringIO(client.post("/v1/plans?format=csv", json={"text": text}).content
                                       .decode("utf-8-sig"))))
    assert [row[COLUMNS.index("完成时限")] for row in rows[1:]] == ["6月底前、年底前", ""]


def test_plan_xlsx_export_matches_the_csv(client, seed_plan):
    text, document = seed_plan
    response = client.post("/v1/plans?format=xlsx", files={"file": ("计划.txt", text.encode(), "text/plain")})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''%E8%AE%A1%E5%88%92-breakdown.xlsx" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows = [[("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    as_csv = client.post("/v1/plans?format=csv", files={"file": ("计划.txt", text.encode(), "text/plain")})
    csv_rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + len(document.clauses)
    assert [r[:7] for r in rows] == [r[:7] for r in csv_rows]
    assert rows[0][3] == "依据"
    # Low-confidence rows are shaded, the others are not.
    flags = [c["low_confidence"] for c in client.post("/v1/plans", json={"text": text}).json()["clauses"]]
    shaded = [sheet.cell(row=i, column=1).fill.fill_type == "solid" for i in range(2, sheet.max_row + 1)]
    assert shaded == flags


def test_taxonomy_departments_and_model(client, pipeline):
    taxonomy = load_taxonomy()
    categories = client.get("/v1/taxonomy").json()["categories"]
    assert [c["id"] for c in categories] == taxonomy.ids
    assert [c["id"] for c in categories if c["fallback"]] == [taxonomy.fallback_id]

    departments = client.get("/v1/departments").json()
    assert [d["name"] for d in departments["departments"]] == pipeline.catalogue.names
    assert departments["bureau"] == pipeline.catalogue.bureau

    model = client.get("/v1/model").json()
    info = pipeline.predictor.info
    assert model["version"] == pipeline.model_version
    assert model["data_hash"] == info["data_hash"]
    assert model["metrics"] == (info["metrics"] or {})
    assert model["thresholds"] == pytest.approx(pipeline.predictor.thresholds)


def test_openapi_documents_the_endpoints(client):
    schema = client.get("/openapi.json").json()
    for path in ["/v1/classify", "/v1/plans", "/v1/taxonomy", "/v1/departments", "/v1/model", "/healthz", "/readyz"]:
        assert path in schema["paths"]
    plan_body = schema["paths"]["/v1/plans"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(plan_body)
    assert client.get("/docs").status_code == 200


def test_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert client.get("/static/app.js").status_code == 200


def test_concurrent_requests_get_their_own_results(pipeline):
    """Requests served at once each get what the pipeline gives for their texts alone."""
    expected = {text: result.labels for text, result in zip(CLAUSES, pipeline.classify(CLAUSES), strict=True)}
    app = create_app(ServingSettings(), pipeline=pipeline)
    batches = [CLAUSES[i:] + CLAUSES[:i] for i in range(len(CLAUSES))] * 3

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            return await asyncio.gather(*(c.post("/v1/classify", json={"clauses": b}) for b in batches))

    for batch, response in zip(batches, asyncio.run(run()), strict=True):
        assert response.status_code == 200
        assert [r["labels"] for r in response.json()["results"]] == [expected[t] for t in batch]


def _metric(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_move_with_the_requests_and_the_access_log_names_no_text(client, pipeline, caplog):
    import logging

    before = client.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    requests_before = _metric(before.text, "clausemap_requests_total", route="/v1/classify", status="200")
    clauses_before = _metric(before.text, "clausemap_clauses_classified_total")
    batches_before = _metric(before.text, "clausemap_inference_batch_clauses_count")
    with caplog.at_level(logging.INFO, logger="clausemap.access"):
        assert client.post("/v1/classify", json={"clauses": CLAUSES}).status_code == 200
        assert client.post("/v1/classify", json={"clauses": CLAUSES[:1]}).status_code == 200
        assert client.post("/v1/classify", json={"clauses": []}).status_code == 422
    after = client.get("/metrics").text
    assert _metric(after, "clausemap_requests_total", route="/v1/classify", status="200") == requests_before + 2
    assert _metric(after, "clausemap_requests_total", route="/v1/classify", status="422") >= 1
    assert _metric(after, "clausemap_clauses_classified_total") == clauses_before + len(CLAUSES) + 1
    assert _metric(after, "clausemap_inference_batch_clauses_count") == batches_before + 2
    assert _metric(after, "clausemap_request_seconds_count", route="/v1/classify") >= 3
    assert _metric(after, "clausemap_model_info", version=pipeline.model_version) == 1
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "clausemap.access"]
    assert [(line["route"], line["status"], line["clauses"]) for line in lines] == [
        ("/v1/classify", 200, len(CLAUSES)), ("/v1/classify", 200, 1), ("/v1/classify", 422, None)]
    assert all(line["model_version"] == pipeline.model_version and line["ms"] >= 0 for line in lines)
    assert not any(CLAUSES[0] in r.getMessage() for r in caplog.records)


def test_metrics_need_the_key_when_one_is_set(tiny_model_dir):
    with TestClient(create_app(ServingSettings(model=tiny_model_dir, api_key="k"))) as c:
        c.portal.call(c.app.state.model.wait)
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"X-API-Key": "k"}).status_code == 200


def test_a_request_over_the_limits_never_reaches_the_inference_batcher(client):
    calls = _metric(client.get("/metrics").text, "clausemap_inference_batch_clauses_count")
    too_many = ["加强教师队伍建设。"] * (ServingSettings().max_clauses + 1)
    assert client.post("/v1/classify", json={"clauses": too_many}).status_code == 422
    too_long = ["加强教师队伍建设。" * 2000]
    assert client.post("/v1/classify", json={"clauses": too_long}).status_code == 422
    assert _metric(client.get("/metrics").text, "clausemap_inference_batch_clauses_count") == calls


def test_concurrent_single_clause_requests_are_merged_and_each_gets_its_own_answer(client, pipeline):
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"{CLAUSES[i % len(CLAUSES)]}第{i}项。" for i in range(24)]
    expected = {text: result.labels for text, result in zip(texts, pipeline.classify(texts))}
    before = _metric(client.get("/metrics").text, "clausemap_inference_batch_clauses_count")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda t: client.post("/v1/classify", json={"clauses": [t]}).json(), texts))
    assert all(a["results"][0]["text"] == t and a["results"][0]["labels"] == expected[t]
               for a, t in zip(answers, texts))
    calls = _metric(client.get("/metrics").text, "clausemap_inference_batch_clauses_count") - before
    assert 1 <= calls <= len(texts)
