"""Cutting a clause into the sentences categories are decided on."""

from __future__ import annotations

import json

import pytest

from clausemap.clauses.sentences import MIN_CHARS, sentence_texts, split_sentences
from clausemap.paths import PROJECT_ROOT


def test_chinese_sentence_ends_and_semicolons():
    text = "推进学前教育普及普惠发展。新增公办幼儿园学位3000个;提高保教质量!确保安全吗?"
    assert sentence_texts(text) == ["推进学前教育普及普惠发展。", "新增公办幼儿园学位3000个;", "提高保教质量!",
                                  "确保安全吗?"]


def test_full_width_ends_too():
    assert sentence_texts("加强师德师风建设；开展国培计划。落实待遇！") == ["加强师德师风建设；", "开展国培计划。落实待遇！"]


def test_decimal_points_and_numbering_do_not_end_a_sentence():
    text = "新建校舍5.27万平方米,入园率达到91.5%。完成(1)号工程和1.2期建设。"
    assert sentence_texts(text) == ["新建校舍5.27万平方米,入园率达到91.5%。", "完成(1)号工程和1.2期建设。"]


def test_nothing_inside_quotes_or_brackets_ends_a_sentence():
    text = "开展“百万学生同上一堂课。我们一起学!”主题活动。落实《通知;细则》要求(见附件。)等工作。"
    assert sentence_texts(text) == ["开展“百万学生同上一堂课。我们一起学!”主题活动。", "落实《通知;细则》要求(见附件。)等工作。"]


def test_closing_quotes_after_the_end_stay_with_their_sentence():
    assert sentence_texts("提出“办好人民满意的教育。”下一步继续推进工作。") == ["提出“办好人民满意的教育。”", "下一步继续推进工作。"]


def test_short_pieces_join_a_neighbour():
    pieces = split_sentences("确保;推进教育优质均衡发展。好。")
    assert [s.text for s in pieces] == ["确保;推进教育优质均衡发展。好。"]
    assert all(len(s.text) >= MIN_CHARS for s in pieces)


def test_unbalanced_quotes_do_not_swallow_the_clause():
    text = "开展“书香校园活动。" + "推进教育优质均衡发展。" * 12
    assert len(split_sentences(text)) > 1


@pytest.mark.parametrize("text", ["", "   ", "没有结尾标点的一句话"])
def test_degenerate_texts(text):
    pieces = split_sentences(text)
    assert [s.text for s in pieces] == ([text.strip()] if text.strip() else [])


def test_offsets_cover_every_seed_clause_exactly():
    """Every non-space character of every real clause is in exactly one sentence, at its offsets."""
    rows = [json.loads(line) for line in (PROJECT_ROOT / "data" / "dataset.jsonl").read_text("utf-8").splitlines()]
    for row in rows:
        pieces = split_sentences(row["text"])
        assert all(row["text"][s.start:s.end] == s.text for s in pieces)
        assert all(a.end <= b.start for a, b in zip(pieces, pieces[1:]))
        assert "".join(s.text for s in pieces).replace(" ", "") == row["text"].replace(" ", "")
