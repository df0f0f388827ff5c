"""Segmentation of the five real seed plans, the numbering rules and the command line (file formats: test_ingest.py;
cleaning: test_clean.py; department notes: test_notes.py; deadlines: test_deadlines.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clausemap.clauses import segment_file, segment_text
from clausemap.paths import PROJECT_ROOT
from tests.support.seeds import SEEDS, seed

# Every clause's number and title, read and checked by hand against the published plans.
EXPECTED = json.loads((Path(__file__).parent / "data" / "seed_clauses.json").read_text(encoding="utf-8"))
NOTE_WORDS = ("责任科室", "责任单位", "牵头单位", "牵头科室", "配合单位")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clausemap", *args], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120
    )


def test_seeds_are_the_shared_plans_unchanged():
    shared = PROJECT_ROOT.parent / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("../shared/seeds is not beside this checkout")
    assert [p.name for p in SEEDS] == sorted(p.name for p in shared.glob("*.txt"))
    for path in SEEDS:
        assert path.read_bytes() == (shared / path.name).read_bytes()


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name[:3])
def test_seed_clause_numbers_and_titles(path):
    document = segment_file(path)
    assert [[c.number, c.title] for c in document.clauses] == EXPECTED[path.stem]


def test_expected_counts():
    counts = {doc[:3]: len(items) for doc, items in EXPECTED.items()}
    # 003: the 一是… parts of its nine sections; 004: the eight numbered items of the fragment.
    assert counts == {"000": 29, "001": 33, "002": 32, "003": 33, "004": 8}


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name[:3])
def test_clause_records_are_consistent(path):
    document = segment_file(path)
    for n, clause in enumerate(document.clauses, start=1):
        assert clause.id == f"{path.stem}-{n}"
        assert clause.doc == path.stem
        assert clause.text.startswith(clause.title)
        start, end = clause.span
        assert 0 <= start < end <= len(document.text)
        # The span covers the item in the cleaned document, and the text (less the note) comes from it.
        assert clause.title in document.text[start:end]
        assert not any(word in clause.text for word in NOTE_WORDS), clause.id
        assert set(clause.lead_departments) <= set(clause.departments)


def test_seed_000_departments_lead_first_and_note_removed():
    clauses = segment_file(seed("000")).clauses
    assert all(c.departments for c in clauses)
    first = clauses[0]
    assert first.departments == ["党建办", "思政德育科", "秘书科", "机关党委", "人事组干科"]
    assert first.lead_departments == ["党建办"]
    assert "机关党委(机关纪委)" in clauses[2].departments  # nested parentheses kept whole
    assert clauses[16].departments == ["职成教科", "办公室(法规科)", "基础教育科"]
    assert clauses[17].departments == ["电教馆", "中小学教研室", "教师工作科"]  # 责任科室、单位
    assert clauses[23].text.endswith("推进审计工作全覆盖。")  # "(责任科室:规划财务科)。" leaves no "。。"
    assert clauses[28].departments[-1] == "局防控办各专项工作"


def test_seed_000_preamble_is_metadata():
    document = segment_file(seed("000"))
    assert document.title == "2022年教育工作要点"
    assert document.preamble.startswith("2022年是党的二十大召开之年")
    assert "索引号" not in document.text.replace(" ", "")
    assert "扫一扫" not in document.text


def test_seed_001_page_junk_dropped():
    document = segment_file(seed("001"))
    assert document.title == "区20xx年教育工作要点"
    for junk in ("为您推荐", "范文仅供", "请如实的对该文档进行评分", "农业农村局"):
        assert junk not in document.text
    assert document.clauses[0].section == ["一、坚持政z*引领,把强化党的全面领导作为推动教育高质量发展的根本保证"]


def test_seed_002_summary_yields_no_clauses():
    document = segment_file(seed("002"))
    assert "详情如下" in document.preamble
    assert "2020年新增50所公办幼儿园" in document.preamble
    assert document.clauses[0].title == "完善学习习近平新时代中国特色社会主义思想机制"
    assert not any("责任编辑" in c.text or "联系方式" in c.text for c in document.clauses)


def test_seed_003_traditional_and_pinyin_cleaned():
    document = segment_file(seed("003"))
    assert document.title == "深圳市教育局2019年工作思路"
    assert "(zhen)" not in document.text and "(shi)" not in document.text
    assert "學" not in document.text and "党" in document.text
    first = document.clauses[0]
    assert first.number == "(一)一是"
    assert first.section == ["(一)切实加强党对教育工作的全面领导"]
    assert first.text.startswith("把党的政治建设放在首位。")
    assert "二是" not in first.text
    # Real parentheses survive: 香港中文大学(深圳)
    assert any("香港中文大学(深圳)" in c.text for c in document.clauses)


def test_seed_004_fragment_opening_is_metadata():
    document = segment_file(seed("004"))
    # The fragment opens mid-item with an unnumbered paragraph whose heading was cut off: it is metadata.
    assert document.preamble.startswith("实施教育督导体制改革")
    first = document.clauses[0]
    assert first.number == "(九)" and first.section == []
    # The item's unnumbered paragraphs belong to it.
    assert "实施“231”建设" in first.text and "校园周边" in first.text
    assert document.clauses[1].section == ["五、保障措施"]
    assert "本文仅代表作者观点" not in document.clauses[-1].text


def test_headings_levels_and_numbering_styles():
    text = "\n".join(
        [
            "某县2024年教育工作计划",
            "总体要求:坚持立德树人。",
            "一、加强党的建设",
            "（一）理论武装",
            "1．深化理论学习。组织专题学习。",
            "2、推进党史教育。一是开展宣讲。二是组织参观。",
            "（二）基层组织",
            "（1）建强支部。完成换届。",
            "（2）发展党员。年内发展20名,预计2.5万元经费。",
            "二、发展学前教育",
            "3.新建幼儿园5所。",
        ]
    )
    document = segment_text(text, doc="x")
    got = [(c.number, c.title, c.section) for c in document.clauses]
    assert got == [
        ("1", "深化理论学习", ["一、加强党的建设", "(一)理论武装"]),
        ("2、一是", "开展宣讲", ["一、加强党的建设", "(一)理论武装", "2、推进党史教育"]),
        ("2、二是", "组织参观", ["一、加强党的建设", "(一)理论武装", "2、推进党史教育"]),
        ("(1)", "建强支部", ["一、加强党的建设", "(二)基层组织"]),
        ("(2)", "发展党员", ["一、加强党的建设", "(二)基层组织"]),
        ("3", "新建幼儿园5所", ["二、发展学前教育"]),
    ]
    assert document.title == "某县2024年教育工作计划"
    assert "总体要求" in document.preamble


def test_numbers_out_of_sequence_are_not_items():
    text = "1.第一项工作。\n2.第二项工作,投入\n5.27万元用于建设。\n3.第三项工作。"
    document = segment_text(text, doc="x")
    assert [c.number for c in document.clauses] == ["1", "2", "3"]
    assert document.clauses[1].text == "第二项工作,投入5.27万元用于建设。"


def test_cli_jsonl_over_all_seeds():
    result = run_cli("segment", *[str(p) for p in SEEDS], "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == sum(len(v) for v in EXPECTED.values())
    required = {"id", "doc", "number", "section", "title", "text", "departments", "lead_departments", "span"}
    assert all(required <= row.keys() for row in rows)


def test_cli_table():
    result = run_cli("segment", str(seed("000")), "--format", "table")
    assert result.returncode == 0
    assert "29 clauses" in result.stdout and "推进学前教育普及普惠发展" in result.stdout


def test_cli_bad_files_reported_and_others_processed(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "image.txt"
    binary.write_bytes(bytes(range(256)) * 20)
    unknown = tmp_path / "plan.rtf"
    unknown.write_text("1.推进工作。", encoding="utf-8")
    no_items = tmp_path / "prose.txt"
    no_items.write_text("这是一段没有编号的文字。", encoding="utf-8")
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"a" * (10 * 1024 * 1024 + 1))
    broken_docx = tmp_path / "broken.docx"
    broken_docx.write_bytes(b"not a zip")
    bad = [empty, binary, unknown, no_items, huge, broken_docx, tmp_path / "missing.txt"]
    result = run_cli("segment", *map(str, bad), str(seed("004")))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == len(bad)
    for path, line in zip(bad, errors):
        assert line.startswith(f"clausemap: error: {path}: ")
    assert len(result.stdout.splitlines()) == 8  # seed 004 still processed


# --- more plan formats, each on a small made-up document -----------------------------------------------------


def _numbers_sections_titles(text):
    doc = segment_text(text, doc="made-up")
    return [(c.number, c.section, c.title) for c in doc.clauses]


def test_dash_bullets_are_items_under_their_heading():
    text = ("2021年教育工作要点\n一、深化教育改革\n——启动实施基础教育综合改革,推进县域内义务教育优质均衡。\n"
            "——深化教育评价改革,完善学生综合素质评价。\n二、加强教师队伍建设\n—实施新时代教师素质提升计划。\n"
            "-落实教师减负清单。\n")
    assert _numbers_sections_titles(text) == [
        ("—1", ["一、深化教育改革"], "启动实施基础教育综合改革,推进县域内义务教育优质均衡"),
        ("—2", ["一、深化教育改革"], "深化教育评价改革,完善学生综合素质评价"),
        ("—1", ["二、加强教师队伍建设"], "实施新时代教师素质提升计划"),
        ("—2", ["二、加强教师队伍建设"], "落实教师减负清单"),
    ]


def test_dash_lines_before_the_first_item_are_not_items():
    text = "- 2023-09-28 13:07:21 相关文章\n- 大小:41.53K\n工作要点\n1.推进学前教育普及普惠发展。\n2.加强职业教育。\n"
    assert [c[0] for c in _numbers_sections_titles(text)] == ["1", "2"]


def test_circled_numbers_survive_cleaning_and_number_items():
    text = "工作要点\n一、重点工作\n①推进学前教育普及普惠发展。\n②加强职业教育产教融合。\n③落实教育经费投入。\n"
    assert _numbers_sections_titles(text) == [
        ("①", ["一、重点工作"], "推进学前教育普及普惠发展"),
        ("②", ["一、重点工作"], "加强职业教育产教融合"),
        ("③", ["一、重点工作"], "落实教育经费投入"),
    ]


def test_numbers_closed_by_a_bracket_only():
    text = "工作计划\n1)推进学前教育普及普惠发展。\n2)加强职业教育产教融合。\n3)落实教育经费投入,新增5)项目。\n"
    assert [(n, t) for n, _, t in _numbers_sections_titles(text)] == [
        ("1)", "推进学前教育普及普惠发展"), ("2)", "加强职业教育产教融合"), ("3)", "落实教育经费投入,新增5)项目")]


def test_a_plan_that_is_a_bare_yishi_list():
    text = ("2023年工作思路\n全年重点抓好以下工作:\n一是推进学前教育普及普惠发展,新增学位2000个。\n"
            "二是加强职业教育产教融合。\n三是落实教育经费投入,确保两个只增不减。\n五是这一行不接续序列。\n")
    doc = segment_text(text, doc="made-up")
    assert [(c.number, c.title) for c in doc.clauses] == [
        ("一是", "推进学前教育普及普惠发展,新增学位2000个"), ("二是", "加强职业教育产教融合"),
        ("三是", "落实教育经费投入,确保两个只增不减")]
    # "五是" does not continue the sequence: it is text of the item before, not an item.
    assert doc.clauses[2].text.endswith("五是这一行不接续序列。")
    assert "全年重点抓好以下工作" in doc.preamble


def test_items_numbered_without_punctuation_when_the_sequence_proves_it():
    text = ("2023年工作要点\n一、深化教育改革\n1 推进学前教育普及普惠发展。\n3所幼儿园完成改扩建。\n"
            "2 加强职业教育产教融合。\n二、强化保障\n1 落实教育经费投入。\n2 健全校园安全体系。\n"
            "5万名学生受益。\n")
    assert [(n, s[-1], t) for n, s, t in _numbers_sections_titles(text)] == [
        ("1", "一、深化教育改革", "推进学前教育普及普惠发展"), ("2", "一、深化教育改革", "加强职业教育产教融合"),
        ("1", "二、强化保障", "落实教育经费投入"), ("2", "二、强化保障", "健全校园安全体系")]
    # a lone bare number proves nothing: "3要点" stays text of its item
    doc = segment_text("工作计划\n一、总体要求\n3要点如下,推进学前教育。\n二、重点任务\n加强师德师风建设。\n", doc="x")
    assert [c.number for c in doc.clauses] == ["一", "二"]
