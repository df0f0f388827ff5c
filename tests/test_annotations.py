"""The annotated seed dataset: data/annotations/ (Label Studio JSON export), data/dataset.jsonl and its card.

Regenerate the card's count tables after changing annotations with:
    clausemap data build && .venv/bin/python -m tests.test_annotations
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from clausemap.clauses import segment_file
from clausemap.paths import PROJECT_ROOT
from labels.catalogue import load_catalogue
from labels.dataset import SENTENCES_DIR, convert_export, load_export, sentence_labels
from labels.studio.config import CATEGORIES_NAME, DEPARTMENTS_NAME
from labels.taxonomy import load_taxonomy

ANNOTATIONS = PROJECT_ROOT / "data" / "annotations"
DATASET = PROJECT_ROOT / "data" / "dataset.jsonl"
WRITTEN = PROJECT_ROOT / "data" / "written.jsonl"
SPLITS = PROJECT_ROOT / "data" / "splits.json"
CARD = PROJECT_ROOT / "data" / "README.md"
SEEDS = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
# Written independently of the segmenter's own note parser: any "<role> <unit>:" label of a stated-department note.
DEPARTMENT_NOTE = re.compile(r"(?:责任|牵头|配合|协办|参与|负责|主责)(?:科室|处室|单位|部门)\s*[:：]")
CARD_BEGIN, CARD_END = "<!-- counts:begin -->", "<!-- counts:end -->"


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="module")
def tasks() -> list[dict]:
    """Every annotated task of every export under data/annotations/."""
    files = sorted(ANNOTATIONS.glob("*.json"))
    assert files, f"no Label Studio exports in {ANNOTATIONS}"
    return [task for path in files for task in load_export(path)]


@pytest.fixture(scope="module")
def seed_clauses() -> dict[str, object]:
    """The seed clauses as the segmenter yields them now, by clause id."""
    return {clause.id: clause for path in SEEDS for clause in segment_file(path).clauses}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A fresh `clausemap data build` of data/annotations/ into a temporary folder (the real CLI)."""
    out = tmp_path_factory.mktemp("build") / "dataset.jsonl"
    result = run_build(out)
    assert result.returncode == 0, result.stderr
    return out


def run_build(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clausemap", "data", "build", "--annotations", str(ANNOTATIONS), "--out", str(out),
         "--no-feedback"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
    )  # fmt: skip


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def choices(task: dict, from_name: str) -> list[str]:
    """The values a task's (single) annotation chose in one <Choices> block."""
    (annotation,) = task["annotations"]
    return [v for r in annotation["result"] if r["from_name"] == from_name for v in r["value"]["choices"]]


# --- the annotations ------------------------------------------------------------------------------------


def test_each_task_has_exactly_one_completed_annotation(tasks):
    for task in tasks:
        annotations = task["annotations"]
        assert len(annotations) == 1, task["data"]["clause_id"]
        assert not annotations[0]["was_cancelled"], task["data"]["clause_id"]
    ids = [t["id"] for t in tasks]
    assert len(ids) == len(set(ids)), "task ids must be unique"


def test_every_category_in_the_data_exists_in_the_taxonomy(tasks, taxonomy):
    used = {c for task in tasks for c in choices(task, CATEGORIES_NAME)}
    assert used and used <= set(taxonomy.ids), used - set(taxonomy.ids)


def test_every_clause_carries_a_category_and_other_is_never_combined(tasks, taxonomy):
    for task in tasks:
        chosen = choices(task, CATEGORIES_NAME)
        clause = task["data"]["clause_id"]
        assert chosen, f"{clause} has no category"
        assert len(chosen) == len(set(chosen)), f"{clause} repeats a category"
        if taxonomy.fallback_id in chosen:
            assert chosen == [taxonomy.fallback_id], f"{clause}: {taxonomy.fallback_id} combined with {chosen}"


def test_every_seed_clause_is_annotated_exactly_once_with_its_current_text(tasks, seed_clauses):
    annotated = Counter(task["data"]["clause_id"] for task in tasks)
    assert [c for c, n in annotated.items() if n > 1] == [], "clauses annotated more than once"
    assert sorted(set(seed_clauses) - set(annotated)) == [], "seed clauses without an annotation"
    assert sorted(set(annotated) - set(seed_clauses)) == [], "annotations of clauses the segmenter no longer yields"
    for task in tasks:
        clause = seed_clauses[task["data"]["clause_id"]]
        assert task["data"]["doc"] == clause.doc
        assert task["data"]["text"] == clause.text, f"{clause.id}: the segmenter's text changed; re-check the label"


def test_no_clause_text_contains_a_department_note(tasks, built):
    texts = [(t["data"]["clause_id"], t["data"]["text"]) for t in tasks]
    texts += [(row["id"], row["text"]) for row in read_rows(built)]
    assert [cid for cid, text in texts if DEPARTMENT_NOTE.search(text)] == []


def test_stated_departments_are_annotated_as_catalogue_names_lead_first(tasks, seed_clauses):
    catalogue = load_catalogue()
    for task in tasks:
        clause = seed_clauses[task["data"]["clause_id"]]
        expected = list(dict.fromkeys(catalogue.resolve(name) for name in clause.departments))
        assert None not in expected, f"{clause.id}: a stated department is missing from the catalogue"
        assert choices(task, DEPARTMENTS_NAME) == expected, clause.id
        if expected:
            lead = [catalogue.resolve(name) for name in clause.lead_departments]
            assert expected[: len(lead)] == lead, clause.id


@pytest.mark.label_studio
def test_the_export_imports_into_label_studio_and_exports_back(label_studio, tasks, taxonomy):
    """Import the annotations into a real Label Studio project, export them back: same dataset rows, and the
    annotations still belong to their annotator (Label Studio resolves `completed_by` by email)."""
    from labels.studio.config import label_config
    from labels.studio.connection import Studio, StudioSettings

    catalogue = load_catalogue()
    studio = Studio(StudioSettings(url=label_studio.url, api_key=label_studio.api_key))
    emails = {a["completed_by"]["email"] for t in tasks for a in t["annotations"]}
    for email in sorted(emails - set(studio.user_emails().values())):
        studio.client.users.create(username=email, email=email)
    config = label_config(taxonomy, catalogue)
    project = studio.client.projects.create(title="clausemap seed annotations round trip", label_config=config)
    imported = [{key: value for key, value in t.items() if key != "id"} for t in tasks]  # Label Studio numbers tasks
    studio.client.projects.import_tasks(id=project.id, request=imported)

    exported = studio.export(project.id)
    assert convert_export(exported, taxonomy, catalogue).rows == convert_export(tasks, taxonomy, catalogue).rows
    by_clause = {t["data"]["clause_id"]: t["annotations"][0]["completed_by"]["email"] for t in tasks}
    annotators = studio.user_emails()
    for task in exported:
        (annotation,) = task["annotations"]
        assert annotators[annotation["completed_by"]] == by_clause[task["data"]["clause_id"]]


def test_every_sentence_of_every_seed_clause_is_labelled_consistently_with_its_clause(built, taxonomy):
    """The sentence labels (a Label Studio export of sentence tasks) cover all 135 clauses, and each clause's
    categories are the union of its sentences' (data build leaves out any that no longer fit)."""
    rows = read_rows(built)
    assert all(row.get("sentences") for row in rows), [row["id"] for row in rows if not row.get("sentences")]
    for row in rows:
        union = {c for s in row["sentences"] for c in s["categories"]} - {taxonomy.fallback_id}
        assert union == set(row["categories"]) - {taxonomy.fallback_id}, row["id"]
        assert [row["text"][s["start"]:s["end"]] for s in row["sentences"]] == [s["text"] for s in row["sentences"]]


@pytest.mark.label_studio
def test_the_sentence_labels_import_into_label_studio_with_the_same_config(label_studio, taxonomy, tmp_path):
    """Sentence tasks use the clause config generated from the taxonomy: they import and export back unchanged."""
    from labels.studio.config import label_config
    from labels.studio.connection import Studio, StudioSettings

    [path] = sorted((ANNOTATIONS / SENTENCES_DIR).glob("*.json"))
    tasks = load_export(path)[:40]
    studio = Studio(StudioSettings(url=label_studio.url, api_key=label_studio.api_key))
    emails = {a["completed_by"]["email"] for t in tasks for a in t["annotations"]}
    for email in sorted(emails - set(studio.user_emails().values())):
        studio.client.users.create(username=email, email=email)
    project = studio.client.projects.create(title="clausemap sentence labels round trip",
                                            label_config=label_config(taxonomy, load_catalogue()))
    studio.client.projects.import_tasks(id=project.id, request=[{k: v for k, v in t.items() if k != "id"}
                                                                for t in tasks])
    (tmp_path / "given").mkdir()
    (tmp_path / "back").mkdir()
    (tmp_path / "given" / "s.json").write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "back" / "s.json").write_text(json.dumps(studio.export(project.id), ensure_ascii=False),
                                              encoding="utf-8")
    assert sentence_labels(tmp_path / "back", taxonomy) == sentence_labels(tmp_path / "given", taxonomy)


# --- the built dataset ----------------------------------------------------------------------------------


def test_data_build_is_deterministic_and_the_committed_dataset_is_current(built, tmp_path):
    again = tmp_path / "dataset.jsonl"
    assert run_build(again).returncode == 0
    for name in ("dataset.jsonl", "splits.json"):
        assert (again.parent / name).read_bytes() == (built.parent / name).read_bytes(), name
    assert DATASET.read_bytes() == built.read_bytes(), "data/dataset.jsonl is stale: run `clausemap data build`"
    assert WRITTEN.read_bytes() == (built.parent / "written.jsonl").read_bytes(), "data/written.jsonl is stale"
    assert SPLITS.read_bytes() == (built.parent / "splits.json").read_bytes(), "data/splits.json is stale"


def test_splits_leave_each_document_out_once(built):
    docs = sorted({row["doc"] for row in read_rows(built)})
    folds = json.loads((built.parent / "splits.json").read_text(encoding="utf-8"))["folds"]
    assert sorted(doc for fold in folds for doc in fold["test_docs"]) == docs
    assert all(len(fold["test_docs"]) == 1 for fold in folds)


def test_the_dataset_card_counts_match_the_dataset(built, taxonomy):
    card = CARD.read_text(encoding="utf-8")
    assert CARD_BEGIN in card and CARD_END in card, f"{CARD} lacks the {CARD_BEGIN} … {CARD_END} block"
    block = card.split(CARD_BEGIN, 1)[1].split(CARD_END, 1)[0].strip()
    expected = count_tables(read_rows(built), taxonomy, read_rows(built.parent / "written.jsonl"))
    assert block == expected, "data/README.md's counts are stale: run `.venv/bin/python -m tests.test_annotations`"


# --- the card's count tables ----------------------------------------------------------------------------


def count_tables(rows: list[dict], taxonomy, written: list[dict] | None = None) -> str:
    """The dataset card's count tables (Markdown), computed from the real dataset rows and, counted apart,
    the rows written for training."""
    docs = sorted({r["doc"] for r in rows})
    short = {doc: doc.split("_")[0] for doc in docs}
    has = {c: [r for r in rows if c in r["categories"]] for c in taxonomy.ids}
    corrected = sum(r.get("source") == "feedback" for r in rows)
    lines = [f"{len(rows)} clauses from {len(docs)} documents; {sum(len(r['categories']) for r in rows)} labels; "
             f"{corrected} rows from staff corrections (`source: \"feedback\"`).", ""]

    lines += ["### Clauses per category and document", ""]
    lines += [table_row(["category", "中文", "clauses", "share", *(short[d] for d in docs)])]
    lines += [table_row(["---"] * (4 + len(docs)))]
    for c in taxonomy.ids:
        per_doc = Counter(r["doc"] for r in has[c])
        share = f"{100 * len(has[c]) / len(rows):.1f}%"
        lines += [table_row([c, taxonomy.name_of(c), len(has[c]), share, *(per_doc[d] for d in docs)])]

    lines += ["", "### Documents", ""]
    lines += [table_row(["document", "clauses", "labels per clause", "multi-label clauses", "with departments"])]
    lines += [table_row(["---"] * 5)]
    for doc in docs:
        mine = [r for r in rows if r["doc"] == doc]
        mean = sum(len(r["categories"]) for r in mine) / len(mine)
        multi = sum(len(r["categories"]) > 1 for r in mine)
        lines += [table_row([doc, len(mine), f"{mean:.2f}", multi, sum(bool(r["departments"]) for r in mine)])]

    lines += ["", "### Label co-occurrence (clauses carrying both; the diagonal is the category's total)", ""]
    specific = taxonomy.specific_ids
    lines += [table_row(["", *specific]), table_row(["---"] * (1 + len(specific)))]
    for a in specific:
        lines += [table_row([a, *(sum(b in r["categories"] for r in has[a]) for b in specific)])]

    lines += ["", "### Label sets", ""]
    lines += [table_row(["categories", "clauses"]), table_row(["---", "---"])]
    sets = Counter(" + ".join(r["categories"]) for r in rows)
    for labels, n in sorted(sets.items(), key=lambda item: (-item[1], item[0])):
        lines += [table_row([labels, n])]

    with_departments = [r for r in rows if r["departments"]]
    lines += ["", f"### Departments ({len(with_departments)} clauses with stated departments)", ""]
    lines += [table_row(["department", "clauses", "as lead"]), table_row(["---", "---", "---"])]
    named = Counter(d for r in with_departments for d in r["departments"])
    leads = Counter(d for r in with_departments for d in r["lead_departments"])
    for dept, n in sorted(named.items(), key=lambda item: (-item[1], item[0])):
        lines += [table_row([dept, n, leads[dept]])]
    lines += ["", *sentence_and_written_tables(rows, taxonomy, written or [])]
    return "\n".join(lines)


def sentence_and_written_tables(rows: list[dict], taxonomy, written: list[dict]) -> list[str]:
    """Sentence labels of the real clauses; the written rows per category, beside the real ones."""
    sentences = [s for r in rows for s in r.get("sentences") or []]
    w_sentences = [s for r in written for s in r["sentences"]]
    counterfactual = [r for r in written if r.get("made_from")]
    lines = [f"### Real and written rows per category ({len(rows)} real clauses, {len(sentences)} labelled "
             f"sentences; {len(written)} written rows, {len(counterfactual)} of them counterfactual edits of seed "
             f"clauses, {len(w_sentences)} sentences)", "",
             "Written rows train only: never a test fold, a threshold or a reported figure.", ""]
    lines += [table_row(["category", "real clauses", "real sentences", "written rows", "written sentences",
                         "counterfactual rows"]), table_row(["---"] * 6)]
    for c in taxonomy.ids:
        lines += [table_row([c, sum(c in r["categories"] for r in rows), sum(c in s["categories"] for s in sentences),
                             sum(c in r["categories"] for r in written), sum(c in s["categories"] for s in w_sentences),
                             sum(c in r["categories"] for r in counterfactual)])]
    lines += ["", "### Written rows: label co-occurrence (rows carrying both; the diagonal is the total)", ""]
    specific = taxonomy.specific_ids
    lines += [table_row(["", *specific]), table_row(["---"] * (1 + len(specific)))]
    for a in specific:
        mine = [r for r in written if a in r["categories"]]
        lines += [table_row([a, *(sum(b in r["categories"] for r in mine) for b in specific)])]
    styles = Counter(r.get("style") or "–" for r in written)
    lines += ["", "### Written rows by style", "", table_row(["style", "rows"]), table_row(["---", "---"])]
    lines += [table_row([style, n]) for style, n in sorted(styles.items(), key=lambda item: (-item[1], item[0]))]
    return lines


def table_row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


if __name__ == "__main__":
    print(count_tables(read_rows(DATASET), load_taxonomy(), read_rows(WRITTEN) if WRITTEN.exists() else []))
