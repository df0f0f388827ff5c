"""Section names read the way a table means them: spaced names joined, glued names split, collectives apart."""

from __future__ import annotations

import csv
import html
import io

import pytest

from clausemap.clauses.section_names import is_collective, split_cell, split_collectives, split_glued
from clausemap.clauses.tables import decode_table
from tests.support.documents import make_table_xlsx

# A made-up school task table with the three habits of real ones: "团 委" / "工 会" laid out with a space,
# "教学处教科室" / "教学处团委" glued, and collectives (各处室, 各年段, 各处室各年段, 各支部, 各学科组).
SCHOOL_ROWS = [
    ["序号", "工作任务", "牵头部门", "配合部门", "完成时间"],
    ["1", "落实立德树人根本任务，开展主题班会和升旗仪式教育", "政教处", "团 委", "全年"],
    ["2", "组织教职工运动会，关心教职工身心健康", "工 会", "各处室", "11月"],
    ["3", "开展校本教研，推进课堂教学改革", "教学处教科室", "各学科组", "全年"],
    ["4", "组织青年教师基本功大赛", "教科室", "教学处", "5月"],
    ["5", "开展学生社团活动和志愿服务", "教学处团委", "各年段", "全年"],
    ["6", "加强学校体育工作，落实每天一小时校园体育活动", "体育组各年段", "总务处", "全年"],
    ["7", "落实党风廉政建设责任制", "党支部", "各支部", "全年"],
    ["8", "做好校园安全隐患排查整治", "总务处 政教处", "各处室各年段", "每月"],
    ["9", "规范学籍管理和招生工作", "教学处", "", "9月"],
    ["10", "组织开展学生心理健康教育", "政教处", "团委", "全年"],
]


def _xlsx(rows):
    return make_table_xlsx(rows), "school.xlsx"


def _csv(rows):
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8"), "school.csv"


def _html(rows):
    # As Excel exports a sheet: a non-breaking space inside the spaced names, <br> between names.
    def cell(text):
        return "<td>" + html.escape(text).replace(" ", "&nbsp;").replace("\n", "<br>") + "</td>"

    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    return f"<html><head><meta charset='utf-8'></head><body><table>{body}</table></body></html>".encode(), "school.html"


def _docx(rows):
    import docx

    document = docx.Document()
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for row, values in zip(table.rows, rows, strict=True):
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue(), "school.docx"


@pytest.fixture(params=[_xlsx, _csv, _html, _docx], ids=["xlsx", "csv", "html", "docx"])
def school(request):
    data, name = request.param(SCHOOL_ROWS)
    return {item.number: item for item in decode_table(data, name).items}


def test_spaced_names_are_joined(school):
    assert school["1"].departments == ["政教处", "团委"]
    assert school["2"].lead_departments == ["工会"]


def test_two_names_with_a_space_stay_two(school):
    assert school["8"].lead_departments == ["总务处", "政教处"]


def test_glued_names_are_split_by_names_the_table_uses_alone(school):
    assert school["3"].lead_departments == ["教学处", "教科室"]
    assert school["5"].lead_departments == ["教学处", "团委"]


def test_collectives_are_kept_apart_as_written(school):
    assert school["2"].departments == ["工会"] and school["2"].collectives == ["各处室"]
    assert school["3"].collectives == ["各学科组"]
    assert school["6"].departments == ["体育组", "总务处"] and school["6"].collectives == ["各年段"]
    assert school["7"].collectives == ["各支部"]
    assert school["8"].collectives == ["各处室各年段"]
    sections = {name for item in school.values() for name in item.departments}
    assert sections == {"政教处", "团委", "工会", "教学处", "教科室", "党支部", "总务处", "体育组"}


def test_collectives_in_the_table_read_output(tmp_path, capsys):
    import json

    from clausemap.cli import main

    data, name = _xlsx(SCHOOL_ROWS)
    (tmp_path / name).write_bytes(data)
    assert main(["table", "read", str(tmp_path / name)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert rows[1]["collectives"] == ["各处室"] and "各处室" not in rows[1]["departments"]


@pytest.mark.parametrize("cell, names", [
    ("团 委", ["团委"]),
    ("办 公 室", ["办公室"]),
    ("教务 处", ["教务处"]),
    ("教务处 政教处", ["教务处", "政教处"]),
    ("团 委\n教务处", ["团委", "教务处"]),
    ("团委 工会", ["团委", "工会"]),
    ("党建办(牵头)、人事科", ["党建办(牵头)", "人事科"]),
])
def test_split_cell(cell, names):
    assert split_cell(cell) == names


@pytest.mark.parametrize("name", ["各处室", "各科室", "各单位", "各年段", "各学校", "局属各单位", "相关科室",
                                  "各支部", "各学科组", "各处室各年段", "有关处室", "各级各类学校"])
def test_collectives(name):
    assert is_collective(name)
    assert split_collectives([name]) == ([], [name])


@pytest.mark.parametrize("name", ["教务处", "团委", "机关党委(机关纪委)", "局防控办各专项工作", "体卫艺科", "各"])
def test_sections_are_not_collectives(name):
    assert not is_collective(name)


def test_split_glued_needs_every_part_known():
    assert split_glued("教学处教科室", {"教学处", "教科室"}) == ["教学处", "教科室"]
    assert split_glued("教学处教科室", {"教学处"}) == ["教学处教科室"]
    assert split_glued("教学处", {"教学", "处"}) == ["教学处"]  # too short to be two names
    assert split_glued("基础教育科", {"基础教育科", "基础"}) == ["基础教育科"]  # known itself


def test_names_glued_in_one_table_are_split_by_the_bureaus_catalogue():
    """A table that never writes 教学处 or 教科室 alone: the catalogue's names split the glued cell."""
    from labels.bureaus import task_rows
    from labels.catalogue import Catalogue

    catalogue = Catalogue.model_validate({"id": "school", "bureau": "某某中学", "departments": ["教学处", "教科室", "团委"]})
    rows = [["序号", "工作任务", "牵头部门", "配合部门"], ["1", "开展校本教研", "教学处教科室", "团 委"]]
    table = decode_table(*_csv(rows))
    assert table.items[0].departments == ["教学处教科室", "团委"]  # the table alone cannot tell
    [row], report = task_rows(catalogue, table.items)
    assert row["departments"] == ["教学处", "教科室", "团委"] and row["lead_departments"] == ["教学处", "教科室"]
    assert report.unknown == []
