"""Stated-department notes: parsed out of the clause text the same way as ever, in linear time."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clausemap.clauses.notes import _TRAILING_NOTE, _trailing_note, extract_departments


@pytest.mark.parametrize(
    "text, remaining, departments",
    [
        ("推进工作。责任单位:体卫艺科,安全科。", "推进工作。", ["体卫艺科", "安全科"]),
        ("推进工作;牵头单位:基础教育科;配合单位:财务科", "推进工作;", ["基础教育科", "财务科"]),
        ("推进工作。责任科室:机关党委(机关纪委)、办公室  ", "推进工作。", ["机关党委(机关纪委)", "办公室"]),
        ("责任科室:党建办", "", ["党建办"]),
        # Not at the end of the item, or a parenthesis left open or nested: not a trailing note.
        ("责任科室:党建办。推进工作。", "责任科室:党建办。推进工作。", []),
        ("推进工作。责任科室:党建办(", "推进工作。责任科室:党建办(", []),
        ("推进工作。责任科室:党建办((a))", "推进工作。责任科室:党建办((a))", []),
    ],
)
def test_trailing_notes(text, remaining, departments):
    stated = extract_departments(text)
    assert (stated.text, stated.departments) == (remaining, departments)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["责任科室", "牵头单位", "责任科室、单位", ":", ";", "。", "(", ")", " ", "科",
                                 "!", "\n"]), max_size=14).map("".join))
def test_the_trailing_note_found_is_the_one_regex_search_finds(text):
    # _TRAILING_NOTE.search is the definition (quadratic on many note starts); _trailing_note must agree with it.
    expected = _TRAILING_NOTE.search(text)
    found = _trailing_note(text)
    assert (found and (found.span(), found.group("body"))) == (expected and (expected.span(), expected.group("body")))


@pytest.mark.timeout(20)
@pytest.mark.parametrize("tail", ["。完成", "(", ""])
def test_many_note_starts_are_parsed_in_linear_time(tail):
    # 180 KB of ";责任科室:a" with no note that runs to the end took 42 s (each start scanned to the end).
    text = ";责任科室:a" * 12_000 + tail
    stated = extract_departments(text)
    assert stated.departments == ([] if tail else ["a"])


@pytest.mark.timeout(20)
def test_many_unclosed_parenthesised_notes_are_parsed_in_linear_time():
    text = "(责任科室:a" * 20_000 + "(责任科室:" + "(b)" * 20_000
    assert extract_departments(text).departments == []


def test_department_note_variants():
    stated = extract_departments("推进工作。(牵头单位:基础教育科;配合单位:规划财务科、人事科)")
    assert stated.text == "推进工作。"
    assert stated.departments == ["基础教育科", "规划财务科", "人事科"]
    assert stated.lead_departments == ["基础教育科"]
    stated = extract_departments("推进工作。责任单位:体卫艺科,安全科。")
    assert stated.text == "推进工作。"
    assert stated.departments == ["体卫艺科", "安全科"] and stated.lead_departments == ["体卫艺科"]
    plain = extract_departments("落实责任制,压实各级责任。")
    assert plain.text == "落实责任制,压实各级责任。" and plain.departments == []


@pytest.mark.timeout(20)
def test_a_note_naming_many_sections_is_parsed_in_linear_time():
    # Each name was looked for in the list of those before it: 20,000 names took 10 s.
    names = [f"科{i}" for i in range(40_000)]
    stated = extract_departments("推进工作。责任科室:" + "、".join(names + names[:5]))
    assert stated.departments == names and stated.text == "推进工作。"
