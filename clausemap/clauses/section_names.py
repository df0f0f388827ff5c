"""Section names in a breakdown table's department cells, read the way the table means them.

Three habits of real tables (a school's annual task table showed all three):
- a name laid out with spaces inside the cell, "团 委", "工 会": parts that are not names on their own (a single
  character) are joined, while "教务处 政教处" stays two names;
- two names glued in one cell, "教学处教科室": split when every part is a name the same table (or the bureau's
  catalogue, or its history) uses on its own elsewhere;
- collective entries, "各处室", "相关科室", "局属各单位", "各处室各年段": "all (or the related) units", not a section.
  They are kept as written in a field of their own (`collectives`) and never become a section.

    split_cell("团 委\n教务处 政教处")                  # ["团委", "教务处", "政教处"]
    split_glued("教学处教科室", {"教学处", "教科室"})     # ["教学处", "教科室"]
    split_collectives(["体育组各年段", "各处室"])        # (["体育组"], ["各年段", "各处室"])
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from clausemap.clauses.notes import split_names

# A collective is a quantifier and a unit word: 各处室, 相关科室, 有关单位, 局属各单位, 各级各类学校.
# Both lists are data: add a word here when a table writes a collective this rule misses.
COLLECTIVE_QUANTIFIERS = ("局属各", "市直各", "县直各", "直属各", "所属各", "机关各", "各级各类", "各", "相关", "有关",
                          "其他", "其它", "全体")
COLLECTIVE_UNITS = ("处室", "科室", "股室", "单位", "部门", "年段", "年级", "学段", "学校", "中小学", "幼儿园", "学科组",
                    "教研组", "备课组", "支部", "党支部", "班级", "班主任", "中心", "县区", "区县", "县(市、区)",
                    "县(市)区", "校区", "部室", "组室", "处", "科", "室", "组", "校", "园")
_COLLECTIVE = re.compile("(?:(?:" + "|".join(map(re.escape, COLLECTIVE_QUANTIFIERS)) + ")(?:"
                         + "|".join(map(re.escape, sorted(COLLECTIVE_UNITS, key=len, reverse=True))) + "))+")
_MAX_GLUED_PARTS = 4


def split_cell(cell: str) -> list[str]:
    """The names in one department cell: split on 、,;/ and line breaks; a space splits two names only where
    the parts are names on their own ("团 委" is 团委, "教务处 政教处" two names). Parentheses stay attached."""
    names: list[str] = []
    for line in cell.split("\n"):
        names += split_names("、".join(_join_fragments(line.split())))
    return list(dict.fromkeys(names))


def _join_fragments(parts: list[str]) -> list[str]:
    """Space-separated parts with single characters joined: a run of them is one name ("办 公 室"), a lone one
    belongs to the part before it ("教务 处"), or to the part after it when it comes first."""
    joined: list[str] = []
    run = False  # whether joined[-1] is a run of single characters still open
    for part in parts:
        if len(part) == 1 and part not in "、,;/":
            if joined and (run or len(joined[-1]) > 1):
                joined[-1] += part
            else:
                joined.append(part)
            run = True
        elif joined and run and len(joined[-1]) == 1:
            joined[-1] += part  # "教 务处": a lone first character starts the next part
            run = False
        else:
            joined.append(part)
            run = False
    return joined


def is_collective(name: str) -> bool:
    """Whether a name is wholly collective: "各处室", "相关科室", "各处室各年段", "局属各单位"."""
    return bool(name) and _COLLECTIVE.fullmatch(_key(name)) is not None


def split_collectives(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(section names, collectives as written): "体育组各年段" gives the section 体育组 and the collective 各年段."""
    sections: list[str] = []
    collectives: list[str] = []
    for name in names:
        rest = name
        for match in _COLLECTIVE.finditer(name):
            collectives.append(match.group())
            rest = rest.replace(match.group(), "\n", 1)
        sections += [part.strip() for part in rest.split("\n") if part.strip()]
    return _unique(sections), _unique(collectives)


def split_glued(name: str, known: Collection[str]) -> list[str]:
    """A name as the known names that make it up exactly ("教学处教科室" → 教学处, 教科室), fewest parts first;
    [name] when it is known itself or no split covers it."""
    if name in known or len(name) < 4:
        return [name]
    best: dict[int, list[str]] = {0: []}  # end offset -> the shortest split of name[:end]
    for end in range(1, len(name) + 1):
        for start in sorted(best):
            part = name[start:end]
            if start < end and part in known and part != name and (end not in best or len(best[start]) + 1 < len(best[end])):
                if len(best[start]) < _MAX_GLUED_PARTS:
                    best[end] = best[start] + [part]
    return best.get(len(name)) or [name]


def tidy_sections(items, known: Collection[str] = ()) -> None:
    """Read the section names of a table's items the way the table means them, in place: collectives move to
    `item.collectives`, glued names are split by the names the table (and `known`) use on their own."""
    for item in items:
        item.departments, collectives = split_collectives(item.departments)
        item.lead_departments, _ = split_collectives(item.lead_departments)
        item.collectives = _unique([*getattr(item, "collectives", []), *collectives])
    alone = set(known) | {name for item in items for name in item.departments}
    for item in items:
        item.departments = _unique(part for name in item.departments for part in split_glued(name, alone - {name}))
        item.lead_departments = _unique(part for name in item.lead_departments
                                        for part in split_glued(name, alone - {name}))


def _key(name: str) -> str:
    return "".join(name.split())


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
