"""Staff corrections through /v1/feedback: stored in SQLite, listed, summarised, safe under concurrency and
restarts, and a broken database leaves the service classifying."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServingSettings


pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    from training.inference.pipeline import load_pipeline

    return load_pipeline(tiny_model_dir, annotated=[])


def app_on(db, loaded, tiny_model_dir, **extra):
    return create_app(ServingSettings(model=tiny_model_dir, feedback_db=db, **extra), pipeline=loaded)


def correction(i: int, **extra) -> dict:
    return {"text": f"第{i}条:推进学前教育普及普惠发展。", "categories": ["preschool"], "lead_departments": ["基础教育科"],
            "cooperating_departments": ["规划财务科"], "predicted": {"categories": ["preschool", "finance"]},
            "author": "planner@bureau", **extra}


def test_corrections_are_stored_listed_and_summarised(tmp_path, loaded, tiny_model_dir):
    with TestClient(app_on(tmp_path / "f.sqlite", loaded, tiny_model_dir)) as client:
        response = client.post("/v1/feedback", json={"corrections": [correction(1), correction(2, categories=["other"],
                                                                                                 predicted=None)]})
        assert response.status_code == 201 and response.json() == {"ids": [1, 2]}
        listed = client.get("/v1/feedback").json()["corrections"]
        assert [(c["id"], c["categories"], c["author"]) for c in listed] == [
            (1, ["preschool"], "planner@bureau"), (2, ["other"], "planner@bureau")]
        assert listed[0]["created_at"] and listed[0]["cooperating_departments"] == ["规划财务科"]
        assert [c["id"] for c in client.get("/v1/feedback?since=1&limit=5").json()["corrections"]] == [2]
        assert client.get(f"/v1/feedback?since={2**70}").status_code == 422  # not a 500 from SQLite
        allowed = client.request("OPTIONS", "/v1/feedback")
        assert allowed.status_code == 405 and allowed.headers["allow"] == "GET, POST"
        summary = client.get("/v1/feedback/summary").json()
        assert summary["corrections"] == 2 and summary["categories"] == {"preschool": 1, "other": 1}
        assert summary["changes"]["finance"] == {"kept": 0, "removed": 1, "added": 0}
        assert summary["changes"]["preschool"] == {"kept": 1, "removed": 0, "added": 0}


@pytest.mark.parametrize("bad, message", [
    ({"categories": ["money"]}, "unknown categories ['money']"),
    ({"lead_departments": ["无此科室"]}, "sections not in the catalogue"),
    ({"categories": ["other", "preschool"]}, "'other' is given only when no other category applies"),
    ({"text": "   "}, "empty or whitespace"),
])
def test_bad_corrections_are_refused_naming_what_is_wrong(tmp_path, loaded, tiny_model_dir, bad, message):
    with TestClient(app_on(tmp_path / "f.sqlite", loaded, tiny_model_dir)) as client:
        response = client.post("/v1/feedback", json={"corrections": [correction(1, **bad)]})
        assert response.status_code == 422 and message in response.json()["detail"]
        assert client.get("/v1/feedback").json()["corrections"] == []  # nothing half-stored


def test_with_a_key_set_feedback_needs_it(tmp_path, loaded, tiny_model_dir):
    with TestClient(app_on(tmp_path / "f.sqlite", loaded, tiny_model_dir, api_key="k")) as client:
        assert client.post("/v1/feedback", json={"corrections": [correction(1)]}).status_code == 401
        assert client.get("/v1/feedback").status_code == 401
        assert client.post("/v1/feedback", json={"corrections": [correction(1)]},
                           headers={"X-API-Key": "k"}).status_code == 201


def test_sixteen_clients_times_fifty_corrections_all_kept_across_a_restart(tmp_path, loaded, tiny_model_dir):
    db = tmp_path / "f.sqlite"
    with TestClient(app_on(db, loaded, tiny_model_dir)) as client:
        ids: list[int] = []
        lock = threading.Lock()

        def staff(n: int) -> None:
            for k in range(50):
                got = client.post("/v1/feedback", json={"corrections": [correction(n * 100 + k)]}).json()["ids"]
                with lock:
                    ids.extend(got)

        threads = [threading.Thread(target=staff, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(ids) == list(range(1, 801))
    # A restarted service finds all of them, once each.
    with TestClient(app_on(db, loaded, tiny_model_dir)) as client:
        stored = []
        since = 0
        while batch := client.get(f"/v1/feedback?since={since}&limit=1000").json()["corrections"]:
            stored += batch
            since = batch[-1]["id"]
        assert len(stored) == 800 and len({c["text"] for c in stored}) == 800


def test_a_broken_database_is_named_at_startup_and_the_service_still_classifies(tmp_path, loaded, tiny_model_dir,
                                                                               caplog):
    db = tmp_path / "f.sqlite"
    db.write_bytes(b"this is not a sqlite database at all" * 100)
    with TestClient(app_on(db, loaded, tiny_model_dir)) as client:
        assert any(str(db) in r.getMessage() for r in caplog.records)
        response = client.get("/v1/feedback")
        assert response.status_code == 503 and str(db) in response.json()["detail"]
        assert client.post("/v1/feedback", json={"corrections": [correction(1)]}).status_code == 503
        assert client.post("/v1/classify", json={"clauses": ["推进学前教育普及普惠发展。"]}).status_code == 200
    folder = tmp_path / "a-directory"
    folder.mkdir()
    with TestClient(app_on(folder, loaded, tiny_model_dir)) as client:
        assert client.get("/v1/feedback").status_code == 503


def test_corrections_flow_into_exports_the_dataset_and_a_retrained_model(tmp_path, loaded, tiny_model_dir, capsys):
    """page/API → store → export and data build (latest wins, --no-feedback) → a model trained on it changes."""
    import json

    from clausemap.cli import main
    from clausemap.paths import PROJECT_ROOT
    from labels.dataset import load_export

    def labels_of(tasks):
        return {t["data"]["text"]: next(r["value"]["choices"] for r in t["annotations"][0]["result"]
                                        if r["from_name"] == "categories") for t in tasks}

    db = tmp_path / "f.sqlite"
    rows = [json.loads(line) for line in (PROJECT_ROOT / "data" / "dataset.jsonl").read_text("utf-8").splitlines()]
    target = next(r for r in rows if r["categories"] == ["party_building"])
    with TestClient(app_on(db, loaded, tiny_model_dir)) as client:
        for categories in (["teachers"], ["safety"]):  # the later correction of the same clause wins
            client.post("/v1/feedback", json={"corrections": [{
                "text": target["text"], "categories": categories, "lead_departments": ["安全科"],
                "predicted": {"categories": target["categories"]}, "author": "staff@bureau"}]})
        client.post("/v1/feedback", json={"corrections": [correction(1, doc="2025-plan")]})

    assert main(["feedback", "export", "--db", str(db)]) == 0
    exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [c["categories"] for c in exported] == [["teachers"], ["safety"], ["preschool"]]
    out = tmp_path / "ls.json"
    assert main(["feedback", "export", "--db", str(db), "--format", "label-studio", "--out", str(out)]) == 0
    tasks = load_export(out)
    assert len(tasks) == 2 and tasks[0]["meta"]["author"] == "staff@bureau"
    assert labels_of(tasks) == {target["text"]: ["safety"], correction(1)["text"]: ["preschool"]}

    annotations = PROJECT_ROOT / "data" / "annotations"
    built = tmp_path / "with" / "dataset.jsonl"
    assert main(["data", "build", "--annotations", str(annotations), "--out", str(built), "--feedback-db", str(db)]) == 0
    with_feedback = {r["text"]: r for r in map(json.loads, built.read_text("utf-8").splitlines())}
    assert with_feedback[target["text"]]["categories"] == ["safety"]
    assert with_feedback[target["text"]]["source"] == "feedback" and "sentences" not in with_feedback[target["text"]]
    assert with_feedback[correction(1)["text"]]["doc"] == "2025-plan"
    plain = tmp_path / "without" / "dataset.jsonl"
    assert main(["data", "build", "--annotations", str(annotations), "--out", str(plain), "--feedback-db", str(db),
                 "--no-feedback"]) == 0
    without = {r["text"]: r for r in map(json.loads, plain.read_text("utf-8").splitlines())}
    assert without[target["text"]]["categories"] == target["categories"] and correction(1)["text"] not in without

    # A model trained on the corrected data answers differently on that clause.
    from training.inference.predictor import load_predictor

    answers = []
    for data in (plain, built):
        model = data.parent / "model"
        assert main(["train", "--config", str(PROJECT_ROOT / "configs" / "baseline-tfidf.yaml"), "--output",
                     str(model), f"data.path={data}", "training.validation_fraction=0"]) == 0
        answers.append(load_predictor(model).predict([target["text"]])[0].labels)
    assert answers[0] == ["party_building"] and "safety" in answers[1]
