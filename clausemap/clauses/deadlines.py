"""The deadlines a clause states (完成时限): "年底前", "6月底前", "2022年9月前", "秋季学期开学前", "上半年".

    find_deadlines("6月底前完成自查,年底前全面完成整改。")   # ["6月底前", "年底前"]

A deadline is a point in time followed by 前/之前/以前 (or a span such as 上半年, 年内, 第三季度), so dates that
only say when something happened ("2021年以来", "9月1日起") are not deadlines.
"""

from __future__ import annotations

import re
from bisect import bisect_left

_CN_NUM = "一二三四五六七八九十"
_WHEN = (
    rf"(?:(?:\d{{4}}|[{_CN_NUM}〇零]{{4}})年)?"  # 2022年
    rf"(?:(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})月)?"  # 9月 / 九月
    r"(?:\d{1,2}日|底|末|中旬|上旬|下旬)?"
)
_BEFORE = r"(?:之前|以前|前)"
_PATTERNS = [
    # a date (at least a year or a month) and 前: 2022年9月前, 6月底前, 年底前 is below
    re.compile(rf"(?<![\d{_CN_NUM}])(?=[\d{_CN_NUM}〇零]{{1,4}}[年月]){_WHEN}{_BEFORE}"),
    re.compile(rf"(?:年底|年末|年中|月底|季度末|(?:春季|秋季)?学期(?:开学|结束|末)|开学|暑假|寒假|汛期|中考|高考){_BEFORE}"),
    re.compile(rf"(?:第[一二三四1-4]季度|(?<![\d{_CN_NUM}])[上下]半年|年内|年底|当年)(?:内|底|末)?"
               r"(?=完成|全面完成|基本完成|实现|建成|达到|覆盖|启动|出台|印发)"),
]
MAX_DEADLINES = 3


def find_deadlines(text: str) -> list[str]:
    """The deadlines stated in `text`, in order of appearance, each once (at most MAX_DEADLINES)."""
    found: list[tuple[int, str]] = []
    starts: list[int] = []  # the spans taken so far, which never overlap: sorted by start, so by end too
    ends: list[int] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            before = bisect_left(starts, end)  # the spans that start before this one ends
            if match.group(0) and not (before and ends[before - 1] > start):
                starts.insert(before, start)
                ends.insert(before, end)
                found.append((start, match.group(0)))
    return list(dict.fromkeys(deadline for _, deadline in sorted(found)))[:MAX_DEADLINES]


def deadline_text(text: str) -> str:
    """The 完成时限 cell: the deadlines joined by "、", or "" when the clause states none."""
    return "、".join(find_deadlines(text))
