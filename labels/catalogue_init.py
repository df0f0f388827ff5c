"""A first catalogue for a new bureau, from its breakdown tables (`clausemap catalogue init --from TABLE...`).

Every section the tables name becomes a department:
- names that differ only in how they are written are merged, the most used form as its name, the others aliases:
  "党政办公室" / "党政办", "基教科室" / "基教科", "办公室(法规科)" / "办公室" (and "法规科" when no section has it);
- its categories are those the classifier gives the tasks it leads (else those it cooperates on), most frequent
  first, each kept when it covers at least a quarter of what the first covers;
- its responsibility line lists the first phrases of the tasks it leads, so their terms also point to it.
The user edits the file afterwards; `clausemap history add` keeps the tables as the bureau's history.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from clausemap.clauses.tables import BreakdownTable
from clausemap.clauses.section_names import is_collective
from labels.catalogue import Catalogue, Department, name_key
from labels.functions import FALLBACK_CATEGORY, infer

# texts -> the category ids of each text
Categorise = Callable[[Sequence[str]], list[list[str]]]
KEEP_SHARE = 0.25  # a category is kept when it covers this share of what the section's first category covers
RESPONSIBILITY_TASKS = 3
_PARENS = re.compile(r"\(([^()]*)\)")
_FIRST_PHRASE = re.compile(r"[,。;:!?]")


def alias_key(name: str) -> str:
    """The form two names of one section share: no parentheses, "…办公室" as "…办", "…科室" as "…科"."""
    key = _PARENS.sub("", name_key(name))
    if len(key) > 3 and key.endswith("办公室"):
        key = key[: -len("公室")]
    elif len(key) > 2 and key.endswith("科室"):
        key = key[:-1]
    return key


@dataclass
class _Section:
    written: Counter = field(default_factory=Counter)  # forms as written -> times
    leads: list[str] = field(default_factory=list)  # texts of the tasks it leads
    cooperates: list[str] = field(default_factory=list)


def init_catalogue(tables: Sequence[BreakdownTable], bureau: str, catalogue_id: str,
                   categorise: Categorise) -> Catalogue:
    items = [item for table in tables for item in table.items]
    # No `plans`: a table's document id comes from its file name, which the uploader chooses; claiming it would
    # let a table named like another bureau's plan take that plan's history. The tables' rows carry the id.
    return catalogue_from_items(items, bureau, catalogue_id, categorise, {})


def catalogue_from_items(items: Sequence, bureau: str, catalogue_id: str, categorise: Categorise,
                         plans: dict[str, str]) -> Catalogue:
    """The catalogue of the sections these tasks name; each item has text, departments and lead_departments."""
    group = _name_groups(name for item in items for name in item.departments)
    sections: dict[str, _Section] = defaultdict(_Section)
    for item in items:
        for name in (n for n in item.departments if not is_collective(n)):  # "各处室" is all of them, no section
            section = sections[group(name)]
            section.written[name] += 1
            (section.leads if name in item.lead_departments else section.cooperates).append(item.text)
    if not sections:
        raise ValueError("the tables name no sections")

    texts = list(dict.fromkeys(t for s in sections.values() for t in s.leads + s.cooperates))
    labels_of = dict(zip(texts, categorise(texts), strict=True))
    departments = []
    taken = {name_key(w) for s in sections.values() for w in s.written}
    # Sections that lead most come first: they are the ones a plan names most.
    for section in sorted(sections.values(), key=lambda s: (-len(s.leads), -len(s.cooperates))):
        # The name: a form without parentheses, the most used, the fuller on a tie ("党政办公室" over "党政办").
        forms = [w for w, _ in sorted(section.written.items(), key=lambda wc: ("(" in wc[0], -wc[1], -len(wc[0])))]
        # "法规科" inside "办公室(法规科)" is another name of it, unless some section is written so already
        inner = [m for w in forms for m in _PARENS.findall(name_key(w)) if name_key(m) not in taken]
        taken.update(name_key(m) for m in inner)
        named = infer(forms[0])  # what the name says comes first: 安全科 leads safety whatever its tasks were
        departments.append(Department(
            name=forms[0],
            aliases=tuple(dict.fromkeys(a for a in forms[1:] + inner if a != forms[0])),
            responsibility=_responsibility(section),
            categories=_merged(named.categories, _categories(section.leads or section.cooperates, labels_of)),
            keywords=named.keywords,
        ))
    return Catalogue(id=catalogue_id, bureau=bureau, plans=plans, departments=tuple(departments))


def _merged(named: tuple[str, ...], from_tasks: list[str]) -> tuple[str, ...]:
    """The name's specific categories, then those of the section's tasks ("other" from the name only when the
    tasks give nothing)."""
    specific = [c for c in named if c != FALLBACK_CATEGORY]
    return tuple(dict.fromkeys(specific + from_tasks)) or named


def describe(catalogue: Catalogue) -> str:
    """One line per section, for review: its categories, and the functions its name carries."""
    lines = []
    for dept in catalogue.departments:
        functions = infer(dept.name).functions
        lines.append(f"  {dept.name}: categories {', '.join(dept.categories)}"
                     + (f"; the name says {', '.join(functions)}" if functions else "; the name says nothing"))
    return "\n".join(lines)


def _name_groups(names) -> Callable[[str], str]:
    """name -> the key of its section: names sharing an alias_key are one section, and so are X and Y of "X(Y)"
    ("机关党委(机关纪委)" joins 机关党委 and 机关纪委)."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for name in names:
        for inner in _PARENS.findall(name_key(name)):
            a, b = find(alias_key(name)), find(alias_key(inner))
            if a != b:
                parent[b] = a
    return lambda name: find(alias_key(name))


def _categories(texts: list[str], labels_of: dict[str, list[str]]) -> list[str]:
    counts = Counter(label for text in texts for label in labels_of.get(text, []))
    if not counts:
        return ["other"]
    ranked = counts.most_common()
    top = ranked[0][1]
    return [label for label, n in ranked if n >= KEEP_SHARE * top]


def _responsibility(section: _Section) -> str:
    """The first phrase of the first tasks it leads (or cooperates on): "推进学前教育普及普惠、…"."""
    texts = section.leads or section.cooperates
    phrases = [_FIRST_PHRASE.split(t, 1)[0].strip() for t in texts]
    return "、".join(list(dict.fromkeys(p for p in phrases if p))[:RESPONSIBILITY_TASKS]) or "(待补充)"
