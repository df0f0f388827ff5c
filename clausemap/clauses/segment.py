"""Cut a cleaned plan into its numbered work items (clauses) and the headings above them.

Heading levels, outermost first: 一、 / (一) / 1. 1、 / (1) 1) / ①; an item split into 一是…二是… gives one
clause per part. A numbered line is only taken as an item when its number continues the sequence of its kind
(restarts at 1, or follows the last one), so "2.5万" at the start of a wrapped line or a stray "3、" disclaimer
is not an item. Dash bullets (——, —, -) are items under a numbered item or heading, numbered by their place;
a plan whose items are lines starting 一是 / 二是 / … (in order) gives one clause per line; items numbered without
punctuation ("1加强…") count when their numbers run in sequence. Every numbered leaf is
a clause; numbered lines with items under them are section headings.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from clausemap.clauses.clean import clean_lines
from clausemap.clauses.ingest import decode_plan, read_plan_file
from clausemap.clauses.limits import TextLimits, check_clause_chars, check_clause_count, check_plan_chars
from clausemap.clauses.model import Clause, Document
from clausemap.clauses.notes import extract_departments
from clausemap.errors import InputFileError

_CN_DIGITS = "零一二三四五六七八九"
_CN = "一二三四五六七八九十"

# (level, pattern); group "n" is the number, the match end is where the item text starts.
_MARKERS = [
    (0, re.compile(rf"^(?P<n>[{_CN}]{{1,3}})\s*[、.]\s*")),
    (1, re.compile(rf"^\(\s*(?P<n>[{_CN}]{{1,3}})\s*\)\s*[、.]?\s*")),
    (2, re.compile(r"^(?P<n>\d{1,3})\s*(?:[.、](?!\d)|\s+(?=\D))\s*")),
    (3, re.compile(r"^\(?\s*(?P<n>\d{1,3})\s*\)\s*[、.]?\s*")),
    (4, re.compile(r"^(?P<n>[\u2460-\u2473])\s*[、.]?\s*")),
]
DASH_LEVEL = 5
# A dash bullet: "——启动实施…", "—…", or "-" right before a Chinese character (not "- 2023-09-28 …" page lists).
_DASH = re.compile(r"^(?:——|—|-(?=[\u4e00-\u9fff]))\s*")
LIST_LEVEL = 6
# "1加强党的建设" once the cleaner has dropped the space: a number right before the item's first character. Not
# a quantity ("3所学校", "5万人"), and only taken when the numbers run in sequence (_bare_numbered).
_BARE_NUMBER = re.compile(r"^(?P<n>\d{1,2})(?=[\u4e00-\u9fff])(?![年月日号时万亿千百个所名项次家条件人元岁天周季度倍批座台套类级期届点%])")
_LINE_PART = re.compile(rf"^(?P<n>[{_CN}]{{1,3}})是\s*[,:]?\s*")
_SUB_MARKER = re.compile(rf"(?:(?<=^)|(?<=[。;:,!?\s]))(?P<m>(?P<n>[{_CN}]{{1,3}})是)")
_DETAILS_FOLLOW = re.compile(r"^(?:详情|全文|具体内容|原文|具体)如下[:：]?$")
_TITLE_WORDS = re.compile(r"(?:要点|计划|思路|规划|方案|安排|意见)")
_SENTENCE_END = re.compile(r"[。!?！？]")


def chinese_number(text: str) -> int:
    """Value of a Chinese numeral up to 999 ("十二" → 12, "二十" → 20), or of ASCII digits."""
    if len(text) == 1 and "\u2460" <= text <= "\u2473":  # ①…⑳ (str.isdigit() is true for them too)
        return ord(text) - 0x245F
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            current = _CN_DIGITS.index(ch)
    return total + current


@dataclass
class _Node:
    level: int
    marker: str  # as written, e.g. "4.", "(三)", "一、"
    number: str  # normalised: "4", "(三)", "一", "(1)"
    start: int  # offset of the marker in the cleaned document
    lines: list[tuple[int, str]] = field(default_factory=list)  # (offset, text) of each line, marker stripped
    children: list["_Node"] = field(default_factory=list)
    dashes: int = 0  # dash bullets among the children so far (counted, not recounted for each new one)

    @property
    def end(self) -> int:
        offset, text = self.lines[-1]
        return offset + len(text)

    @property
    def heading(self) -> str:
        """How the item reads as a section heading: its marker and first paragraph."""
        return self.marker + self.lines[0][1]


def _match_marker(line: str):
    for level, pattern in _MARKERS:
        match = pattern.match(line)
        if match and match.end() < len(line):
            return level, match
    return None


def _number_of(level: int, raw: str) -> str:
    return {0: raw, 1: f"({raw})", 2: raw, 3: f"({raw})", 4: raw, DASH_LEVEL: f"—{raw}", LIST_LEVEL: f"{raw}是"}[level]


def _unnumbered_marker(line: str, stack: list[_Node], last_number: dict[int, int]):
    """(level, match, value, parent depth) of a dash bullet under an item, or of a line-start 一是/二是 list
    item at the top of the plan; else None. Dash bullets are numbered by their place under their parent."""
    dash = _DASH.match(line)
    if dash and dash.end() < len(line):
        depth = max(i for i, node in enumerate(stack) if node.level < DASH_LEVEL)
        if depth > 0:  # under an item or heading, never before the first one (page lists start with "- ")
            return DASH_LEVEL, dash, stack[depth].dashes + 1, depth
    part = _LINE_PART.match(line)
    if part and part.end() < len(line) and all(node.level in (-1, LIST_LEVEL, DASH_LEVEL) for node in stack):
        value = chinese_number(part.group("n"))
        if value == last_number.get(LIST_LEVEL, 0) + 1 or value == 1:
            return LIST_LEVEL, part, value, 0
    return None


def _bare_numbered(lines: list[tuple[int, str]]) -> set[int]:
    """Offsets of lines numbered without punctuation ("1加强…", "2推进…") whose numbers prove it: they run
    1, 2, 3… (at least two in a row; lines between them continue the items)."""
    chains: list[list[tuple[int, int]]] = [[]]  # runs of (offset, number); a number out of sequence ends one
    for offset, line in lines:
        match = _BARE_NUMBER.match(line)
        if not match or _match_marker(line):
            continue
        value = int(match.group("n"))
        if chains[-1] and value == chains[-1][-1][1] + 1:
            chains[-1].append((offset, value))
        else:
            chains.append([(offset, value)] if value == 1 else [])
    return {offset for chain in chains if len(chain) >= 2 for offset, _ in chain}


def _build_tree(lines: list[tuple[int, str]]) -> tuple[_Node, list[str]]:
    """Nest numbered lines by level; unnumbered lines continue the item above them."""
    root = _Node(level=-1, marker="", number="", start=0)
    stack = [root]
    last_number: dict[int, int] = {}
    before_first_item: list[str] = []
    bare = _bare_numbered(lines)
    for offset, line in lines:
        found = _match_marker(line) or ((2, _BARE_NUMBER.match(line)) if offset in bare else None)
        unnumbered = None if found else _unnumbered_marker(line, stack, last_number)
        if unnumbered:
            level, match, value, depth = unnumbered
            del stack[depth + 1:]
            last_number[level] = value
            raw = match.group("n") if level == LIST_LEVEL else str(value)
            node = _Node(level, match.group(0).strip(), _number_of(level, raw), offset)
            node.lines.append((offset + match.end(), line[match.end():]))
            stack[-1].children.append(node)
            stack[-1].dashes += level == DASH_LEVEL
            stack.append(node)
            continue
        if found:
            level, match = found
            value = chinese_number(match.group("n"))
            previous = last_number.get(level)
            # A new kind of numbering may start anywhere (plans are sometimes fragments); after that the
            # sequence must restart at 1 or move on by one (two tolerates a skipped number).
            if previous is None or value == 1 or previous < value <= previous + 2:
                last_number[level] = value
                while stack[-1].level >= level:
                    stack.pop()
                number = _number_of(level, match.group("n"))
                if level == 3 and not match.group(0).startswith("("):
                    number = f"{match.group('n')})"  # "1)" as written, not "(1)"
                node = _Node(level, match.group(0).strip(), number, offset)
                node.lines.append((offset + match.end(), line[match.end() :]))
                stack[-1].children.append(node)
                stack.append(node)
                continue
        if stack[-1] is root:
            before_first_item.append(line)
        else:
            stack[-1].lines.append((offset, line))
    return root, before_first_item


def first_sentence(text: str) -> str:
    match = _SENTENCE_END.search(text)
    sentence = text[: match.start()] if match else text
    return sentence.strip().rstrip(";,:、 ")


def _split_parts(text: str) -> list[tuple[str, int]]:
    """(marker, start) of each 一是/二是/… part when the text enumerates at least two in order."""
    parts, expected, search_from = [], 1, 0
    while True:
        for match in _SUB_MARKER.finditer(text, search_from):
            if chinese_number(match.group("n")) == expected:
                parts.append((match.group("m"), match.start()))
                expected += 1
                search_from = match.end()
                break
        else:
            break
    return parts if len(parts) >= 2 else []


def _leaf_clauses(node: _Node, section: list[str]) -> list[dict]:
    """The clause records of one leaf item: the item itself, or each of its 一是… parts."""
    # Join the item's lines with no separator: Chinese paragraphs need none, and a PDF's wrapped lines
    # must read the same as the text file's single line.
    text = "".join(line for _, line in node.lines)
    starts = list(accumulate((len(line) for _, line in node.lines[:-1]), initial=0))  # of each line in `text`
    stated = extract_departments(text)
    records = []
    parts = _split_parts(text)
    if not parts:
        records.append(
            dict(number=node.number, section=section, body=stated.text, span=(node.start, node.end))
        )
    else:
        heading = node.marker + first_sentence(text[: parts[0][1]])
        bounds = [start for _, start in parts] + [len(text)]
        for (marker, start), end in zip(parts, bounds[1:]):
            body = extract_departments(text[start + len(marker) : end]).text
            records.append(
                dict(
                    number=node.marker + marker,
                    section=section + [heading],
                    body=body,
                    span=(_document_offset(node.lines, starts, start),
                          _document_offset(node.lines, starts, end - 1) + 1),
                )
            )
    for record in records:
        record.update(departments=stated.departments, lead_departments=stated.lead_departments)
    return records


def _document_offset(lines: list[tuple[int, str]], starts: list[int], at: int) -> int:
    """Where character `at` of the lines joined without separators (each starting at `starts`) is in the
    cleaned document."""
    line = bisect_right(starts, at) - 1
    return lines[line][0] + at - starts[line]


def _walk(node: _Node, section: list[str], out: list[dict], limits: TextLimits) -> None:
    """Append the clause records under `node` (those with a body) to `out`; stop at the first over the count."""
    for child in node.children:
        if child.children:
            _walk(child, section + [child.heading], out, limits)
            continue
        for record in _leaf_clauses(child, section):
            if record["body"]:
                out.append(record)
                check_clause_count(len(out), limits, "clauses in the plan", exact=False)


def segment_text(text: str, doc: str = "doc", limits: TextLimits = TextLimits()) -> Document:
    """Clean `text` and cut it into clauses. Raises InputFileError when it holds no numbered items, OverLimitError
    as soon as it is found to be over one of `limits`."""
    check_plan_chars(text, limits)
    cleaned_lines = clean_lines(text)
    # A news article may summarise the plan before "详情如下:"; the plan proper is what follows.
    summary: list[str] = []
    for i, line in enumerate(cleaned_lines):
        if _DETAILS_FOLLOW.match(line):
            summary, cleaned_lines = cleaned_lines[: i + 1], cleaned_lines[i + 1 :]
            break
    all_lines = summary + cleaned_lines
    cleaned = "\n".join(all_lines)
    offset = sum(len(line) + 1 for line in summary)
    numbered: list[tuple[int, str]] = []
    for line in cleaned_lines:
        numbered.append((offset, line))
        offset += len(line) + 1

    root, before = _build_tree(numbered)
    records: list[dict] = []
    _walk(root, [], records, limits)
    for index, record in enumerate(records):  # the count first: a plan of too many clauses is refused for that
        check_clause_chars(index, record["body"], limits)
    if not records:
        raise InputFileError(doc, "no numbered items found (expected items like '一、', '(一)', '1.', '一是')")

    front = summary + before
    title = next((line for line in front if len(line) <= 40 and _TITLE_WORDS.search(line) and "。" not in line), "")
    preamble = "\n".join(line for line in front if line != title)
    clauses = [
        Clause(
            id=f"{doc}-{n}",
            doc=doc,
            number=r["number"],
            section=r["section"],
            title=first_sentence(r["body"]),
            text=r["body"],
            departments=r["departments"],
            lead_departments=r["lead_departments"],
            span=r["span"],
        )
        for n, r in enumerate(records, start=1)
    ]
    return Document(doc=doc, title=title, text=cleaned, preamble=preamble, clauses=clauses)


def segment_bytes(data: bytes, filename: str, doc: str | None = None, limits: TextLimits = TextLimits()) -> Document:
    """Segment an uploaded file's bytes; the filename's suffix picks the format."""
    text = decode_plan(data, filename)
    return _segment_named(text, doc or Path(filename).stem, filename, limits)


def segment_file(path: str | Path) -> Document:
    path = Path(path)
    return _segment_named(read_plan_file(path), path.stem, str(path))


def _segment_named(text: str, doc: str, source: str, limits: TextLimits = TextLimits()) -> Document:
    try:
        return segment_text(text, doc=doc, limits=limits)
    except InputFileError as exc:
        raise InputFileError(source, exc.reason) from None
