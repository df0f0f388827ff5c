"""`clausemap label init|push|pull` against a real Label Studio (tests/fixtures/label_studio.py starts it)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from clausemap.cli import main
from clausemap.clauses import segment_file
from clausemap.paths import PROJECT_ROOT
from labels.catalogue import load_catalogue
from labels.dataset import load_export, rows_from_export
from labels.studio.config import CATEGORIES_NAME, DEPARTMENTS_NAME, TEXT_NAME, config_choices, label_config
from labels.taxonomy import load_taxonomy

pytestmark = pytest.mark.label_studio

TAXONOMY = load_taxonomy()
CATALOGUE = load_catalogue()
SEED = PROJECT_ROOT / "seeds" / "000_ae45951577d4b07b.txt"


@pytest.fixture(scope="module")
def studio(label_studio):
    """The connection the commands use, from LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY."""
    from labels.studio.connection import Studio, StudioSettings

    with pytest.MonkeyPatch.context() as env:
        env.setenv("LABEL_STUDIO_URL", label_studio.url)
        env.setenv("LABEL_STUDIO_API_KEY", label_studio.api_key)
        env.setenv("CLAUSEMAP_LS_CONFIG", "/nonexistent/label-studio.yaml")
        yield Studio(StudioSettings(url=label_studio.url, api_key=label_studio.api_key))


@pytest.fixture(scope="module")
def seed_clauses(tmp_path_factory):
    """Ten clauses of seed 000 (they carry stated departments), as `clausemap segment` writes them."""
    clauses = [c.to_dict() for c in segment_file(SEED).clauses[:10]]
    path = tmp_path_factory.mktemp("clauses") / "clauses.jsonl"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in clauses), encoding="utf-8")
    return path, clauses


def run(*argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def model_version(model_dir) -> str:
    return json.loads((model_dir / "clausemap.json").read_text(encoding="utf-8"))["model_version"]


def tasks_of(studio, title: str) -> list:
    return sorted(studio.tasks(studio.require_project(title).id), key=lambda t: t.id)


@pytest.fixture(scope="module")
def pushed(studio, seed_clauses, tiny_model_dir):
    """Project "clausemap push": init, then the ten clauses pushed twice with the tiny model's predictions."""
    path, _ = seed_clauses
    outputs = []
    for _ in range(2):
        assert run("label", "init", "--project", "clausemap push")[0] == 0
        code, out, err = run(
            "label", "push", "--project", "clausemap push", "--clauses", str(path), "--model", str(tiny_model_dir)
        )
        assert code == 0, err
        outputs.append(out)
    return outputs


def test_init_creates_the_project_from_the_taxonomy_and_catalogue_then_updates_it(studio):
    code, out, _ = run("label", "init", "--project", "clausemap init")
    assert code == 0 and "created" in out
    project = studio.require_project("clausemap init")
    offered = config_choices(project.label_config)
    assert offered[CATEGORIES_NAME] == TAXONOMY.ids
    assert offered[DEPARTMENTS_NAME] == CATALOGUE.names
    assert "$section" in project.label_config and "$doc" in project.label_config

    assert run("label", "init", "--project", "clausemap init")[1].count("unchanged") == 1
    # A config that drifted from the taxonomy (a category removed) is refused, then repaired by init.
    stale = label_config(TAXONOMY, CATALOGUE).replace(f'alias="{TAXONOMY.specific_ids[0]}"', 'alias="retired_category"')
    studio.client.projects.update(project.id, label_config=stale)
    code, _, err = run("label", "pull", "--project", "clausemap init", "--out", "/nonexistent-dir/x.json")
    assert code == 2 and "no longer matches" in err and "retired_category" in err and err.count("\n") == 1
    code, out, _ = run("label", "init", "--project", "clausemap init")
    assert code == 0 and "updated" in out
    assert config_choices(studio.require_project("clausemap init").label_config)[CATEGORIES_NAME] == TAXONOMY.ids


@pytest.mark.model
def test_push_imports_each_clause_once_with_predictions_least_certain_first(
    studio, pushed, seed_clauses, tiny_model_dir
):
    first, second = pushed
    assert "10 tasks created" in first
    assert "0 tasks created, 0 updated, 10 unchanged" in second and "0 new predictions" in second
    tasks = tasks_of(studio, "clausemap push")
    _, clauses = seed_clauses
    assert sorted(t.data["clause_id"] for t in tasks) == sorted(c["id"] for c in clauses)
    version = model_version(tiny_model_dir)
    scores = []
    for task in tasks:
        [prediction] = task.predictions  # the second push added none
        assert prediction.model_version == version
        by_name = {item["from_name"]: item for item in prediction.result}
        assert by_name[CATEGORIES_NAME]["to_name"] == TEXT_NAME
        assert set(by_name[CATEGORIES_NAME]["value"]["choices"]) <= set(TAXONOMY.ids)
        assert set(by_name.get(DEPARTMENTS_NAME, {"value": {"choices": []}})["value"]["choices"]) <= set(
            CATALOGUE.names
        )
        scores.append(prediction.score)
    assert scores == sorted(scores), "tasks must be imported least certain first"
    # The clause's context and stated departments travel with the task.
    by_id = {c["id"]: c for c in clauses}
    for task in tasks:
        clause = by_id[task.data["clause_id"]]
        assert task.data["text"] == clause["text"] and task.data["section"] == " / ".join(clause["section"])
        assert task.data.get("lead_departments", []) == [CATALOGUE.resolve(d) for d in clause["lead_departments"]]
    assert studio.require_project("clausemap push").model_version == version


def test_push_updates_a_changed_clause_in_place(studio, seed_clauses, tmp_path):
    _, clauses = seed_clauses
    assert run("label", "init", "--project", "clausemap change")[0] == 0
    plans = [SEED]
    code, out, _ = run("label", "push", "--project", "clausemap change", *map(str, plans))
    assert code == 0 and "tasks created" in out
    before = {t.data["clause_id"]: t.id for t in tasks_of(studio, "clausemap change")}

    changed = [dict(c) for c in clauses[:3]]
    changed[1]["text"] += "（修订）"
    path = tmp_path / "changed.jsonl"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in changed), encoding="utf-8")
    code, out, _ = run("label", "push", "--project", "clausemap change", "--clauses", str(path))
    assert code == 0 and "0 tasks created, 1 updated, 2 unchanged" in out
    after = {t.data["clause_id"]: t for t in tasks_of(studio, "clausemap change")}
    assert {k: t.id for k, t in after.items()} == before  # same tasks, none added
    assert after[changed[1]["id"]].data["text"].endswith("（修订）")


@pytest.fixture(scope="module")
def annotated(studio, pushed):
    """Annotations made through the SDK as annotators would: two users, a skip, a ground truth."""
    client = studio.client
    project = studio.require_project("clausemap push")
    tasks = tasks_of(studio, "clausemap push")
    second = client.users.create(username="reviewer", email="reviewer@clausemap.test", password="reviewer-pass-1")
    a, b = TAXONOMY.specific_ids[:2]
    d1, d2 = CATALOGUE.names[:2]

    def result(cats, depts=()):
        items = [{"from_name": CATEGORIES_NAME, "to_name": TEXT_NAME, "type": "choices", "value": {"choices": cats}}]
        if depts:
            items.append(
                {
                    "from_name": DEPARTMENTS_NAME,
                    "to_name": TEXT_NAME,
                    "type": "choices",
                    "value": {"choices": list(depts)},
                }
            )
        return items

    t = {i: task for i, task in enumerate(tasks)}
    client.annotations.create(t[0].id, result=result([a], [d2, d1]))
    client.annotations.create(t[1].id, result=[], was_cancelled=True)  # skipped: not training data
    client.annotations.create(t[2].id, result=result([a]), ground_truth=True)
    client.annotations.create(t[2].id, result=result([b]), completed_by=second.id)  # later, but not ground truth
    client.annotations.create(t[3].id, result=result([a]))
    client.annotations.create(t[3].id, result=result([a, b]), completed_by=second.id)  # the latest wins
    expected = {
        t[0].data["clause_id"]: [a],
        t[2].data["clause_id"]: [a],
        t[3].data["clause_id"]: sorted([a, b], key=TAXONOMY.ids.index),
    }
    return project, t, expected, second


@pytest.mark.model
def test_pull_exports_annotations_with_provenance_and_they_build_the_dataset(annotated, tmp_path):
    project, tasks, expected, second = annotated
    out = tmp_path / "annotations" / "clausemap push.json"
    code, printed, _ = run("label", "pull", "--project", "clausemap push", "--out", str(out))
    assert code == 0 and "10 tasks, 3 dataset rows, 7 without a usable annotation" in printed

    export = load_export(out)
    annotators = {a["annotator"] for task in export for a in task["annotations"]}
    assert annotators == {"annotator@clausemap.test", "reviewer@clausemap.test"}
    assert all(a["created_at"] for task in export for a in task["annotations"])

    rows = rows_from_export(export)
    assert {r["id"]: r["categories"] for r in rows} == expected
    row0 = next(r for r in rows if r["id"] == tasks[0].data["clause_id"])
    lead = tasks[0].data.get("lead_departments", [])
    chosen = CATALOGUE.names[1::-1]  # [d2, d1] as annotated
    assert row0["departments"] == [d for d in lead if d in chosen] + [d for d in chosen if d not in lead]

    dataset = tmp_path / "dataset.jsonl"
    code, printed, _ = run("data", "build", "--annotations", str(out.parent), "--out", str(dataset))
    assert code == 0
    assert [json.loads(line)["id"] for line in dataset.read_text(encoding="utf-8").splitlines()] == [
        r["id"] for r in rows
    ]


@pytest.mark.parametrize(
    "env, argv, expected",
    [
        (
            {"LABEL_STUDIO_API_KEY": "wrong-token-9f8e7d"},
            ["pull", "--project", "clausemap push"],
            "rejected the API key",
        ),
        (
            {"LABEL_STUDIO_URL": "http://127.0.0.1:9"},
            ["pull", "--project", "clausemap push"],
            "cannot reach Label Studio",
        ),
        ({}, ["pull", "--project", "no such project"], "no Label Studio project named 'no such project'"),
        ({}, ["push", "--project", "no such project", str(SEED)], "no Label Studio project named 'no such project'"),
        ({"LABEL_STUDIO_API_KEY": ""}, ["init", "--project", "clausemap push"], "set LABEL_STUDIO_API_KEY"),
    ],
)
def test_connection_and_project_errors_are_one_line_without_the_key(studio, monkeypatch, tmp_path, env, argv, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "annotations" / "x.json"
    extra = ["--out", str(out)] if argv[0] == "pull" else []
    code, _, err = run("label", *argv, *extra)
    assert code == 2
    assert expected in err and err.startswith("clausemap: error:") and err.count("\n") == 1
    assert "Traceback" not in err
    for secret in (studio.settings.api_key.get_secret_value(), "wrong-token-9f8e7d"):
        assert secret not in err
    assert not out.parent.exists()  # nothing half-written


def test_sentence_tasks_push_once_pull_into_the_sentences_folder_and_build(studio, seed_clauses, tmp_path):
    """Sentences are labelled in Label Studio with the same config: one task per sentence, pushed idempotently,
    pulled into data/annotations/sentences/ and attached to their clauses by `clausemap data build`."""
    from labels.studio.push import sentence_task_data

    path, clauses = seed_clauses
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(clauses[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert run("label", "init", "--project", "clausemap sentences")[0] == 0
    code, printed, _ = run("label", "push", "--project", "clausemap sentences", "--clauses", str(one), "--sentences")
    wanted = sentence_task_data(clauses[0])
    assert code == 0 and f"{len(wanted)} tasks created" in printed
    assert run("label", "push", "--project", "clausemap sentences", "--clauses", str(one), "--sentences")[0] == 0
    tasks = tasks_of(studio, "clausemap sentences")
    assert [t.data["sentence_id"] for t in tasks] == [d["sentence_id"] for d in wanted]  # nothing twice
    for task in tasks:
        assert task.data["clause_text"][task.data["start"]:task.data["end"]] == task.data["text"]

    # Annotate every sentence: the clause's own categories on the first, "other" on the rest.
    annotations = tmp_path / "annotations"
    (annotations / "sentences").mkdir(parents=True)
    cats = [c for c in json.loads((PROJECT_ROOT / "data" / "dataset.jsonl").read_text("utf-8").splitlines()[0])
            ["categories"]]
    for i, task in enumerate(tasks):
        chosen = cats if i == 0 else [TAXONOMY.fallback_id]
        studio.client.annotations.create(task.id, result=[{"from_name": CATEGORIES_NAME, "to_name": TEXT_NAME,
                                                           "type": "choices", "value": {"choices": chosen}}])
    out = annotations / "sentences" / "s.json"
    code, printed, _ = run("label", "pull", "--project", "clausemap sentences", "--sentences", "--out", str(out))
    assert code == 0 and f"{len(wanted)} labelled sentences" in printed
    # A sentence export where a clause export belongs is refused, naming where it goes.
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "s.json").write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    code, _, err = run("data", "build", "--annotations", str(wrong), "--out", str(tmp_path / "w.jsonl"))
    assert code == 2 and "sentence task" in err

    # With the clause's own annotation beside it, the build attaches the sentence labels.
    clause_task = {"id": 1, "data": {"clause_id": clauses[0]["id"], "doc": clauses[0]["doc"], "text": clauses[0]["text"]},
                   "annotations": [{"id": 1, "result": [{"from_name": CATEGORIES_NAME, "to_name": TEXT_NAME,
                                                         "type": "choices", "value": {"choices": cats}}]}]}
    (annotations / "clauses.json").write_text(json.dumps([clause_task], ensure_ascii=False), encoding="utf-8")
    dataset = tmp_path / "dataset.jsonl"
    assert run("data", "build", "--annotations", str(annotations), "--out", str(dataset))[0] == 0
    row = json.loads(dataset.read_text(encoding="utf-8"))
    assert [s["categories"] for s in row["sentences"]] == [cats] + [[TAXONOMY.fallback_id]] * (len(wanted) - 1)


def test_label_import_loads_the_seed_annotations_in_one_step_twice_without_duplicates(studio, tmp_path):
    """No hand-made users: the annotations become the importing user's, the original annotator stays in meta."""
    seeds = PROJECT_ROOT / "data" / "annotations" / "seeds.json"
    code, printed, err = run("label", "import", str(seeds), "--project", "clausemap import")
    assert code == 0, err
    assert "135 tasks created with 135 annotations, 0 already there" in printed
    code, printed, _ = run("label", "import", str(seeds), "--project", "clausemap import")
    assert code == 0 and "0 tasks created with 0 annotations, 135 already there" in printed

    tasks = tasks_of(studio, "clausemap import")
    assert len(tasks) == 135 and sum(len(t.annotations or []) for t in tasks) == 135
    assert all(t.meta["imported_annotations"][0]["annotator"] == "annotator@clausemap.local" for t in tasks)
    # The project exports back to the same dataset rows.
    out = tmp_path / "import.json"
    assert run("label", "pull", "--project", "clausemap import", "--out", str(out))[0] == 0
    assert rows_from_export(load_export(out)) == rows_from_export(load_export(seeds))


def test_push_feedback_adds_staff_corrections_as_annotations_once(studio, seed_clauses, tmp_path, monkeypatch):
    from labels.feedback import FeedbackStore

    path, clauses = seed_clauses
    assert run("label", "init", "--project", "clausemap feedback")[0] == 0
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(clauses[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert run("label", "push", "--project", "clausemap feedback", "--clauses", str(one))[0] == 0
    db = tmp_path / "feedback.sqlite"
    store = FeedbackStore(db)
    store.add([{"text": clauses[0]["text"], "categories": ["teachers"], "lead_departments": ["人事组干科"],
                "cooperating_departments": [], "author": "staff@bureau", "model_version": "m-1"},
               {"text": "推进学前教育普及普惠发展,新增学位两千个。", "categories": ["preschool"], "lead_departments": [],
                "cooperating_departments": [], "author": "staff@bureau", "model_version": "m-1"}])
    store.close()
    monkeypatch.setenv("CLAUSEMAP_FEEDBACK_DB", str(db))
    code, printed, err = run("label", "push", "--project", "clausemap feedback", "--feedback")
    assert code == 0, err
    assert "2 corrections added as annotations (1 new tasks), 0 already there" in printed
    assert "0 corrections added" in run("label", "push", "--project", "clausemap feedback", "--feedback")[1]
    tasks = tasks_of(studio, "clausemap feedback")
    assert len(tasks) == 2
    by_text = {t.data["text"]: t for t in tasks}
    corrected = by_text[clauses[0]["text"]]
    assert [a["result"][0]["value"]["choices"] for a in corrected.annotations] == [["teachers"]]
    assert corrected.meta["feedback"][0]["author"] == "staff@bureau"
    assert corrected.meta["feedback"][0]["model_version"] == "m-1"
