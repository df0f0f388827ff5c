"""Hostile requests through the real app: a foreign "Label Studio", cross-site form posts, formula cells in exports,
lone surrogates, a locked corrections database and over-long fields. Each gets a clear 4xx (or 503), never a 500,
and the service keeps classifying."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from clausemap.spreadsheet import csv_row, formula_like
from serving.app import create_app
from serving.origin import SameOriginWrites
from serving.settings import ServingSettings
from serving.unicode_json import lone_surrogate
from tests.support.documents import make_table_xlsx
from tests.support.jobs import wait_for_job

KEY = "hostile-test-key"
SECRET = "SECRET-BODY-7f3a: internal admin page"
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)", "+SUM(A1)", "-2+3"]
PLAN = ("某县教育局2023年工作要点\n一、加强党的建设\n"
        f"1. 推进学前教育普及普惠发展。（责任科室：{FORMULAS[0]}）\n"
        f"2. 加强教师队伍建设。（牵头科室：{FORMULAS[1]}；配合科室：{FORMULAS[2]}）\n")
SAME_ORIGIN = {"origin": "http://testserver"}
CROSS_SITE = [{"origin": "https://evil.example"}, {"origin": "null"}, {"sec-fetch-site": "cross-site"},
              {"origin": "http://testserver.evil.example"}]


# --- the parts on their own ------------------------------------------------------------------------------


@pytest.mark.parametrize("value, guarded", [("=1+1", True), ("+1", True), ("-1", True), ("@x", True),
                                            ("\tx", True), ("\rx", True), ("1", False), ("（三）", False),
                                            ("a=b", False), (3, False), (None, False)])
def test_formula_like_cells(value, guarded):
    assert formula_like(value) is guarded
    assert csv_row([value]) == (["'" + value] if guarded else [value])


@pytest.mark.parametrize("headers, refused", [
    ({"host": "clausemap.example"}, False),  # curl, scripts, Label Studio's server: no Origin
    ({"host": "clausemap.example", "origin": "https://clausemap.example"}, False),
    ({"host": "clausemap.example:443", "origin": "https://clausemap.example"}, False),
    ({"host": "clausemap.example:8000", "origin": "http://clausemap.example:8000"}, False),
    ({"host": "[::1]:8000", "origin": "http://[::1]:8000"}, False),
    ({"host": "Clausemap.Example", "origin": "https://clausemap.example"}, False),
    ({"host": "127.0.0.1:8000", "x-forwarded-host": "clausemap.example", "origin": "https://clausemap.example"},
     False),  # behind a proxy that rewrites Host
    ({"host": "clausemap.example", "origin": "https://portal.example", "sec-fetch-site": "cross-site"}, False),
    ({"host": "clausemap.example", "origin": "http://clausemap.example:8001"}, True),
    ({"host": "clausemap.example", "origin": "https://evil.example"}, True),
    ({"host": "clausemap.example", "origin": "null"}, True),
    ({"host": "clausemap.example", "origin": "file://"}, True),
    ({"host": "clausemap.example", "origin": "https://clausemap.example:99999"}, True),
    ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8001"}, True),
    ({"host": "clausemap.example", "sec-fetch-site": "cross-site"}, True),
    ({"host": "clausemap.example", "origin": "https://clausemap.example", "sec-fetch-site": "cross-site"}, True),
])
def test_same_origin_rule(headers, refused):
    check = SameOriginWrites(app=None, allowed_origins=["https://portal.example"])
    assert (check.refusal(headers) is not None) is refused


@pytest.mark.parametrize("body, found", [
    (b'{"a": "x\\ud800"}', "\\ud800"), (b'{"a": ["ok", {"b": "\\uDC00"}]}', "\\udc00"),
    (b'{"\\ud800": 1}', "\\ud800"), ('{"a": "x"}'.encode()[:-2] + b'\xed\xa0\x80"}', "\\ud800"),
    (b'{"a": "\\ud83d\\ude00"}', None), ('{"a": "😀 教"}'.encode(), None), (b'{"a": "\\\\ud800"}', None),
    (b'{"a": "\\ud800', None),  # not JSON: the route says so
])
def test_lone_surrogate_found(body, found):
    assert lone_surrogate(body) == found


# --- the app --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir):
    from clausemap.paths import default_dataset
    from training.inference.pipeline import load_pipeline

    return load_pipeline(tiny_model_dir, fallback_annotated=default_dataset())


@pytest.fixture
def no_studio(monkeypatch, tmp_path):
    """The service has no Label Studio connection of its own."""
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    monkeypatch.setenv("CLAUSEMAP_LS_CONFIG", str(tmp_path / "no-label-studio.yaml"))


def app_client(pipeline, tmp_path, **settings) -> TestClient:
    return TestClient(create_app(ServingSettings(feedback_db=tmp_path / "feedback.sqlite",
                                                 retrained_models=tmp_path / "retrained", **settings),
                                 pipeline=pipeline))


@pytest.fixture
def foreign_studio():
    """A "Label Studio" nobody configured, on 127.0.0.1: records every hit, answers 500 with a secret body."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            hits.append((self.command, self.path))
            body = SECRET.encode()
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def still_classifies(client, version: str) -> None:
    response = client.post("/v1/classify", json={"clauses": ["推进学前教育普及普惠发展"]})
    assert response.status_code == 200 and response.json()["model_version"] == version


@pytest.mark.model
@pytest.mark.timeout(300)
def test_setup_cannot_point_the_service_at_another_label_studio(pipeline, tmp_path, no_studio, foreign_studio):
    url, hits = foreign_studio
    with app_client(pipeline, tmp_path, api_key=KEY) as client:
        client.headers["X-API-Key"] = KEY
        setup = client.post("/setup", json={"project": "7.1700000000", "hostname": url, "access_token": "t0ken"})
        assert setup.status_code == 200 and setup.json() == {"model_version": pipeline.model_version}
        queued = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 7}})
        assert queued.status_code == 200
        job = wait_for_job(client, queued.json()["job"], 120)
        assert job["status"] == "failed" and "LABEL_STUDIO_URL" in job["detail"]
        assert hits == []  # the hostname sent to /setup was never contacted
        still_classifies(client, pipeline.model_version)
    assert not (tmp_path / "retrained").exists()


@pytest.mark.model
@pytest.mark.timeout(300)
def test_the_webhook_does_not_retrain_without_the_key_or_the_setting(pipeline, tmp_path, monkeypatch,
                                                                      foreign_studio):
    url, hits = foreign_studio
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "t0ken")
    with app_client(pipeline, tmp_path) as client:
        for action in ("START_TRAINING", "ANNOTATION_CREATED"):
            refused = client.post("/webhook", json={"action": action, "project": {"id": 7}})
            assert refused.status_code == 403 and "CLAUSEMAP_API_KEY" in refused.json()["detail"]
        assert client.post("/webhook", json={"action": "TASKS_CREATED", "project": 7}).json()["status"] == "ignored"
        time.sleep(0.5)  # a retrain would have started by now
        assert hits == []
        still_classifies(client, pipeline.model_version)
    # The setting turns it on without a key: the job then runs (and fails here, saying why, without the body).
    with app_client(pipeline, tmp_path, retrain_without_api_key=True) as client:
        queued = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 7}})
        assert queued.status_code == 200
        job = wait_for_job(client, queued.json()["job"], 120)
        assert job["status"] == "failed" and hits


@pytest.mark.model
@pytest.mark.timeout(300)
def test_a_failing_label_studio_answer_is_not_echoed(pipeline, tmp_path, monkeypatch, foreign_studio):
    url, hits = foreign_studio
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "t0ken")
    with app_client(pipeline, tmp_path, api_key=KEY) as client:
        client.headers["X-API-Key"] = KEY
        queued = client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 7}})
        job = wait_for_job(client, queued.json()["job"], 120)
        assert hits, "the configured Label Studio was asked for the export"
        assert job["status"] == "failed" and "answered HTTP 500" in job["detail"]
        served = client.get(f"/webhook/jobs/{job['id']}").text
        assert "SECRET" not in served and "internal" not in served
        still_classifies(client, pipeline.model_version)


@pytest.mark.model
@pytest.mark.timeout(300)
def test_cross_site_writes_are_refused_same_origin_and_curl_work(pipeline, tmp_path):
    table = make_table_xlsx([["序号", "工作任务", "牵头单位", "配合单位"], ["1", "做好党建", "党政办公室", ""]])
    with app_client(pipeline, tmp_path) as client:
        before = client.get("/v1/catalogues").json()
        for headers in CROSS_SITE:
            created = client.post("/v1/catalogues", headers=headers, data={"bureau": "某区教育局", "id": "csrf"},
                                  files={"file": ("t.xlsx", table)})
            assert created.status_code == 403 and "cross-site" in created.json()["detail"]
            plan = client.post("/v1/plans", headers=headers, files={"file": ("plan.txt", PLAN.encode())})
            assert plan.status_code == 403
            form = client.post("/v1/feedback", headers={**headers, "content-type": "text/plain"},
                               content=json.dumps({"corrections": [{"text": "x", "categories": ["preschool"]}]}))
            assert form.status_code == 403
        assert client.get("/v1/catalogues").json() == before
        assert client.get("/v1/feedback").json()["corrections"] == []
        for headers in (SAME_ORIGIN, {}, {"sec-fetch-site": "same-origin", **SAME_ORIGIN}):
            plan = client.post("/v1/plans", headers=headers, files={"file": ("plan.txt", PLAN.encode())})
            assert plan.status_code == 200, plan.text
            classified = client.post("/v1/classify", headers=headers, json={"clauses": ["加强教师队伍建设"]})
            assert classified.status_code == 200
        # Reading is not a write: another site's GET is answered as ever.
        assert client.get("/v1/taxonomy", headers=CROSS_SITE[0]).status_code == 200


@pytest.mark.model
@pytest.mark.timeout(300)
@pytest.mark.parametrize("export", ["xlsx", "csv"])
def test_plan_exports_write_formula_cells_as_text(pipeline, tmp_path, export):
    with app_client(pipeline, tmp_path) as client:
        response = client.post(f"/v1/plans?format={export}", json={"text": PLAN, "doc": "formulas"})
    assert response.status_code == 200, response.text
    cells = exported_cells(response.content, export)
    for formula in FORMULAS[:3]:
        if export == "xlsx":
            matching = [c for c in cells if c.value == formula]  # the breakdown's and the summary sheet's
            assert matching and all(c.data_type == "s" and c.quotePrefix for c in matching)
        else:
            assert "'" + formula in cells and formula not in cells
    if export == "xlsx":
        assert all(c.data_type != "f" for c in cells)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("export", ["xlsx", "csv"])
def test_table_write_writes_formula_cells_as_text(tmp_path, export):
    from clausemap.cli import main

    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN, encoding="utf-8")
    output = tmp_path / f"table.{export}"
    assert main(["table", "write", str(plan), "--output", str(output)]) == 0
    cells = exported_cells(output.read_bytes(), export)
    for formula in FORMULAS[:3]:
        if export == "xlsx":
            [cell] = [c for c in cells if c.value == formula]
            assert cell.data_type == "s" and cell.quotePrefix
        else:
            assert "'" + formula in cells and formula not in cells


def exported_cells(data: bytes, export: str) -> list:
    if export == "csv":
        return [field for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for field in row]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]


SURROGATE_BODIES = {
    "/v1/classify": '{"clauses": ["推进学前教育\\ud800"]}',
    "/predict": '{"tasks": [{"id": 1, "data": {"text": "\\udc00加强教师队伍建设"}}]}',
    "/setup": '{"project": "7.1", "schema": "<View>\\ud800</View>"}',
    "/v1/feedback": '{"corrections": [{"text": "加强\\ud800", "categories": ["teachers"]}]}',
    "/v1/plans": '{"text": "1. 推进学前教育\\ud800"}',
}


@pytest.mark.model
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", list(SURROGATE_BODIES))
def test_lone_surrogates_are_a_422(pipeline, tmp_path, path):
    with app_client(pipeline, tmp_path) as client:
        escaped = SURROGATE_BODIES[path]
        raw = escaped.replace("\\ud800", "\udfff").replace("\\udc00", "\udfff")  # UTF-8-encoded, unescaped
        for body in (escaped.encode(), raw.encode("utf-8", "surrogatepass")):
            response = client.post(path, content=body, headers={"content-type": "application/json"})
            assert response.status_code == 422, response.text
            assert "JSON" in response.json()["detail"]
        assert client.get("/v1/feedback").json()["corrections"] == []
        # An escaped pair is one valid character.
        paired = client.post("/v1/classify", content='{"clauses": ["推进学前教育\\ud83d\\ude00"]}'.encode(),
                             headers={"content-type": "application/json"})
        assert paired.status_code == 200 and paired.json()["results"][0]["text"] == "推进学前教育😀"


@pytest.mark.model
@pytest.mark.timeout(300)
def test_a_locked_feedback_database_is_a_503_and_stalls_nothing_else(pipeline, tmp_path):
    from labels.feedback import FeedbackStore

    correction = {"corrections": [{"text": "加强教师队伍建设", "categories": ["teachers"]}]}
    with app_client(pipeline, tmp_path) as client:
        assert client.post("/v1/feedback", json=correction).status_code == 201
        patient, impatient = (FeedbackStore(tmp_path / "feedback.sqlite", busy_timeout_s=s) for s in (60, 0.2))
        other = sqlite3.connect(tmp_path / "feedback.sqlite", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            # A write waiting for the lock holds up no read, plan or health check, and is stored once it is free.
            client.app.state.feedback = patient
            waiting: dict = {}
            writer = threading.Thread(target=lambda: waiting.update(r=client.post("/v1/feedback", json=correction)))
            writer.start()
            assert client.get("/healthz").status_code == 200
            assert len(client.get("/v1/feedback").json()["corrections"]) == 1
            assert client.post("/v1/plans", json={"text": PLAN}).status_code == 200
            assert writer.is_alive() and "r" not in waiting
            other.execute("COMMIT")
            writer.join(60)
            assert waiting["r"].status_code == 201
            # Locked past the busy timeout: 503 with the reason, nothing half-written, the next write fine.
            client.app.state.feedback = impatient
            other.execute("BEGIN EXCLUSIVE")
            locked = client.post("/v1/feedback", json=correction)
            assert locked.status_code == 503
            assert "locked" in locked.json()["detail"] and "feedback.sqlite" in locked.json()["detail"]
            assert client.get("/healthz").status_code == 200
            other.execute("ROLLBACK")
            assert client.post("/v1/feedback", json=correction).status_code == 201
            assert len(client.get("/v1/feedback").json()["corrections"]) == 3
        finally:
            other.close()
            patient.close()
            impatient.close()
        still_classifies(client, pipeline.model_version)


LONG = "长" * 201
OVER_LONG = [
    ("/v1/feedback", {"corrections": [{"text": "加强", "categories": ["teachers"], "number": LONG}]}, "number"),
    ("/v1/feedback", {"corrections": [{"text": "加强", "categories": ["teachers"], "doc": LONG}]}, "doc"),
    ("/v1/feedback", {"corrections": [{"text": "加强", "categories": ["teachers"], "model_version": LONG}]},
     "model_version"),
    ("/v1/feedback", {"corrections": [{"text": "加强", "categories": ["teachers"], "comment": "长" * 2001}]},
     "comment"),
    ("/v1/feedback", {"corrections": [{"text": "加强", "categories": [LONG]}]}, "categories"),
    ("/v1/feedback", {"corrections": [{"text": "加强", "categories": ["teachers"] * 101}]}, "categories"),
    ("/v1/feedback", {"corrections": [{"text": "加强", "categories": ["teachers"], "lead_departments": [LONG]}]},
     "lead_departments"),
    ("/v1/feedback", {"corrections": [{"text": "教" * 8001, "categories": ["teachers"]}]},
     "CLAUSEMAP_MAX_CLAUSE_CHARS"),
    ("/v1/plans", {"text": "1. 加强教师队伍建设", "doc": LONG}, "doc"),
    ("/setup", {"project": "7.1", "hostname": "http://" + "a" * 2001}, "hostname"),
    ("/webhook", {"action": LONG, "project": 7}, "action"),
    ("/predict", {"tasks": [{"id": 1, "data": {"text": "加强"}}], "project": LONG}, "project"),
]


@pytest.mark.model
@pytest.mark.timeout(300)
def test_over_long_fields_are_a_422(pipeline, tmp_path):
    with app_client(pipeline, tmp_path) as client:
        for path, body, field in OVER_LONG:
            response = client.post(path, json=body)
            assert response.status_code == 422, (path, field, response.text)
            assert field in response.json()["detail"], (path, response.json()["detail"])
        form = client.post("/v1/plans", data={"doc": LONG}, files={"file": ("plan.txt", PLAN.encode())})
        assert form.status_code == 422 and "'doc'" in form.json()["detail"]
        assert client.get("/v1/feedback").json()["corrections"] == []
        still_classifies(client, pipeline.model_version)
