"""The clause and document records every later stage reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field


def lead_first(lead: Iterable[str], departments: Iterable[str]) -> list[str]:
    """The departments with the lead ones first, each once: the order every stage keeps departments in."""
    lead = list(dict.fromkeys(lead))
    return lead + [d for d in dict.fromkeys(departments) if d not in lead]


@dataclass
class Clause:
    """One leaf work item of a plan.

    `text` is the cleaned item text with any stated-department note removed: it is what a model sees,
    so it never contains its answer. `departments` lists the stated departments, lead first.
    """

    id: str  # stable: "<doc>-<n>", n counting clauses from 1 in document order
    doc: str  # document id: the file stem, e.g. "000_ae45951577d4b07b"
    number: str  # the item's own number as written, e.g. "4", "（三）", "一是"; "" when unnumbered
    section: list[str]  # the headings above the item, outermost first
    title: str  # the item's first sentence
    text: str
    departments: list[str] = field(default_factory=list)
    lead_departments: list[str] = field(default_factory=list)
    span: tuple[int, int] = (0, 0)  # [start, end) offsets of the item in the cleaned document text

    def to_dict(self) -> dict:
        data = asdict(self)
        data["span"] = list(self.span)
        return data


@dataclass
class Document:
    """A cleaned plan and its clauses. Text before the first item is metadata, not a clause."""

    doc: str
    title: str
    text: str  # the cleaned document; clause spans index into it
    preamble: str
    clauses: list[Clause]
