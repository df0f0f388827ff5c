"""Stated-department notes such as "(责任科室:党建办、人事组干科)" or "(牵头单位:基础教育科;配合单位:财务科)".

The note is the answer a model must learn to predict, so it is parsed out and removed from the clause text.
Text is NFKC-normalised before it gets here: parentheses and colons are half-width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from clausemap.clauses.model import lead_first

_LEAD_KEYS = r"牵头(?:单位|科室|处室|部门)"
_OTHER_KEYS = r"配合(?:单位|科室|处室|部门)|协办单位|参与单位"
_PLAIN_KEYS = r"责任(?:科室|处室|单位|部门)(?:、(?:科室|处室|单位|部门))*|负责(?:科室|单位)|主责(?:科室|单位)"
_KEY = rf"(?:{_LEAD_KEYS}|{_OTHER_KEYS}|{_PLAIN_KEYS})"

# A body may hold one level of nested parentheses: "机关党委(机关纪委)", "办公室(法规科)".
_BODY = r"(?:[^()]|\([^()]*\))*"
_PAREN_NOTE = re.compile(rf"\(\s*(?={_KEY}\s*:)(?P<body>{_BODY})\)")
# Unparenthesised form at the very end of an item: "…。责任单位:基础教育科、财务科。"
_TRAILING_NOTE = re.compile(rf"(?:(?<=[。;!?])|^)\s*(?P<body>(?:{_KEY})\s*:[^。()]*(?:\([^()]*\)[^。()]*)*)。?\s*$")
# Searched for directly, _TRAILING_NOTE runs from every ";责任科室:" to the end of the text before failing
# (quadratic): _trailing_note tries it only where a start (_NOTE_START) is followed by a tail that can end it.
_NOTE_START = re.compile(rf"(?:(?<=[。;!?])|^)\s*(?:{_KEY})\s*:")
_SEGMENT_KEY = re.compile(rf"^\s*(?P<key>{_KEY})\s*:\s*")
_NAME_SEPARATORS = re.compile(r"[、,，;；/]")


@dataclass
class StatedDepartments:
    text: str  # the clause text with the note removed
    departments: list[str] = field(default_factory=list)  # lead first
    lead_departments: list[str] = field(default_factory=list)


def split_names(body: str) -> list[str]:
    """Split a list of names on 、,; — but never inside parentheses ("机关党委(机关纪委)" stays whole)."""
    names, depth, current = [], 0, []
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if depth == 0 and _NAME_SEPARATORS.match(ch):
            names.append("".join(current))
            current = []
        else:
            current.append(ch)
    names.append("".join(current))
    cleaned = {}  # a dict: each name once, in order, without a search of the list for each one
    for name in names:
        name = name.strip().rstrip("。.").strip()
        name = re.sub(r"等$", "", name).strip()
        if name:
            cleaned[name] = None
    return list(cleaned)


def _parse_body(body: str) -> tuple[list[str], list[str]]:
    """(lead names, other names) of one note body, which may hold several "key:names" segments."""
    lead, other = [], []
    for segment in re.split(r"[;；]\s*(?=" + _KEY + r"\s*:)", body):
        match = _SEGMENT_KEY.match(segment)
        key = match.group("key") if match else ""
        names = split_names(segment[match.end() :] if match else segment)
        (lead if re.fullmatch(_LEAD_KEYS, key) else other).extend(names)
    return lead, other


def extract_departments(text: str) -> StatedDepartments:
    """Find every department note in `text`, remove it, and return the departments it states."""
    bodies: list[str] = []

    def take(match: re.Match) -> str:
        bodies.append(match.group("body"))
        return ""

    remaining = _PAREN_NOTE.sub(take, text)
    trailing = _trailing_note(remaining)
    if trailing:
        bodies.append(trailing.group("body"))
        remaining = remaining[: trailing.start()]
    if not bodies:
        return StatedDepartments(text=text)

    lead, other = [], []
    for body in bodies:
        body_lead, body_other = _parse_body(body)
        lead += body_lead
        other += body_other
    departments = lead_first(lead, other)
    lead = list(dict.fromkeys(lead)) or departments[:1]
    return StatedDepartments(text=_tidy(remaining), departments=departments, lead_departments=lead)


def _trailing_note(text: str) -> re.Match | None:
    """The first _TRAILING_NOTE match in `text` (it runs to the end of the text), in linear time."""
    closes = None
    for start in _NOTE_START.finditer(text):
        closes = closes or _tail_closes(text)
        if closes[start.end()]:
            return _TRAILING_NOTE.match(text, start.start())
    return None


def _tail_closes(text: str) -> list[bool]:
    """closes[i]: text[i:] matches the end of _TRAILING_NOTE (`[^。()]*(?:\\([^()]*\\)[^。()]*)*。?\\s*$`): no 。
    outside parentheses but a last one, parentheses in pairs and not nested. One pass from the end."""
    end = len(text.rstrip())
    end -= text[:end].endswith("。")
    closes = [False] * end + [True] * (len(text) + 1 - end)  # from `end` on, only the last 。 and spaces
    depth = 0
    for i in range(end - 1, -1, -1):
        ch = text[i]
        if ch == ")":
            if depth:
                break  # nested
            depth = 1
        elif ch == "(":
            if not depth:
                break  # never closed
            depth = 0
        elif ch == "。" and not depth:
            break
        closes[i] = not depth
    return closes


def _tidy(text: str) -> str:
    """Repair the punctuation a removed note leaves behind ("…全覆盖。。" → "…全覆盖。")."""
    text = re.sub(r"([。;,])\s*[。.]", r"\1", text)
    return text.strip()
