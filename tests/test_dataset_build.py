"""Label Studio exports -> dataset rows (labels.dataset) and `clausemap data build`."""

from __future__ import annotations

import json

import pytest

from clausemap.cli import main
from labels.catalogue import load_catalogue
from labels.dataset import AnnotationError, convert_export, rows_from_export
from labels.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
CATALOGUE = load_catalogue()
A, B = TAXONOMY.specific_ids[:2]
D1, D2, D3 = CATALOGUE.names[:3]


def choices(name: str, values: list[str]) -> dict:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": values}}


def annotation(cats, depts=None, *, cancelled=False, ground_truth=False, at="2024-05-01T10:00:00Z", id=1) -> dict:
    result = [choices("categories", cats)] if cats else []
    if depts:
        result.append(choices("departments", depts))
    return {
        "id": id,
        "completed_by": 1,
        "result": result,
        "was_cancelled": cancelled,
        "ground_truth": ground_truth,
        "created_at": at,
        "updated_at": at,
    }


def task(n: int, *annotations, doc="doc_a", task_id=None, **data) -> dict:
    base = {
        "clause_id": f"{doc}-{n}",
        "doc": doc,
        "text": f"第{n}条的正文",
        "section": "一、总体 / （一）细则",
        "number": str(n),
        "title": f"第{n}条",
    }
    return {"id": task_id or n, "data": {**base, **data}, "annotations": list(annotations)}


def test_a_plain_annotation_becomes_a_dataset_row():
    [row] = rows_from_export([task(3, annotation([B, A], [D2]))])
    assert row == {
        "id": "doc_a-3",
        "doc": "doc_a",
        "number": "3",
        "section": ["一、总体", "（一）细则"],
        "title": "第3条",
        "text": "第3条的正文",
        "categories": [A, B],
        "departments": [D2],
        "lead_departments": [],
    }


def test_cancelled_annotations_are_not_training_data_and_unannotated_tasks_are_counted():
    conversion = convert_export(
        [
            task(1, annotation([A], cancelled=True)),
            task(2),
            task(3, annotation([A], cancelled=True, id=5), annotation([B], id=6)),
        ]
    )
    assert [r["id"] for r in conversion.rows] == ["doc_a-3"]
    assert conversion.rows[0]["categories"] == [B]
    assert conversion.dropped == ["task 1 (doc_a-1)", "task 2 (doc_a-2)"]


def test_ground_truth_wins_over_a_later_annotation():
    gt = annotation([A], ground_truth=True, at="2024-01-01T00:00:00Z", id=1)
    later = annotation([B], at="2024-06-01T00:00:00Z", id=2)
    [row] = rows_from_export([task(1, later, gt)])
    assert row["categories"] == [A]


def test_without_ground_truth_the_latest_annotation_wins():
    early = annotation([A], at="2024-01-01T09:00:00+00:00", id=7)
    late = annotation([B], at="2024-01-01T10:00:00Z", id=3)
    assert rows_from_export([task(1, late, early)])[0]["categories"] == [B]
    assert rows_from_export([task(1, early, late)])[0]["categories"] == [B]


def test_departments_put_the_lead_first_and_fall_back_to_those_stated_in_the_plan():
    chosen = task(1, annotation([A], [D1, D2, D3]), lead_departments=[D3])
    stated = task(2, annotation([A]), departments=[D2, D1], lead_departments=[D2])
    rows = rows_from_export([chosen, stated])
    assert rows[0]["departments"] == [D3, D1, D2] and rows[0]["lead_departments"] == [D3]
    assert rows[1]["departments"] == [D2, D1] and rows[1]["lead_departments"] == [D2]


def test_unknown_category_or_department_names_the_task():
    with pytest.raises(AnnotationError, match=r"task 9 \(doc_a-1\).*'no_such_category'"):
        rows_from_export([task(1, annotation(["no_such_category"]), task_id=9)])
    with pytest.raises(AnnotationError, match=r"task 1 \(doc_a-1\).*不存在科"):
        rows_from_export([task(1, annotation([A], ["不存在科"]))])


def test_the_fallback_category_is_not_combined_with_others():
    with pytest.raises(AnnotationError, match=TAXONOMY.fallback_id):
        rows_from_export([task(1, annotation([A, TAXONOMY.fallback_id]))])


def test_rows_are_sorted_by_document_then_clause_order():
    tasks = [
        task(10, annotation([A]), doc="doc_b"),
        task(2, annotation([A]), doc="doc_b"),
        task(1, annotation([A]), doc="doc_a"),
    ]
    assert [r["id"] for r in rows_from_export(tasks)] == ["doc_a-1", "doc_b-2", "doc_b-10"]


def write_export(path, tasks):
    path.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")


def build(tmp_path, *extra) -> int:
    return main(
        [
            "data",
            "build",
            "--annotations",
            str(tmp_path / "ann"),
            "--out",
            str(tmp_path / "out" / "dataset.jsonl"),
            "--no-feedback",  # these tests are about annotations; corrections other tests saved stay out
            *extra,
        ]
    )


def test_data_build_writes_sorted_rows_and_leave_one_document_out_folds(tmp_path, capsys):
    (tmp_path / "ann").mkdir()
    write_export(tmp_path / "ann" / "b.json", [task(2, annotation([B]), doc="doc_b"), task(5)])
    write_export(tmp_path / "ann" / "a.json", [task(11, annotation([A]), doc="doc_a"), task(3, annotation([A, B]))])
    assert build(tmp_path) == 0
    lines = (tmp_path / "out" / "dataset.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["doc_a-3", "doc_a-11", "doc_b-2"]
    splits = json.loads((tmp_path / "out" / "splits.json").read_text(encoding="utf-8"))
    assert splits == {"folds": [{"name": "doc_a", "test_docs": ["doc_a"]}, {"name": "doc_b", "test_docs": ["doc_b"]}]}
    assert "3 rows" in capsys.readouterr().out
    # Deterministic: a second build writes the same bytes.
    before = (tmp_path / "out" / "dataset.jsonl").read_bytes()
    assert build(tmp_path) == 0
    assert (tmp_path / "out" / "dataset.jsonl").read_bytes() == before


def test_a_clause_annotated_in_two_exports_is_an_error_naming_both(tmp_path, capsys):
    (tmp_path / "ann").mkdir()
    write_export(tmp_path / "ann" / "one.json", [task(1, annotation([A]))])
    write_export(tmp_path / "ann" / "two.json", [task(1, annotation([B]))])
    assert build(tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "two.json" in err and "one.json" in err and "doc_a-1" in err
    assert not (tmp_path / "out").exists()


def test_bad_exports_fail_with_one_line_and_leave_the_old_dataset_untouched(tmp_path, capsys):
    (tmp_path / "ann").mkdir()
    write_export(tmp_path / "ann" / "good.json", [task(1, annotation([A]))])
    assert build(tmp_path) == 0
    before = (tmp_path / "out" / "dataset.jsonl").read_bytes()
    capsys.readouterr()

    write_export(tmp_path / "ann" / "zz.json", [task(2, annotation(["bogus"]), task_id=42)])
    assert build(tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("clausemap: error:") and "zz.json" in err and "task 42" in err and "bogus" in err
    (tmp_path / "ann" / "zz.json").write_text("{not json", encoding="utf-8")
    assert build(tmp_path) == 2
    assert "zz.json" in capsys.readouterr().err
    assert (tmp_path / "out" / "dataset.jsonl").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dataset.jsonl", "splits.json"]  # no temp files


def test_an_empty_or_missing_annotations_folder_is_a_clear_error(tmp_path, capsys):
    assert build(tmp_path) == 2
    assert "no such annotations folder" in capsys.readouterr().err
    (tmp_path / "ann").mkdir()
    assert build(tmp_path) == 2
    assert "no *.json" in capsys.readouterr().err


# --- sentence labels and written rows -----------------------------------------------------------------------


def sentence_task(clause_id: str, index: int, cats: list[str], task_id: int, doc="doc_a") -> dict:
    data = {"clause_id": clause_id, "doc": doc, "sentence_index": index, "text": "…"}
    return {"id": task_id, "data": data, "annotations": [annotation(cats)]}


def written_line(row_id: str, sentences: list[tuple[str, list[str]]], **extra) -> str:
    row = {"id": row_id, "style": "numbered", "sentences": [{"text": t, "categories": c} for t, c in sentences],
           **extra}
    return json.dumps(row, ensure_ascii=False) + "\n"


def test_sentence_labels_attach_to_their_clause_with_offsets(tmp_path):
    (tmp_path / "ann" / "sentences").mkdir(parents=True)
    text = "推进学前教育普及普惠发展。落实生均公用经费标准。"
    write_export(tmp_path / "ann" / "a.json", [task(1, annotation([A, B]), text=text), task(2, annotation([A]))])
    write_export(tmp_path / "ann" / "sentences" / "s.json",
                 [sentence_task("doc_a-1", 0, [A], 1), sentence_task("doc_a-1", 1, [B], 2)])
    assert build(tmp_path) == 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "dataset.jsonl").read_text("utf-8").splitlines()]
    first = rows[0]
    assert [s["categories"] for s in first["sentences"]] == [[A], [B]]
    assert [first["text"][s["start"]:s["end"]] for s in first["sentences"]] == [s["text"] for s in first["sentences"]]
    assert "sentences" not in rows[1]  # not annotated sentence by sentence: trains as a whole clause


def test_sentence_labels_that_no_longer_fit_the_clause_are_left_out_and_named(tmp_path, capsys):
    (tmp_path / "ann" / "sentences").mkdir(parents=True)
    text = "推进学前教育普及普惠发展。落实生均公用经费标准。"
    write_export(tmp_path / "ann" / "a.json", [task(1, annotation([A, B]), text=text)])
    # The union of the sentences' categories (A only) differs from the clause's (A, B).
    write_export(tmp_path / "ann" / "sentences" / "s.json",
                 [sentence_task("doc_a-1", 0, [A], 1), sentence_task("doc_a-1", 1, [A], 2)])
    assert build(tmp_path) == 0
    row = json.loads((tmp_path / "out" / "dataset.jsonl").read_text("utf-8"))
    assert "sentences" not in row
    assert "doc_a-1" in capsys.readouterr().out


def test_written_rows_are_built_apart_and_marked(tmp_path, capsys):
    (tmp_path / "ann").mkdir()
    (tmp_path / "written").mkdir()
    write_export(tmp_path / "ann" / "a.json", [task(1, annotation([A]))])
    (tmp_path / "written" / "w.jsonl").write_text(
        written_line("w-2", [("落实生均公用经费标准。", [B]), ("开展主题教育活动。", ["other"])])
        + written_line("w-1", [("推进学前教育普及普惠发展。", [A])], made_from="doc_a-1"), encoding="utf-8")
    assert build(tmp_path) == 0
    assert "2 rows written for training" in capsys.readouterr().out
    dataset = (tmp_path / "out" / "dataset.jsonl").read_text("utf-8")
    assert "w-1" not in dataset and "w-2" not in dataset
    written = [json.loads(line) for line in (tmp_path / "out" / "written.jsonl").read_text("utf-8").splitlines()]
    assert [r["id"] for r in written] == ["w-1", "w-2"]
    assert all(r["source"] == "written" for r in written)
    assert written[1]["text"] == "落实生均公用经费标准。开展主题教育活动。"
    assert written[1]["categories"] == [B]  # the union of its sentences, the fallback dropped
    assert written[0]["made_from"] == "doc_a-1"
    # The folds hold real documents only.
    splits = json.loads((tmp_path / "out" / "splits.json").read_text("utf-8"))
    assert [f["test_docs"] for f in splits["folds"]] == [["doc_a"]]


@pytest.mark.parametrize("line, message", [
    (written_line("w-1", [("推进学前教育普及普惠发展。落实生均经费标准。", [A])]), "splitter cuts"),
    (written_line("w-1", [("推进学前教育普及普惠发展。", ["money"])]), "unknown categories"),
    (written_line("w-1", [("推进学前教育普及普惠发展。", [A])], categories=[B]), "differ from the union"),
    (written_line("w-1", [("推进学前教育普及普惠发展。", [A])], made_from="doc_z-9"), "not a clause"),
    ("{broken\n", "invalid JSON"),
])
def test_bad_written_rows_name_the_file_and_line(tmp_path, capsys, line, message):
    (tmp_path / "ann").mkdir()
    (tmp_path / "written").mkdir()
    write_export(tmp_path / "ann" / "a.json", [task(1, annotation([A]))])
    (tmp_path / "written" / "w.jsonl").write_text("\n" + line, encoding="utf-8")
    assert build(tmp_path) == 2
    err = capsys.readouterr().err
    assert "w.jsonl:2" in err and message in err
    assert not (tmp_path / "out").exists()
