"""Hostile plan text: pathological inputs are segmented in linear time, and the text limits stop segmentation as
soon as they are passed. Hangs are caught by the per-test timeout, never by timing asserts."""

import pytest

from clausemap.clauses import segment, segment_text
from clausemap.clauses.deadlines import find_deadlines
from clausemap.clauses.limits import OverLimitError, TextLimits
from clausemap.clauses.sentences import split_sentences


@pytest.mark.timeout(20)
def test_half_a_megabyte_of_dash_bullets_under_one_item():
    # Each bullet used to recount its parent's children: 0.5 MB took 29 s.
    document = segment_text("一、总体要求\n" + "——推进工作落实\n" * 20_000)
    assert len(document.clauses) == 20_000
    assert [c.number for c in document.clauses[-2:]] == ["—19999", "—20000"]


@pytest.mark.timeout(20)
def test_an_item_of_many_lines_and_parts_keeps_exact_spans():
    text = "一、总体要求:\n" + "".join(f"{n}是推进第{n}项工作;\n" for n in ["一", "二", "三"]) + "继续推进落实\n" * 30_000
    document = segment_text(text)
    assert [c.number for c in document.clauses] == ["一、一是", "一、二是", "一、三是"]
    for clause in document.clauses[:2]:
        assert document.text[clause.span[0]:clause.span[1]].replace("\n", "").endswith(clause.text)


@pytest.mark.timeout(20)
def test_unclosed_quotes_and_many_deadlines():
    # An opener searched its closer to the end of the text; every deadline was checked against all the earlier ones.
    assert len(split_sentences("“" * 200_000 + "推进。")) == 1
    assert find_deadlines("年底前完成," * 20_000 + "6月底前完成") == ["年底前", "6月底前"]


def test_a_plan_over_the_character_limit_is_refused_before_cleaning(monkeypatch):
    cleaned = []
    monkeypatch.setattr(segment, "clean_lines", lambda text: cleaned.append(text) or [])
    with pytest.raises(OverLimitError, match="CLAUSEMAP_MAX_PLAN_CHARS") as refused:
        segment_text("一、总体要求\n" * 100, limits=TextLimits(max_plan_chars=500))
    assert refused.value.http_status == 413 and cleaned == []


def test_segmentation_stops_at_the_first_clause_over_the_count(monkeypatch):
    parsed = []
    real = segment.extract_departments
    monkeypatch.setattr(segment, "extract_departments", lambda text: parsed.append(text) or real(text))
    plan = "\n".join(f"{n}. 推进第{n}项工作。" for n in range(1, 601))
    with pytest.raises(OverLimitError, match=r"more than 10 clauses.*CLAUSEMAP_MAX_CLAUSES") as refused:
        segment_text(plan, limits=TextLimits(max_clauses=10))
    assert refused.value.http_status == 422 and len(parsed) == 11
    assert len(segment_text(plan, limits=TextLimits(max_clauses=600)).clauses) == 600


def test_a_clause_over_the_length_limit_is_named_by_its_index():
    plan = "1. 推进工作。\n2. " + "加强建设" * 100 + "\n3. 落实。"
    with pytest.raises(OverLimitError, match=r"clause 1 has 400 characters.*CLAUSEMAP_MAX_CLAUSE_CHARS"):
        segment_text(plan, limits=TextLimits(max_clause_chars=399))
    # The note a clause states is not part of its length.
    noted = "1. 推进工作。\n2. " + "加强建设" * 100 + "(责任科室:办公室)"
    assert len(segment_text(noted, limits=TextLimits(max_clause_chars=400)).clauses) == 2
