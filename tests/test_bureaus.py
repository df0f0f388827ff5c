"""A new bureau on day one: a catalogue from its breakdown table, its own history, and serving it beside 承德's."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from clausemap.cli import main
from clausemap.clauses import segment_file
from clausemap.clauses.table_write import write_table
from clausemap.paths import PROJECT_ROOT, default_dataset
from labels.bureaus import history_path, read_history
from labels.catalogue import find_catalogue
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support.documents import make_table_xlsx

SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))
OTHER_SECTIONS = {"党政办公室", "学前教育科", "人事科", "安全科", "计划财务科"}


def other_bureau_table() -> bytes:
    """Last year's table of a made-up district bureau, with its own section names."""
    rows = [
        ["序号", "重点任务", "牵头科室", "配合科室", "完成时限"],
        ["一、党的建设", None, None, None, None],
        [1, "加强党的政治建设,落实全面从严治党主体责任。", "党政办公室", "人事科", "全年"],
        [2, "深化党史学习教育,推进党建工作与业务工作深度融合。", "党政办", "", "年底前"],
        ["二、教育发展", None, None, None, None],
        [3, "推进学前教育普及普惠,新建公办幼儿园3所。", "学前教育科", "计划财务科", "9月底前"],
        [4, "扩大普惠性学前教育资源,认定普惠性民办幼儿园。", "学前教育科", "", "年底前"],
        [5, "加强教师队伍建设,公开招聘教师120名。", "人事科", "计划财务科", "8月底前"],
        [6, "开展校园安全隐患排查整治,加强防溺水教育。", "安全科", "学前教育科", "全年"],
        [7, "加强教育经费管理,落实生均公用经费标准。", "计划财务科", "", "年底前"],
    ]
    return make_table_xlsx(rows, ["A2:E2", "A5:E5"])


@pytest.fixture(scope="module")
def seed_table(tmp_path_factory):
    return write_table(segment_file(SEED_000).clauses, tmp_path_factory.mktemp("tables") / "chengde-2022.xlsx")


@pytest.mark.model
def test_catalogue_init_from_seed_000_table_gives_its_sections(seed_table, tiny_model_dir, capsys):
    assert main(["catalogue", "init", "--from", str(seed_table), "--bureau", "承德(表格)", "--id", "chengde-table",
                 "--model", str(tiny_model_dir)]) == 0
    assert "catalogue 'chengde-table'" in capsys.readouterr().out
    catalogue = find_catalogue("chengde-table")
    stated = {name for c in segment_file(SEED_000).clauses for name in c.departments}
    # every section seed 000 names is in the catalogue, by name or alias; "办公室(法规科)" is 办公室
    assert all(catalogue.resolve(name) for name in stated)
    assert catalogue.resolve("办公室(法规科)") == catalogue.resolve("办公室") == "办公室"
    assert catalogue.resolve("机关纪委") == catalogue.resolve("机关党委")
    assert set(catalogue.names) <= stated
    shipped = find_catalogue("chengde")
    assert {shipped.resolve(n) for n in catalogue.names} <= set(shipped.names) | {None}
    assert len(read_history("chengde-table")) == 29  # the table is the new bureau's history
    # a second init with the same id is refused, not overwritten
    assert main(["catalogue", "init", "--from", str(seed_table), "--bureau", "x", "--id", "chengde-table",
                 "--model", str(tiny_model_dir)]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.model
def test_history_add_and_no_leak_between_bureaus(tmp_path, tiny_model_dir, capsys):
    from training.inference.pipeline import load_pipeline

    table = tmp_path / "district-2023.xlsx"
    table.write_bytes(other_bureau_table())
    assert main(["catalogue", "init", "--from", str(table), "--bureau", "某某区教育局", "--id", "district",
                 "--model", str(tiny_model_dir), "--no-history"]) == 0
    district = find_catalogue("district")
    assert set(district.names) == OTHER_SECTIONS
    assert district.resolve("党政办") == "党政办公室"  # aliases merged
    assert not history_path("district").exists()
    capsys.readouterr()
    assert main(["history", "add", str(table), "--catalogue", "district"]) == 0
    assert "7 tasks added" in capsys.readouterr().out
    assert main(["history", "add", str(table), "--catalogue", "district"]) == 0  # again: replaced, not doubled
    assert "0 tasks added, 7 replaced" in capsys.readouterr().out

    chengde = load_pipeline(tiny_model_dir, fallback_annotated=default_dataset())
    district_pipeline = chengde.for_catalogue("district")
    assert {h.doc for h in chengde.suggester.history} == {"000_ae45951577d4b07b"}  # 承德's own plan only
    assert {h.doc for h in district_pipeline.suggester.history} == {"district-2023"}
    assert len(district_pipeline.suggester.history) == 7
    [result] = chengde.classify(["推进学前教育普及普惠,新建公办幼儿园。"], catalogue="district")
    assert {d.name for d in result.departments} <= OTHER_SECTIONS
    assert any("similar to district-2023 item" in e for d in result.departments for e in d.evidence)


@pytest.mark.model
def test_service_serves_two_bureaus_and_starts_a_new_one_from_a_table(tiny_model_dir, tmp_path):
    settings = ServingSettings(model=tiny_model_dir, feedback_db=tmp_path / "feedback.sqlite")
    with TestClient(create_app(settings)) as client:
        client.portal.call(client.app.state.model.wait)
        created = client.post("/v1/catalogues", data={"bureau": "新区教育局", "id": "newdistrict"},
                              files={"file": ("2023年任务分解.xlsx", other_bureau_table())})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["id"] == "newdistrict" and body["tasks"] == 7 and body["history"] == 7
        assert {d["name"] for d in body["departments"]} == OTHER_SECTIONS

        listed = client.get("/v1/catalogues").json()["catalogues"]
        assert listed[0]["id"] == "chengde" and listed[0]["default"] and listed[0]["history"] == 29
        assert "newdistrict" in [c["id"] for c in listed]

        plan = SEED_000.read_text(encoding="utf-8")
        theirs = client.post("/v1/plans", json={"text": plan, "doc": "000", "catalogue": "newdistrict"}).json()
        ours = client.post("/v1/plans", json={"text": plan, "doc": "000"}).json()
        assert theirs["catalogue"] == "newdistrict" and ours["catalogue"] == "chengde"
        chengde_names = set(find_catalogue("chengde").names)
        for clause in theirs["clauses"]:
            suggested = {d["name"] for d in clause["departments"]}
            assert suggested <= OTHER_SECTIONS | set(clause["lead_departments"] + clause["cooperating_departments"])
            assert not suggested & (chengde_names - OTHER_SECTIONS)
        assert all({d["name"] for d in c["departments"]} <= chengde_names for c in ours["clauses"])
        # the same through an upload and /v1/classify, and the catalogue's sections at /v1/departments
        upload = client.post("/v1/plans", files={"file": ("plan.txt", plan.encode())}, data={"catalogue": "newdistrict"})
        assert upload.json()["catalogue"] == "newdistrict"
        classified = client.post("/v1/classify", json={"clauses": ["加强校园安全"], "catalogue": "newdistrict"}).json()
        assert {d["name"] for d in classified["results"][0]["departments"]} <= OTHER_SECTIONS
        assert {d["name"] for d in client.get("/v1/departments?catalogue=newdistrict").json()["departments"]} \
            == OTHER_SECTIONS

        # staff correct a row in the other bureau's sections; 承德's names are not that bureau's
        correction = {"text": "加强校园安全", "categories": ["safety"], "lead_departments": ["安全科"],
                      "cooperating_departments": ["党政办"], "catalogue": "newdistrict"}
        saved = client.post("/v1/feedback", json={"corrections": [correction]})
        assert saved.status_code == 201, saved.text
        stored = client.get("/v1/feedback", params={"since": saved.json()["ids"][0] - 1}).json()["corrections"][0]
        assert stored["catalogue"] == "newdistrict" and stored["cooperating_departments"] == ["党政办公室"]
        wrong = client.post("/v1/feedback", json={"corrections": [{**correction, "lead_departments": ["规划财务科"]}]})
        assert wrong.status_code == 422 and "规划财务科 (newdistrict)" in wrong.json()["detail"]

        # bad input: clear 4xx, nothing written
        unknown = client.post("/v1/classify", json={"clauses": ["加强校园安全"], "catalogue": "nowhere"})
        assert unknown.status_code == 422 and "nowhere" in unknown.json()["detail"]
        again = client.post("/v1/catalogues", data={"bureau": "新区教育局", "id": "newdistrict"},
                            files={"file": ("t.xlsx", other_bureau_table())})
        assert again.status_code == 409
        wrong_type = client.post("/v1/catalogues", data={"bureau": "乙"}, files={"file": ("t.pdf", b"%PDF-1.4")})
        assert wrong_type.status_code == 415
        no_header = client.post("/v1/catalogues", data={"bureau": "丙", "id": "nohead"},
                                files={"file": ("t.csv", "编号,说明\n1,做好党建\n".encode())})
        assert no_header.status_code == 422 and "t.csv" in no_header.json()["detail"]
        assert "nohead" not in [c["id"] for c in client.get("/v1/catalogues").json()["catalogues"]]


def test_history_file_rows_are_validated(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUSEMAP_BUREAU_HISTORY", str(tmp_path))
    (tmp_path / "broken.jsonl").write_text(json.dumps({"text": "x"}) + "\n", encoding="utf-8")
    from clausemap.errors import InputFileError

    with pytest.raises(InputFileError, match="broken.jsonl:1"):
        read_history("broken")


def test_a_version_1_feedback_database_is_upgraded_and_corrections_keep_their_bureau(tmp_path):
    """Corrections saved before catalogues were named stay readable; new ones carry their bureau into the dataset."""
    import sqlite3

    from labels.feedback import MIGRATIONS, FeedbackStore, apply_corrections

    path = tmp_path / "feedback.sqlite"
    with sqlite3.connect(path) as db:  # as clausemap with schema version 1 left it
        db.execute(MIGRATIONS[0])
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO corrections (created_at, text, categories, lead_departments, cooperating_departments) "
                   "VALUES ('2026-01-01', '旧的更正', '[\"other\"]', '[\"办公室\"]', '[]')")
    store = FeedbackStore(path)
    assert store.error is None
    store.add([{"text": "加强校园安全", "categories": ["safety"], "lead_departments": ["安全科"],
                "cooperating_departments": [], "catalogue": "district"}])
    old, new = store.all()
    assert old["catalogue"] is None and new["catalogue"] == "district"
    rows: list[dict] = []
    apply_corrections(rows, [old, new])
    assert "bureau" not in rows[0] and rows[1]["bureau"] == "district"


@pytest.mark.model
def test_evaluate_departments_on_a_table_gives_a_cold_start_curve(seed_table, tiny_model_dir, capsys):
    assert main(["evaluate-departments", "--table", str(seed_table), "--model", str(tiny_model_dir), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert [p["history"] for p in made["curve"]] == [5, 10, 20, 28]  # no catalogue without history
    assert made["n"] == 29 and made["recall_at_3"] == made["curve"][-1]["recall_at_3"]
    assert all(0 <= p["recall_at_3"] <= 1 and 0 <= p["lead_accuracy"] <= 1 for p in made["curve"])
    # more history helps a catalogue made from it: the whole year beats five tasks
    assert made["curve"][-1]["recall_at_3"] > made["curve"][0]["recall_at_3"]

    assert main(["evaluate-departments", "--table", str(seed_table), "--model", str(tiny_model_dir),
                 "--catalogue", "chengde", "--json"]) == 0
    given = json.loads(capsys.readouterr().out)
    assert [p["history"] for p in given["curve"]][0] == 0 and "catalogue_only" in given


@pytest.mark.model
def test_evaluate_departments_table_naming_no_known_section_is_an_error(tmp_path, tiny_model_dir, capsys):
    table = tmp_path / "other.xlsx"
    table.write_bytes(other_bureau_table())
    assert main(["evaluate-departments", "--table", str(table), "--model", str(tiny_model_dir),
                 "--catalogue", "chengde"]) == 2
    assert "other.xlsx" in capsys.readouterr().err
