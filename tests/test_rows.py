"""The typed row (labels.rows): its rules, the one reader and writer, one policy for department names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clausemap.errors import InputFileError
from labels.catalogue import Catalogue, load_catalogue
from labels.rows import (Row, UnknownDepartment, lead_first, read_rows, resolve_departments, row_from, rows_text,
                         write_rows)
from labels.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
A, B = TAXONOMY.specific_ids[:2]
OTHER = TAXONOMY.fallback_id
CATALOGUE = load_catalogue()
D1, D2, D3 = CATALOGUE.names[:3]
DATA = Path(__file__).resolve().parents[1] / "data"


def row(**fields) -> dict:
    return {"id": "doc-1", "doc": "doc", "text": "加强教师队伍建设。", "categories": [A], **fields}


def test_categories_are_in_taxonomy_order_each_once():
    assert row_from(row(categories=[B, A, B])).categories == [A, B]


def test_the_fallback_category_stands_alone():
    with pytest.raises(ValueError, match=f"'{OTHER}' is given only when no other category applies"):
        row_from(row(categories=[A, OTHER]))
    assert row_from(row(categories=[OTHER])).categories == [OTHER]


def test_unknown_or_missing_categories_are_refused():
    with pytest.raises(ValueError, match="no_such"):
        row_from(row(categories=["no_such"]))
    with pytest.raises(ValueError, match="non-empty"):
        row_from(row(categories=[]))
    # a task known by its sections only (a table's): no categories
    assert row_from(row(categories=[], source="table", departments=[D1])).categories == []
    assert row_from(row(categories=[], departments=[D1])).categories == []
    with pytest.raises(ValueError, match="needs its 'departments'"):
        row_from(row(categories=[], source="table"))


def test_lead_departments_come_first_and_are_among_the_departments():
    made = row_from(row(departments=[D1, D2, D3], lead_departments=[D3]))
    assert made.departments == [D3, D1, D2] and made.lead_departments == [D3]
    with pytest.raises(ValueError, match="not among the departments"):
        row_from(row(departments=[D1], lead_departments=[D2]))
    assert lead_first([D2], [D1, D2, D1]) == [D2, D1]


def test_sentence_labels_must_sit_in_the_text_and_add_up_to_the_categories():
    text = "加强党建。办好幼儿园。"
    sentences = [{"text": "加强党建。", "start": 0, "end": 5, "categories": [A]},
                 {"text": "办好幼儿园。", "start": 5, "end": 11, "categories": [B]}]
    assert row_from(row(text=text, categories=[A, B], sentences=sentences)).sentences[1].categories == [B]
    with pytest.raises(ValueError, match="differ from the union"):
        row_from(row(text=text, categories=[A], sentences=sentences))
    shifted = [{**sentences[0], "start": 1, "end": 6}, sentences[1]]
    with pytest.raises(ValueError, match=r"sentences\[0\] is not the text"):
        row_from(row(text=text, categories=[A, B], sentences=shifted))
    with pytest.raises(ValueError, match=r"sentences\[1\]\.categories.*'{}'".format(OTHER)):
        row_from(row(text=text, categories=[A, B], sentences=[sentences[0], {**sentences[1], "categories": [B, OTHER]}]))


def test_a_misspelt_key_is_an_error_not_lost():
    with pytest.raises(ValueError, match="lead_department"):
        row_from(row(lead_department=[D1]))


def test_the_rules_check_against_the_taxonomy_given():
    from labels.taxonomy import Category, Taxonomy

    toy = Taxonomy(categories=(Category(id="x", name="X", description="x"),
                               Category(id="none", name="无", description="n", fallback=True)))
    assert row_from(row(categories=["x"]), toy).categories == ["x"]
    with pytest.raises(ValueError, match="'none' is given only"):
        row_from(row(categories=["x", "none"]), toy)


def test_the_reader_names_file_and_line_of_a_bad_row(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row()) + "\n\n" + json.dumps(row(categories=[A, OTHER])) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"rows.jsonl:3: categories: .*only when no other"):
        read_rows(path)
    path.write_text(json.dumps({"text": "只有正文。", "categories": [A]}) + "\n", encoding="utf-8")
    assert read_rows(path)[0].id == "rows-1"  # a row without an id is named by its file and line


def test_a_table_history_row_that_names_no_source_is_a_table_task(tmp_path):
    path = tmp_path / "bureau.jsonl"
    lines = [{"id": "b:1", "text": "开展校本教研", "departments": [D1]}, {"id": "b:2", "text": "无科室的任务"}]
    path.write_text(json.dumps(lines[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_rows(path, source="table")[0].source == "table"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(InputFileError, match="bureau.jsonl:2: a table task needs its 'departments'"):
        read_rows(path, source="table")


@pytest.mark.parametrize("name", ["dataset.jsonl", "written.jsonl"])
def test_the_committed_row_files_read_and_write_back_unchanged(name, tmp_path):
    rows = read_rows(DATA / name)
    assert rows_text(rows) == (DATA / name).read_text(encoding="utf-8")
    write_rows({tmp_path / name: rows})
    assert [r.as_dict() for r in read_rows(tmp_path / name)] == [r.as_dict() for r in rows]


def test_a_seed_row_names_no_source_when_written():
    made = Row.model_validate(row())
    assert made.source == "seed" and "source" not in made.as_dict()


# --- department names: one function, one policy per source of names -------------------------------

SCHOOL = Catalogue.model_validate({"id": "school", "bureau": "某某中学", "departments": [
    {"name": "教学处", "aliases": ["教务处"]}, "教科室", "团委"]})


@pytest.mark.parametrize("source", ["annotation", "correction"])
def test_names_a_person_picked_must_all_be_known(source):
    assert resolve_departments(["教务处", "团 委"], SCHOOL, source).names == ["教学处", "团委"]
    with pytest.raises(UnknownDepartment, match=r"区政府 \(school\)") as caught:
        resolve_departments(["教学处", "区政府"], SCHOOL, source)
    assert caught.value.names == ["区政府"] and caught.value.http_status == 422
    with pytest.raises(UnknownDepartment):  # a person picks names, not glued pairs of names
        resolve_departments(["教学处教科室"], SCHOOL, source)


@pytest.mark.parametrize("source", ["plan", "table"])
def test_names_a_document_writes_are_resolved_where_known_and_the_rest_reported(source):
    resolved = resolve_departments(["教务处", "区政府", "教学处教科室", "区政府"], SCHOOL, source)
    assert resolved.names == ["教学处", "教科室"]
    assert resolved.unknown == ["区政府"]
    assert resolved.as_written() == ["教学处", "区政府", "教科室"]


def test_a_staff_correction_folded_into_the_dataset_is_checked_as_a_row():
    from clausemap.errors import ClausemapError
    from labels.feedback import apply_corrections

    rows = [row_from(row(departments=[D1], lead_departments=[D1])).as_dict()]
    correction = {"id": 5, "text": rows[0]["text"], "categories": [B, A], "lead_departments": [D2],
                  "cooperating_departments": [D3, D2], "author": "staff"}
    assert apply_corrections(rows, [correction]) == 1
    assert rows[0]["categories"] == [A, B] and rows[0]["departments"] == [D2, D3]
    assert rows[0]["source"] == "feedback" and rows[0]["feedback_id"] == 5
    with pytest.raises(ClausemapError, match="correction 6: categories: .*only when no other"):
        apply_corrections(rows, [{**correction, "id": 6, "categories": [A, OTHER]}])
