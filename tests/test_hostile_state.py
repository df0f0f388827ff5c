"""State that cannot be poisoned (issue 20): catalogue ids resolve only inside the catalogue folders, creation is
validated first, locked and atomic, one broken catalogue makes only its bureau unavailable, and no upload takes
another bureau's history. Through the real FastAPI app; a stub predictor where the behaviour is beside inference."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from clausemap.errors import InputFileError
from clausemap.fileio import read_yaml, write_text_atomic
from labels.bureaus import history_path, plan_owners
from labels.catalogue import (CATALOGUE_ID_MAX_LENGTH, CatalogueIdError, CatalogueUnavailable, UnknownCatalogue,
                              find_catalogue, load_catalogue, save_catalogue)
from labels.taxonomy import load_taxonomy
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support.documents import make_table_xlsx
from training.inference.predictor import Prediction
from training.inference.pipeline import AnnotatedRows, ClausePipeline, fit_suggester

pytestmark = pytest.mark.timeout(300)

CHENGDE_PLAN = "000_ae45951577d4b07b"  # 承德's plan: shipped chengde.yaml lists it under `plans`
SECRET = "token-7f3a9c"  # in files of the working directory: must never show in an answer
SECTIONS = {"党政办公室", "学前教育科", "安全科"}


def district_table() -> bytes:
    rows = [
        ["序号", "重点任务", "牵头科室", "配合科室", "完成时限"],
        [1, "加强党的政治建设,落实全面从严治党主体责任。", "党政办公室", "", "全年"],
        [2, "推进学前教育普及普惠,新建公办幼儿园3所。", "学前教育科", "党政办公室", "9月底前"],
        [3, "开展校园安全隐患排查整治,加强防溺水教育。", "安全科", "学前教育科", "全年"],
    ]
    return make_table_xlsx(rows)


class StubPredictor:
    """Every clause gets the taxonomy's first category; embeddings count characters. Enough for routes whose
    behaviour comes before or beside the model's."""

    model_version = "stub"
    info: dict = {}

    def __init__(self, taxonomy):
        self.labels = list(taxonomy.ids)
        self.fallback_id = taxonomy.fallback_id
        self.thresholds = {label: 0.5 for label in self.labels}

    def predict(self, texts):
        first = self.labels[0]
        return [Prediction({label: float(label == first) for label in self.labels}, [first]) for _ in texts]

    def predict_and_embed(self, texts):
        return self.predict(texts), self.embed(texts)

    def embed(self, texts):
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                vectors[i, ord(ch) % 64] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def chengde_history_rows() -> list[dict]:
    """Three annotated rows of 承德's plan, without a `bureau`: its catalogue's `plans` is what makes them 承德's."""
    return [{"id": f"{CHENGDE_PLAN}-{n}", "doc": CHENGDE_PLAN, "number": str(n), "text": text,
             "categories": ["other"], "departments": [dept], "lead_departments": [dept]}
            for n, (text, dept) in enumerate([("加强党的建设,落实从严治党。", "党建办"),
                                              ("推进学前教育普及普惠发展。", "基础教育科"),
                                              ("加强校园安全管理。", "安全科")], start=1)]


def stub_pipeline() -> ClausePipeline:
    """Built as training.inference.pipeline.load_pipeline builds one at startup (the suggester fitted over plan_owners())."""
    taxonomy = load_taxonomy()
    predictor = StubPredictor(taxonomy)
    rows = chengde_history_rows()
    annotated = AnnotatedRows(rows, predictor.embed([r["text"] for r in rows]), "given rows")
    return ClausePipeline(predictor, fit_suggester(find_catalogue(None), predictor, annotated), taxonomy, annotated)


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """Scratch catalogue and history folders, and a working directory with id-shaped files in it."""
    catalogues, histories, cwd = tmp_path / "catalogues", tmp_path / "history", tmp_path / "cwd"
    for folder in (catalogues, histories, cwd):
        folder.mkdir()
    monkeypatch.setenv("CLAUSEMAP_CATALOGUES", str(catalogues))
    monkeypatch.setenv("CLAUSEMAP_BUREAU_HISTORY", str(histories))
    monkeypatch.chdir(cwd)
    return catalogues, histories, cwd


def service(tmp_path, **settings) -> TestClient:
    return TestClient(create_app(ServingSettings(feedback_db=tmp_path / "feedback.sqlite", **settings),
                                 pipeline=stub_pipeline()))


def create(client, bureau="某某区教育局", catalogue_id=None, name="2023年任务分解.xlsx"):
    data = {"bureau": bureau} | ({"id": catalogue_id} if catalogue_id is not None else {})
    return client.post("/v1/catalogues", data=data, files={"file": (name, district_table())})


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_id_shaped_file_in_the_working_directory_is_never_read_or_shadowing(folders, tmp_path):
    catalogues, histories, cwd = folders
    # what the attack left behind: files named like ids, one of them like the default bureau's
    for name in ("Makefile", "chengde", "chengde.yaml", "notes"):
        (cwd / name).write_text(f"all:\n\techo {SECRET}\n[unclosed: {SECRET}\n", encoding="utf-8")
    before = files_under(cwd)
    with service(tmp_path) as client:
        made = create(client, "制造局", "Makefile")
        assert made.status_code == 201, made.text
        assert made.json()["id"] == "Makefile" and {d["name"] for d in made.json()["departments"]} == SECTIONS
        listing = client.get("/v1/catalogues")
        assert listing.status_code == 200 and listing.json()["unavailable"] == []
        assert {c["id"]: c["bureau"] for c in listing.json()["catalogues"]} == {"chengde": "承德市教育局",
                                                                               "Makefile": "制造局"}
        answers = [listing,
                   client.post("/v1/classify", json={"clauses": ["加强校园安全"], "catalogue": "Makefile"}),
                   client.post("/v1/classify", json={"clauses": ["加强校园安全"], "catalogue": "chengde"}),
                   client.get("/v1/departments", params={"catalogue": "chengde"})]
        assert [a.status_code for a in answers] == [200] * 4
        assert answers[1].json()["catalogue"] == "Makefile" and answers[2].json()["catalogue"] == "chengde"
        # an id with no catalogue is unknown, though a file of that name is in the working directory
        notes = client.post("/v1/classify", json={"clauses": ["加强校园安全"], "catalogue": "notes"})
        assert notes.status_code == 422 and "no department catalogue 'notes'" in notes.json()["detail"]
        answers.append(notes)
        assert not any(SECRET in a.text for a in answers)
    assert files_under(cwd) == before  # nothing written or changed there
    assert set(files_under(catalogues)) == {"Makefile.yaml"}  # no temporary file left behind
    assert set(files_under(histories)) == {"Makefile.jsonl"}
    # the command line's lookups too: an id is looked up in the catalogue folders only
    assert find_catalogue("chengde").bureau == "承德市教育局"
    assert find_catalogue("Makefile").bureau == "制造局"
    with pytest.raises(UnknownCatalogue, match="'notes'") as unknown:
        find_catalogue("notes")
    assert SECRET not in str(unknown.value)


@pytest.mark.parametrize("bad_id", ["a" * 300, "a" * (CATALOGUE_ID_MAX_LENGTH + 1), "../chengde", "x.yaml", "a b",
                                    "编号"])
def test_a_bad_or_300_character_id_is_a_422_and_nothing_is_written(folders, tmp_path, bad_id):
    catalogues, histories, cwd = folders
    with service(tmp_path) as client:
        made = create(client, "甲", bad_id)
        assert made.status_code == 422 and "\n" not in made.json()["detail"], made.text
        assert client.post("/v1/classify", json={"clauses": ["加强校园安全"], "catalogue": bad_id}).status_code == 422
        assert client.get("/v1/departments", params={"catalogue": bad_id}).status_code == 422
        upload = client.post("/v1/plans", data={"catalogue": bad_id},
                             files={"file": ("plan.txt", "一、加强校园安全管理。\n二、推进学前教育。\n".encode())})
        assert upload.status_code == 422, upload.text
        assert client.get("/v1/catalogues").status_code == 200
    assert files_under(catalogues) == {} and files_under(histories) == {} and files_under(cwd) == {}
    # on the command line: a bad id is an error naming the rule; a string with '/' or .yaml is a path
    with pytest.raises(InputFileError if "/" in bad_id or bad_id.endswith(".yaml") else CatalogueIdError):
        find_catalogue(bad_id)


def test_sixteen_concurrent_creates_of_one_id_give_one_201(folders, tmp_path):
    catalogues, histories, _ = folders
    with service(tmp_path) as client:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda n: create(client, f"区教育局{n}", "race"), range(16)))
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] + [409] * 15, [a.text for a in answers if a.status_code not in (201, 409)]
        winner = next(a.json() for a in answers if a.status_code == 201)
        assert find_catalogue("race").bureau == winner["bureau"]
        assert all("exists" in a.json()["detail"] for a in answers if a.status_code == 409)
    assert set(files_under(catalogues)) == {"race.yaml"} and set(files_under(histories)) == {"race.jsonl"}
    assert len(history_path("race").read_text(encoding="utf-8").splitlines()) == 3  # one table's tasks, once


def test_a_bureau_name_over_the_limit_or_past_the_bureau_cap_is_refused_before_anything_is_written(folders, tmp_path):
    catalogues, _, _ = folders
    with service(tmp_path, max_bureaus=2) as client:  # the shipped 承德 and one more
        for name in ("局" * 101, "甲局\n乙局"):
            refused = create(client, name, "named")
            assert refused.status_code == 422, refused.text
        assert files_under(catalogues) == {}
        assert create(client, "甲局", "first").status_code == 201
        over = create(client, "乙局", "second")
        assert over.status_code == 409 and "CLAUSEMAP_MAX_BUREAUS" in over.json()["detail"]
    assert set(files_under(catalogues)) == {"first.yaml"}


def broken_catalogues(folder: Path) -> None:
    """A good catalogue, one that is not YAML, one that is YAML but not a catalogue, and 承德's under another
    file name."""
    good = find_catalogue("chengde").model_copy(update={"id": "good", "bureau": "好局", "plans": {}})
    save_catalogue(good, folder / "good.yaml")
    save_catalogue(find_catalogue("chengde"), folder / "impostor.yaml")
    (folder / "broken.yaml").write_text("id: broken\nbureau: [unclosed\ndepartments:\n", encoding="utf-8")
    (folder / "invalid.yaml").write_text("id: invalid\nbureau: 坏局\ndepartments: []\n", encoding="utf-8")


def test_a_broken_catalogue_makes_only_its_bureau_unavailable_also_after_a_restart(folders, tmp_path, caplog):
    catalogues, _, _ = folders
    broken_catalogues(catalogues)
    caplog.set_level(logging.WARNING)
    added = []
    for start in ("first", "restart"):  # a new app: the suggester is fitted again over every catalogue
        with service(tmp_path) as client:
            listing = client.get("/v1/catalogues")
            assert listing.status_code == 200, listing.text
            assert [c["id"] for c in listing.json()["catalogues"]] == ["chengde", *added, "good"]
            unavailable = {u["id"]: u["error"] for u in listing.json()["unavailable"]}
            assert set(unavailable) == {"broken", "invalid", "impostor"}
            assert "its id is 'chengde'" in unavailable["impostor"]
            assert "broken.yaml:3: invalid YAML" in unavailable["broken"]
            assert "invalid.yaml" in unavailable["invalid"] and "departments" in unavailable["invalid"]
            for ref, status in (("broken", 503), ("invalid", 503), ("impostor", 503), ("good", 200), (None, 200)):
                answer = client.post("/v1/classify", json={"clauses": ["加强校园安全管理。"], "catalogue": ref})
                assert answer.status_code == status, answer.text
            reason = client.post("/v1/plans", json={"text": "一、加强校园安全管理。\n二、推进学前教育。\n",
                                                    "catalogue": "invalid"})
            assert reason.status_code == 503 and "catalogue 'invalid' is unavailable" in reason.json()["detail"]
            assert create(client, "新局", f"{start}-added").status_code == 201  # new bureaus can still be added
            added.append(f"{start}-added")
    logged = [r.getMessage() for r in caplog.records if "catalogue unavailable" in r.getMessage()]
    assert any("broken.yaml" in m for m in logged) and any("invalid.yaml" in m for m in logged)



def catalogue_enums(node) -> list[list[str]]:
    """The `enum` of every `catalogue` field and parameter in an OpenAPI schema."""
    found = []
    if isinstance(node, dict):
        targets = [node["properties"]["catalogue"]] if "catalogue" in node.get("properties", {}) else []
        targets += [node["schema"]] if node.get("name") == "catalogue" and "schema" in node else []
        found += [branch["enum"] for target in targets for branch in target.get("anyOf", [target]) if "enum" in branch]
        node = list(node.values())
    for value in node if isinstance(node, list) else []:
        found += catalogue_enums(value)
    return found


def test_the_openapi_schema_offers_only_usable_catalogues(folders, tmp_path):
    """A broken catalogue answers 503, so the schema does not offer it; once its file is mended, it does."""
    catalogues, _, _ = folders
    broken_catalogues(catalogues)
    with service(tmp_path) as client:
        enums = catalogue_enums(client.get("/openapi.json").json())
        assert len(enums) >= 3 and all(enum == ["chengde", "good"] for enum in enums), enums
        mended = find_catalogue("good").model_copy(update={"id": "broken", "bureau": "修好的局"})
        save_catalogue(mended, catalogues / "broken.yaml")
        assert catalogue_enums(client.get("/openapi.json").json())[0] == ["chengde", "broken", "good"]

def test_an_upload_named_like_another_bureaus_plan_does_not_take_its_history(folders, tmp_path):
    catalogues, _, _ = folders
    with service(tmp_path) as client:
        def history():
            return {c["id"]: c["history"] for c in client.get("/v1/catalogues").json()["catalogues"]}

        assert history() == {"chengde": 3}
        made = create(client, "别的局", "taker", name=f"{CHENGDE_PLAN}.xlsx")
        assert made.status_code == 201 and made.json()["history"] == 3  # its own table's tasks only
        assert history() == {"chengde": 3, "taker": 3}
        assert load_catalogue(catalogues / "taker.yaml").plans == {}  # an upload claims no plan
        # a catalogue that claims 承德's plan anyway (written by hand, or by an older version) takes nothing either
        claimer = find_catalogue("taker").model_copy(update={"id": "claimer", "plans": {CHENGDE_PLAN: "抢来的"}})
        save_catalogue(claimer, catalogues / "claimer.yaml")
        assert history() == {"chengde": 3, "taker": 3, "claimer": 0}
        assert plan_owners()[CHENGDE_PLAN] == ""  # nobody's: it counts for the default catalogue
        suggested = client.post("/v1/classify", json={"clauses": ["加强党的建设,落实从严治党。"],
                                                      "catalogue": "claimer"}).json()["results"][0]["departments"]
        assert not any(CHENGDE_PLAN in e or "2022年教育工作要点" in e for d in suggested for e in d["evidence"])


def test_catalogue_writes_are_atomic_and_creation_exclusive(tmp_path, monkeypatch):
    path = tmp_path / "cat.yaml"
    write_text_atomic(path, "old\n")
    with pytest.raises(FileExistsError):
        write_text_atomic(path, "new\n", exclusive=True)
    assert path.read_text(encoding="utf-8") == "old\n"

    def no_hard_links(*_):
        raise OSError(1, "Operation not permitted")

    with monkeypatch.context() as patched:  # a file system without hard links: still exclusive
        patched.setattr(os, "link", no_hard_links)
        with pytest.raises(FileExistsError):
            write_text_atomic(path, "new\n", exclusive=True)
        write_text_atomic(tmp_path / "other.yaml", "other\n", exclusive=True)
    assert path.read_text(encoding="utf-8") == "old\n"
    assert (tmp_path / "other.yaml").read_text(encoding="utf-8") == "other\n"
    (tmp_path / "other.yaml").unlink()

    def crash(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_text_atomic(path, "half")
    assert path.read_text(encoding="utf-8") == "old\n" and [p.name for p in tmp_path.iterdir()] == ["cat.yaml"]


def test_a_yaml_error_is_one_line_and_quotes_no_line_of_the_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(f"a: 1\nb: [{SECRET}\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"x.yaml:\d+: invalid YAML") as error:
        read_yaml(path, "department catalogue")
    assert SECRET not in str(error.value) and "\n" not in str(error.value)


def test_a_broken_catalogue_by_id_is_unavailable_not_unknown(folders):
    catalogues, _, _ = folders
    broken_catalogues(catalogues)
    with pytest.raises(CatalogueUnavailable, match="broken.yaml") as error:
        find_catalogue("broken")
    assert error.value.http_status == 503
    assert set(plan_owners().values()) == {"chengde"}  # the rest still read


@pytest.mark.model
def test_the_model_loads_at_startup_beside_a_broken_catalogue_and_a_shadowing_file(tiny_model_dir, folders, tmp_path):
    """The real startup path (model loaded from settings, suggester fitted over every catalogue)."""
    catalogues, _, cwd = folders
    broken_catalogues(catalogues)
    for name in ("chengde", "good", "broken"):
        (cwd / name).write_text(f"[{SECRET}\n", encoding="utf-8")
    before = files_under(cwd)
    settings = ServingSettings(model=tiny_model_dir, feedback_db=tmp_path / "feedback.sqlite")
    with TestClient(create_app(settings)) as client:
        client.portal.call(client.app.state.model.wait)
        assert client.get("/readyz").status_code == 200
        listing = client.get("/v1/catalogues").json()
        assert [c["id"] for c in listing["catalogues"]] == ["chengde", "good"]
        assert {u["id"] for u in listing["unavailable"]} == {"broken", "invalid", "impostor"}
        for ref, status in (("chengde", 200), ("good", 200), (None, 200), ("broken", 503)):
            answer = client.post("/v1/classify", json={"clauses": ["加强校园安全管理。"], "catalogue": ref})
            assert answer.status_code == status and SECRET not in answer.text, answer.text
    assert files_under(cwd) == before


def test_the_command_line_lists_the_readable_catalogues_and_names_the_broken_ones(folders, capsys):
    from clausemap.cli import main

    catalogues, _, cwd = folders
    broken_catalogues(catalogues)
    (cwd / "good").write_text(f"[{SECRET}\n", encoding="utf-8")
    assert main(["catalogue", "list"]) == 2  # a broken catalogue is an error worth a status, the rest still listed
    out, err = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.splitlines()] == ["chengde", "good"]
    assert {line.split("\t")[0] for line in err.splitlines()} == {"broken", "invalid", "impostor"}
    assert SECRET not in out + err
    table = cwd / "t.xlsx"
    table.write_bytes(district_table())
    assert main(["history", "add", str(table), "--catalogue", "good"]) == 0  # the folder's good.yaml, not ./good
    assert main(["history", "add", str(table), "--catalogue", "broken"]) == 2
    assert "catalogue 'broken' is unavailable" in capsys.readouterr().err


def test_a_listing_reads_no_catalogue_file_twice(folders, tmp_path, monkeypatch):
    import labels.catalogue as catalogue_module

    catalogues, _, _ = folders
    shipped = find_catalogue("chengde")
    for n in range(20):  # more than the 16 files the cache used to hold
        save_catalogue(shipped.model_copy(update={"id": f"b{n}", "plans": {}}), catalogues / f"b{n}.yaml")
    reads = []
    validate = catalogue_module._validate
    monkeypatch.setattr(catalogue_module, "_validate", lambda *a: reads.append(a[0]) or validate(*a))
    with service(tmp_path) as client:
        first = client.get("/v1/catalogues").json()["catalogues"]
        assert len(first) == 21 and len(reads) == 20
        assert client.get("/v1/catalogues").json()["catalogues"] == first
    assert len(reads) == 20  # the second listing read none again
