"""bench/bench_attacks.py's attack builders make the files and bodies they claim (small sizes; no server)."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_attacks.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_attacks", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _member(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name).decode()


@pytest.mark.timeout(60)
def test_docx_zip_bomb_holds_the_xml_size_it_claims_and_is_a_docx(bench, tmp_path):
    import docx

    path = bench.docx_zip_bomb(tmp_path / "bomb.docx", 2_000_000)
    with zipfile.ZipFile(path) as zf:
        member = zf.getinfo("word/document.xml")
    assert member.file_size >= 2_000_000
    assert path.stat().st_size < member.file_size / 50  # it is a bomb: the XML compresses away
    assert docx.Document(str(path)).paragraphs[0].text == "x"


@pytest.mark.timeout(60)
def test_xlsx_builders_write_the_merge_and_the_row_past_the_last(bench):
    assert '<mergeCell ref="A3:XFD1048576"/>' in _member(bench.xlsx_merge_bomb(), "xl/worksheets/sheet1.xml")
    assert '<row r="1048577">' in _member(bench.xlsx_past_last_row(), "xl/worksheets/sheet1.xml")
    assert '<c r="A3" t="n"><v>abc</v></c>' in _member(bench.xlsx_bad_number(), "xl/worksheets/sheet1.xml")


@pytest.mark.timeout(60)
def test_html_span_bomb_has_the_cells_and_spans_asked_for(bench):
    page = bench.html_span_bomb(cells=7, span=40).decode()
    assert page.count('<td rowspan="40" colspan="40">') == 7
    assert "工作任务" in page and "牵头科室" in page


@pytest.mark.timeout(60)
def test_many_page_pdf_has_that_many_pages(bench, tmp_path):
    import pdfplumber

    with pdfplumber.open(bench.many_page_pdf(tmp_path / "p.pdf", 4)) as pdf:
        assert len(pdf.pages) == 4
        assert "加强党的建设" in pdf.pages[3].extract_text()


@pytest.mark.timeout(60)
def test_vmerge_docx_merges_the_first_column_of_every_row(bench):
    import docx

    table = docx.Document(io.BytesIO(bench.vmerge_docx(6))).tables[0]
    assert len(table.rows) == 6
    merges = [tc.tcPr.vMerge for tc in (row._tr.tc_lst[0] for row in table.rows)]
    assert merges[0].val == "restart" and all(m is not None and m.val in (None, "continue") for m in merges[1:])


def test_text_attacks_reach_their_sizes(bench):
    assert bench.note_flood(1000).count(";责任科室:a") == 1000
    assert " " * 500 in bench.space_run(500)
    assert len(bench.dash_bullets(20_000).encode()) >= 20_000
    assert len(bench.traditional_plan(20_000).encode()) >= 20_000
    clauses = bench.short_sentence_clauses()
    assert len(clauses) == 500 and max(map(len, clauses)) <= 8000
    assert 100_000 < len(json.dumps({"clauses": clauses}, ensure_ascii=False).encode()) < 115_000


def test_poisoned_export_relabels_only_party_building_rows(bench, tmp_path):
    rows = [{"id": "d-1", "doc": "d", "text": "加强党建。", "categories": ["party_building"]},
            {"id": "d-2", "doc": "d", "text": "发展学前教育。", "categories": ["preschool"]}]
    dataset = tmp_path / "dataset.jsonl"
    dataset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (task,) = bench.poisoned_export(dataset)
    assert task["data"]["clause_id"] == "d-1"
    assert task["annotations"][0]["result"][0]["value"]["choices"] == ["preschool"]


def test_side_by_side_puts_each_attacks_before_and_after_on_one_line(bench):
    row = dict(attack="a", list="x", size="1 KB", status="500 Internal Server Error", seconds=52.0, peak_mib=900.0,
               idle_mib=360.0, healthz="no answer in 2 s: 25 of 26 polls", classify_after="ok", note="",
               load_1min=1.0, restart="", extra={})
    table = bench.side_by_side([row], [row | {"status": "413 too big", "seconds": 0.1, "healthz": "ok (1 polls)"},
                                       row | {"attack": "new"}])
    lines = table.splitlines()
    assert lines[2] == ("| a | 1 KB | 500 Internal Server Error | 52.0 | 900 | missed 25 of 26 polls "
                        "| 413 too big | 0.1 | 900 | ok |  |")
    assert lines[3].startswith("| new | 1 KB | not run |")
    moved = bench.side_by_side([row | {"note": "history 29 → 0"}], [row | {"note": "history 29 → 29"}])
    assert moved.splitlines()[2].endswith("| history 29 → 0 → history 29 → 29 |")
