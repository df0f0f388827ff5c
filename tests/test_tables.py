"""Breakdown tables in (`clausemap table read`) and out (`clausemap table write`)."""

from __future__ import annotations

import json

import pytest

from clausemap.cli import main
from clausemap.clauses import segment_file
from clausemap.clauses.model import Clause
from clausemap.clauses.table_write import write_table
from clausemap.clauses.tables import decode_table, read_table
from clausemap.errors import InputFileError
from clausemap.paths import PROJECT_ROOT
from clausemap.spreadsheet import csv_field_text, csv_row
from tests.support.documents import make_table_xlsx

SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))


@pytest.fixture(scope="module")
def seed_000():
    return segment_file(SEED_000)


@pytest.mark.parametrize("suffix", [".xlsx", ".docx", ".html", ".csv"])
def test_seed_000_round_trip(seed_000, tmp_path, suffix):
    """The 29 items of seed 000, written as a table (headings as merged rows) and read back, keep their
    numbers, texts, sections and stated departments, lead first."""
    path = write_table(seed_000.clauses, tmp_path / f"chengde{suffix}", title="承德市教育局2022年工作要点任务分解")
    table = read_table(path)
    assert len(table.items) == 29
    for clause, item in zip(seed_000.clauses, table.items, strict=True):
        assert (item.number, item.text, item.section[:1]) == (clause.number, clause.text, clause.section[:1])
        assert item.departments == clause.departments
        assert item.lead_departments == clause.lead_departments
    assert table.columns["lead"] == "牵头单位" and table.columns["cooperating"] == "配合单位"


def test_xlsx_two_row_header_merged_cells_and_groups():
    rows = [
        ["某某区教育局2023年重点工作任务分解表", None, None, None, None, None],
        ["序号", "重点任务", "责任单位", None, "完成时限", "责任领导"],
        [None, None, "牵头科室", "配合科室", None, None],
        ["一、全面加强党的建设", None, None, None, None, None],
        [1, "深化理论武装", "党政办公室", "组织人事科\n宣传科", "全年", "王局长"],
        [2, "抓好基层党建。(责任科室:党政办)", None, None, "6月底前", "王局长"],
        ["二、办好人民满意的教育", None, None, None, None, None],
        [3, "推进学前教育普及普惠", "基础教育科", "计财科", "年底前", "李副局长"],
        [None, None, "基础教育科", "督导室", None, None],
        [4, "加强教师队伍建设", None, None, None, None],
        ["4—1", "实施县管校聘", "组织人事科", "教师发展中心", "秋季学期开学前", "张副局长"],
        ["4—2", "开展教师培训", "教师发展中心", "", "年底前", "张副局长"],
        [5, "校园安全专项整治", "安全科", "体卫艺科", "年底前", "赵副局长"],
        [None, "校园周边综合治理", "安全科", "综治办", "年底前", "赵副局长"],
    ]
    merges = ["A1:F1", "C2:D2", "A2:A3", "B2:B3", "E2:E3", "F2:F3", "A4:F4", "A7:F7",
              "A8:A9", "B8:B9", "E8:E9", "F8:F9", "A13:A14"]
    table = decode_table(make_table_xlsx(rows, merges), "区2023.xlsx")
    items = {i.number: i for i in table.items}
    assert list(items) == ["1", "2", "3", "4—1", "4—2", "5—1", "5—2"]
    assert items["1"].lead_departments == ["党政办公室"]
    assert items["1"].departments == ["党政办公室", "组织人事科", "宣传科"]  # a line break separates names
    assert (items["1"].deadline, items["1"].leader) == ("全年", "王局长")
    assert items["1"].section == ["一、全面加强党的建设"]
    assert items["2"].text == "抓好基层党建。" and items["2"].departments == ["党政办"]  # the note is read, removed
    # the task cell merged down over two department rows: one task with both rows' sections
    assert items["3"].departments == ["基础教育科", "计财科", "督导室"]
    assert items["3"].section == ["二、办好人民满意的教育"]
    # "4 加强教师队伍建设" has no sections: it heads 4—1 and 4—2
    assert items["4—1"].section == ["二、办好人民满意的教育", "4 加强教师队伍建设"]
    assert items["4—1"].deadline == "秋季学期开学前"
    # a number cell merged down over two tasks numbers them as a group
    assert items["5—2"].text == "校园周边综合治理" and items["5—2"].lead_departments == ["安全科"]
    assert [i.row for i in table.items][:2] == [5, 6]


def test_html_rowspan_and_single_department_column():
    page = """<html><head><meta charset="utf-8"></head><body><p>通知正文</p><table>
    <tr><th>编号</th><th>工作内容</th><th>主要责任单位</th><th>时间节点</th></tr>
    <tr><td colspan="4">一、党建</td></tr>
    <tr><td rowspan="2">1</td><td>加强党建<br>工作</td><td>党建办(牵头)、人事科</td><td>年底前</td></tr>
    <tr><td>落实意识形态责任制</td><td>宣传科 思政科</td><td></td></tr>
    </table></body></html>""".encode()
    table = decode_table(page, "plan.html")
    first, second = table.items
    assert first.text == "加强党建工作"  # a wrapped cell is one text
    assert first.lead_departments == ["党建办"] and first.departments == ["党建办", "人事科"]
    assert second.number == "1—2" and second.lead_departments == ["宣传科"]  # first name leads
    assert second.departments == ["宣传科", "思政科"] and second.section == ["一、党建"]


def test_docx_vertical_merge(tmp_path):
    import docx

    document = docx.Document()
    table = document.add_table(rows=4, cols=4)
    for row, values in zip(table.rows, [["序号", "工作任务", "牵头单位", "配合单位"],
                                        ["1", "推进职业教育产教融合", "职成教科", "计财科"],
                                        ["", "", "", "人事科"],
                                        ["2", "做好学生资助", "计财科", ""]], strict=True):
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = text
    table.cell(1, 1).merge(table.cell(2, 1))  # the task spans two rows; its second row adds a cooperating section
    table.cell(1, 0).merge(table.cell(2, 0))
    table.cell(1, 2).merge(table.cell(2, 2))
    path = tmp_path / "table.docx"
    document.save(path)
    first, second = read_table(path).items
    assert first.text == "推进职业教育产教融合" and first.departments == ["职成教科", "计财科", "人事科"]
    assert second.departments == ["计财科"]


def test_no_header_names_the_file_and_what_it_saw(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("编号,说明,科室\n1,做好党建工作,党建办\n", encoding="utf-8")
    with pytest.raises(InputFileError) as error:
        read_table(path)
    message = str(error.value)
    assert str(path) in message and "牵头单位" in message and "编号 | 说明 | 科室" in message


def test_cli_read_and_write(tmp_path, capsys):
    out = tmp_path / "chengde.xlsx"
    assert main(["table", "write", str(SEED_000), "-o", str(out)]) == 0
    assert main(["table", "read", str(out)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 29 and rows[3]["lead_departments"] == ["基础教育科"]
    assert {"deadline", "leader", "row"} <= rows[0].keys()
    # a bad file among good ones: reported with its name, the others still printed, exit status 2
    bad = tmp_path / "notes.txt"
    bad.write_text("x", encoding="utf-8")
    assert main(["table", "read", str(bad), str(out)]) == 2
    captured = capsys.readouterr()
    assert "notes.txt: unknown extension" in captured.err and len(captured.out.splitlines()) == 29


def test_single_department_column_collectives_and_spaced_names():
    """A collective written first in a single department column is kept apart, not taken as the lead."""
    page = """<table><tr><th>序号</th><th>工作任务</th><th>责任单位</th></tr>
    <tr><td>1</td><td>做好全年安全工作</td><td>各科室、安全科</td></tr>
    <tr><td>2</td><td>落实党风廉政建设</td><td>团&nbsp;委<br>局属各单位</td></tr></table>"""
    first, second = decode_table(page.encode(), "t.html").items
    assert first.departments == ["安全科"] and first.collectives == ["各科室"] and first.lead_departments == []
    assert second.departments == ["团委"] and second.collectives == ["局属各单位"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_formula_guards_do_not_come_back(tmp_path, suffix):
    """Our CSV guards a formula-like field with a leading ' (clausemap.spreadsheet); reading the file back strips
    exactly that guard: the texts, sections and departments come back as they were, a text that itself opens with '
    included."""
    texts = ["=SUM(A1:A2)推进学前教育普及", "+1加强教师队伍建设", "-减少作业负担", "@全体科室落实安全责任",
             "'=引号开头的任务", "'普通引号开头的任务", "a=b中间的等号不变"]
    clauses = [Clause(id=f"t-{n}", doc="t", number=str(n), section=["=一、总体要求"], title=text, text=text,
                      departments=["@党建办", "-督导室"], lead_departments=["@党建办"])
               for n, text in enumerate(texts, 1)]
    table = read_table(write_table(clauses, tmp_path / f"guarded{suffix}"))
    assert [item.text for item in table.items] == texts
    assert {tuple(item.section[:1]) for item in table.items} == {("=一、总体要求",)}
    assert all(item.departments == ["@党建办", "-督导室"] and item.lead_departments == ["@党建办"]
               for item in table.items)


@pytest.mark.parametrize("value, guarded", [
    ("=1", True), ("+1", True), ("-1", True), ("@x", True), ("\tx", True), ("\rx", True), ("'=x", True),
    ("''+x", True), ("'" * 10_000 + "=x", True), ("'x", False), ("x'", False), ("'", False), ("", False)])
def test_csv_guard_is_undone_exactly(value, guarded):
    (written,) = csv_row([value])
    assert written == ("'" + value if guarded else value)
    assert csv_field_text(written) == value
