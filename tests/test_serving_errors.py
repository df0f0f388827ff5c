"""Bad input, limits, the API key and an unloadable model: always a 4xx/503 with a message, never a 500.

Every rejection here happens before inference, so the app serves a stub pipeline (no model is trained or loaded).
"""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from clausemap.errors import RETRY_SOON_S
from clausemap.paths import PROJECT_ROOT
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support.pipelines import StubPipeline

SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))
LIMITS = dict(max_clauses=5, max_clause_chars=200, max_body_bytes=64 * 1024)


@pytest.fixture(scope="module")
def pipeline():
    return StubPipeline()


@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(ServingSettings(**LIMITS), pipeline=pipeline)) as c:
        yield c


def detail(response) -> str:
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"clauses": []}, "at least 1"),
        ({"clauses": ["加强教师队伍建设", "   \n\t"]}, "empty or whitespace"),
        ({"clauses": [""]}, "empty or whitespace"),
        ({"clauses": "加强教师队伍建设"}, "clauses"),
        ({"clauses": [1, 2]}, "clauses"),
        ({"texts": ["a"]}, "clauses"),
        (["加强教师队伍建设"], "object"),
    ],
)
def test_classify_rejects_malformed_bodies(client, payload, expected):
    response = client.post("/v1/classify", json=payload)
    assert response.status_code == 422
    assert expected in detail(response)


def test_classify_rejects_invalid_json_and_wrong_content_type(client):
    response = client.post("/v1/classify", content=b'{"clauses": [', headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in detail(response)
    response = client.post("/v1/classify", content="加强教师队伍建设", headers={"content-type": "text/plain"})
    assert response.status_code == 415 and "application/json" in detail(response)
    response = client.post("/v1/classify", content=b"\xff\xfe\x00garbage", headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500


def test_limits_name_the_limit(client):
    response = client.post("/v1/classify", json={"clauses": ["加强教师队伍建设"] * 6})
    assert response.status_code == 422 and "CLAUSEMAP_MAX_CLAUSES" in detail(response)
    response = client.post("/v1/classify", json={"clauses": ["短句", "教" * 201]})
    assert response.status_code == 422
    assert "clause 1" in detail(response) and "CLAUSEMAP_MAX_CLAUSE_CHARS" in detail(response)
    # A whole plan counts against the same clause limit.
    response = client.post("/v1/plans", json={"text": SEED_000.read_text(encoding="utf-8")})
    assert response.status_code == 422 and "CLAUSEMAP_MAX_CLAUSES" in detail(response)


def test_body_size_limit_with_and_without_content_length(client):
    big = {"clauses": ["教" * 100] * 300}
    response = client.post("/v1/classify", json=big)
    assert response.status_code == 413 and "CLAUSEMAP_MAX_BODY_BYTES" in detail(response)

    def chunks():  # a streamed upload declares no Content-Length
        for _ in range(100):
            yield b"x" * 1024

    response = client.post("/v1/plans", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "CLAUSEMAP_MAX_BODY_BYTES" in detail(response)
    response = client.post("/v1/plans", files={"file": ("plan.txt", b"1. x" * 20000, "text/plain")})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "request_kwargs, status, expected",
    [
        ({"json": {"text": "   "}}, 422, "empty"),
        ({"json": {"text": ""}}, 422, "text"),
        ({"json": {"body": "1. 加强教师队伍建设"}}, 422, "text"),
        ({"json": {"text": "这是一段没有任何编号条款的文字。"}}, 422, "no numbered"),
        ({"content": "1. 加强教师队伍建设", "headers": {"content-type": "text/plain"}}, 415, "multipart/form-data"),
        ({"content": b"1. x"}, 415, "application/json"),
        ({"files": {"file": ("plan.exe", b"MZ\x90\x00", "application/octet-stream")}}, 415, "plan.exe"),
        ({"files": {"file": ("plan", b"1. x", "text/plain")}}, 415, "unsupported"),
        ({"files": {"file": ("plan.txt", b"", "text/plain")}}, 422, "plan.txt"),
        ({"files": {"file": ("plan.txt", b"\x00\x01\x02\x03" * 64, "text/plain")}}, 422, "plan.txt"),
        ({"files": {"file": ("plan.txt", b"\xff\xfe\xfd\x80\x81" * 64, "text/plain")}}, 422, "decode"),
        ({"files": {"file": ("plan.docx", b"not a zip archive", "application/octet-stream")}}, 422, "plan.docx"),
        ({"files": {"file": ("plan.pdf", b"%PDF-1.4 broken", "application/pdf")}}, 422, "plan.pdf"),
        ({"files": {"upload": ("plan.txt", b"1. x", "text/plain")}}, 422, "'file'"),
        ({"data": {"file": "1. 加强教师队伍建设"}, "files": {"other": ("a.txt", b"1. x")}}, 422, "'file'"),
        ({"data": {"text": "1. 加强教师队伍建设"}}, 415, "multipart/form-data"),  # an HTML form without a file
    ],
)
def test_plans_reject_bad_input(client, request_kwargs, status, expected):
    response = client.post("/v1/plans", **request_kwargs)
    assert response.status_code == status, response.text
    assert expected in detail(response)


def test_unknown_export_format(client):
    response = client.post("/v1/plans?format=pdf", json={"text": "1. 加强教师队伍建设"})
    assert response.status_code == 422 and "format" in detail(response)


def test_api_key_guards_everything_but_health(pipeline):
    app = create_app(ServingSettings(api_key="s3cret"), pipeline=pipeline)
    body = {"clauses": ["加强教师队伍建设"]}
    with TestClient(app) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200
        for method, path in [("post", "/v1/classify"), ("post", "/v1/plans"), ("get", "/v1/taxonomy"),
                             ("get", "/v1/departments"), ("get", "/v1/model")]:
            response = getattr(c, method)(path, **({"json": body} if method == "post" else {}))
            assert response.status_code == 401, path
            assert "API key" in detail(response)
        assert c.post("/v1/classify", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.post("/v1/classify", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        basic = base64.b64encode(b"labelstudio:s3cret").decode()
        accepted = ({"X-API-Key": "s3cret"}, {"Authorization": "Bearer s3cret"}, {"Authorization": f"Basic {basic}"})
        for headers in accepted:
            assert c.post("/v1/classify", json=body, headers=headers).status_code == 200, headers
        assert c.get("/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_empty_api_key_means_none(pipeline, monkeypatch):
    monkeypatch.setenv("CLAUSEMAP_API_KEY", "")
    with TestClient(create_app(pipeline=pipeline)) as c:
        assert c.get("/v1/taxonomy").status_code == 200


def test_api_key_from_environment(pipeline, monkeypatch):
    monkeypatch.setenv("CLAUSEMAP_API_KEY", "from-env")
    monkeypatch.setenv("CLAUSEMAP_MAX_CLAUSES", "1")
    with TestClient(create_app(pipeline=pipeline)) as c:
        assert c.get("/v1/taxonomy").status_code == 401
        response = c.post("/v1/classify", json={"clauses": ["a", "b"]}, headers={"X-API-Key": "from-env"})
        assert response.status_code == 422 and "CLAUSEMAP_MAX_CLAUSES" in detail(response)


def test_unloadable_model_is_reported_not_served(tmp_path):
    with TestClient(create_app(ServingSettings(model=tmp_path / "missing"))) as c:
        c.portal.call(c.app.state.model.wait)
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "failed"
        assert "missing" in ready.json()["detail"]
        response = c.post("/v1/classify", json={"clauses": ["加强教师队伍建设"]})
        assert response.status_code == 503 and "failed to load" in detail(response)
        # A failed load lasts: no Retry-After invites clients to keep asking.
        assert "retry-after" not in ready.headers and "retry-after" not in response.headers


@pytest.mark.timeout(60)
def test_while_the_model_loads_503_says_when_to_try_again(pipeline, monkeypatch):
    import threading

    import serving.runtime

    release = threading.Event()

    def slow_load(settings):
        release.wait(30)
        return pipeline

    monkeypatch.setattr(serving.runtime, "load_pipeline", slow_load)
    with TestClient(create_app(ServingSettings())) as c:
        for response in (c.get("/readyz"), c.post("/v1/classify", json={"clauses": ["加强教师队伍建设"]})):
            assert response.status_code == 503
            assert response.headers["retry-after"] == str(RETRY_SOON_S)
        release.set()
        c.portal.call(c.app.state.model.wait)
        assert c.get("/readyz").status_code == 200


@pytest.mark.timeout(180)
@pytest.mark.filterwarnings("ignore:resource_tracker")  # it is spawned with the missing interpreter too
def test_parser_workers_that_cannot_start_give_503_then_recover(pipeline, monkeypatch):
    """A parser worker that cannot be started (here its interpreter is missing; in production a process or memory
    limit) is the service's trouble, not the upload's: 503 saying so, and the next upload starts a worker again."""
    import multiprocessing.spawn

    upload = {"files": {"file": ("plan.txt", SEED_000.read_bytes(), "text/plain")}}
    with TestClient(create_app(ServingSettings(parse_workers=1), pipeline=pipeline)) as c:
        monkeypatch.setattr(multiprocessing.spawn, "_python_exe", b"/nonexistent/python")
        for _ in range(2):  # the worker slot is given back: a second upload is answered too, not left waiting
            refused = c.post("/v1/plans", **upload)
            assert refused.status_code == 503, refused.text
            assert "cannot read documents right now" in detail(refused)
            assert refused.headers["retry-after"] == str(RETRY_SOON_S)
        monkeypatch.undo()  # the interpreter is back
        assert c.post("/v1/plans", **upload).status_code == 200
