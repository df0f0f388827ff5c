"""One typed row for every labelled clause: seed annotations, written rows, staff corrections, bureau tables.

`Row` holds the rules every stage relies on, once: categories are taxonomy ids in taxonomy order and the
fallback ('other') stands alone; lead departments come first and are among the departments; sentence labels sit
where the text says and add up to the clause's categories. `read_rows` and `write_rows` are the one reader and
writer of row files (data/dataset.jsonl, data/written.jsonl, a bureau's table history, an artifact's
history.jsonl). `resolve_departments` is the one way a department name becomes a catalogue name.

The taxonomy the rules check against (a Taxonomy, or `Labels`) comes from the validation context
(`context={"taxonomy": ...}`), else the default one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from clausemap.clauses.model import lead_first
from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import read_jsonl_objects

Source = Literal["seed", "written", "feedback", "table"]
# Where a row came from: an annotated clause of a real plan (a row that names no source is one), a row written for
# training (labels.written), a staff correction (labels.feedback) or a task of a bureau's breakdown table.


@dataclass(frozen=True)
class Labels:
    """The category ids rows are checked against and the fallback among them, where no Taxonomy is at hand (a
    model's labels). Everything here takes either."""

    ids: list[str]
    fallback_id: str


def _taxonomy(info: ValidationInfo | None):
    taxonomy = (info.context or {}).get("taxonomy") if info is not None else None
    if taxonomy is None:
        from labels.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
    return taxonomy


def checked_categories(categories: Iterable[str], taxonomy) -> list[str]:
    """The categories in taxonomy order, each once. ValueError: an id the taxonomy lacks, or the fallback given
    with another category (it is given only when none of the others applies)."""
    given = list(dict.fromkeys(categories))
    unknown = [c for c in given if c not in taxonomy.ids]
    if unknown:
        raise ValueError(f"unknown categories {unknown} (the taxonomy has {', '.join(taxonomy.ids)})")
    if taxonomy.fallback_id in given and len(given) > 1:
        raise ValueError(f"'{taxonomy.fallback_id}' is given only when no other category applies")
    return [c for c in taxonomy.ids if c in given]


def sentence_union(sentence_categories: Iterable[Iterable[str]], taxonomy) -> list[str]:
    """The clause's categories its sentences' labels add up to: every specific one given, else the fallback."""
    given = {c for cats in sentence_categories for c in cats} - {taxonomy.fallback_id}
    return [c for c in taxonomy.ids if c in given] or [taxonomy.fallback_id]


class Sentence(BaseModel):
    """A labelled sentence of a row: its text, where it sits in the row's text, its categories."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    categories: list[str] = Field(min_length=1)

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return checked_categories(value, _taxonomy(info))


class Row(BaseModel):
    """A labelled clause. Fields are declared in the order the files write them, so a row file reads and writes
    back unchanged; only the fields a row was given are written (a seed row names no source)."""

    # Forbid: a misspelt key ("lead_department") fails with file and line instead of being lost on the next write.
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    doc: str = ""
    number: str = ""
    section: list[str] = []
    title: str = ""
    text: str
    categories: list[str] = []  # none: a task known by its sections only (a table's); training needs them
    departments: list[str] = []  # catalogue names, lead first; a table task has at least one
    lead_departments: list[str] = []
    span: list[int] | None = None  # [start, end) in the cleaned document, as `clausemap segment` writes a clause
    sentences: list[Sentence] | None = None  # sentence labels, when every sentence of the text has them
    source: Source = "seed"
    # written rows (labels.written)
    made_from: str | None = None
    style: str | None = None
    level: str | None = None
    year: int | None = None
    note: str | None = None
    # staff corrections (labels.feedback)
    feedback_id: int | None = None
    corrected_by: str | None = None
    model_version: str | None = None
    bureau: str | None = None  # the catalogue id whose sections the row names; None: its plan's (labels.bureaus)
    deadline: str | None = None  # table tasks: 完成时限 as the table writes it

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty")
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return checked_categories(value, _taxonomy(info))

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Row:
        if not self.categories and (self.source != "table" and not self.departments):
            raise ValueError("'categories' must be a non-empty list of category ids")
        if not self.departments and self.source == "table":
            raise ValueError("a table task needs its 'departments'")
        outside = [d for d in self.lead_departments if d not in self.departments]
        if outside:
            raise ValueError(f"lead departments {outside} are not among the departments")
        ordered = lead_first(self.lead_departments, self.departments)
        if ordered != self.departments:
            self.departments = ordered
        if len(set(self.lead_departments)) != len(self.lead_departments):
            self.lead_departments = list(dict.fromkeys(self.lead_departments))
        if self.sentences:
            self._check_sentences(_taxonomy(info))
        return self

    def _check_sentences(self, taxonomy) -> None:
        for i, sentence in enumerate(self.sentences):
            if self.text[sentence.start:sentence.end] != sentence.text:
                raise ValueError(f"sentences[{i}] is not the text at {sentence.start}:{sentence.end}")
        union = sentence_union((s.categories for s in self.sentences), taxonomy)
        if union != self.categories:
            raise ValueError(f"categories {self.categories} differ from the union of its sentences' {union}")

    @property
    def written(self) -> bool:
        return self.source == "written"

    def as_dict(self) -> dict:
        """The row as its file writes it: the fields it was given."""
        return self.model_dump(mode="json", exclude_unset=True)


def row_from(data: Mapping, taxonomy=None) -> Row:
    """A Row from a mapping; ValueError says what is wrong, in one line (the first problem)."""
    try:
        return Row.model_validate(data, context={"taxonomy": taxonomy})
    except ValidationError as exc:
        raise ValueError(problem(exc)) from None


def problem(exc: ValidationError) -> str:
    """The first error of a validation as one line: where, then what."""
    err = exc.errors()[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def read_rows(path: str | Path, what: str = "rows", taxonomy=None, source: Source | None = None) -> list[Row]:
    """Every row of a JSONL row file, validated; InputFileError names the file and the line of a bad row.
    A row without an id gets `<file stem>-<line>`; `source`: what a row that names none is (a table history)."""
    path = Path(path)
    rows = []
    for number, raw in read_jsonl_objects(path, what):
        defaults = {"id": f"{path.stem}-{number}", **({"source": source} if source else {})}
        try:
            rows.append(row_from({**defaults, **raw}, taxonomy))
        except ValueError as exc:
            raise InputFileError(path, str(exc), number) from None
    return rows


def rows_text(rows: Iterable[Row | Mapping], taxonomy=None) -> str:
    """Rows as JSONL text, one object a line, as row files are written; a mapping is checked as a Row first
    (ValueError)."""
    return "".join(json.dumps((r if isinstance(r, Row) else row_from(r, taxonomy)).as_dict(), ensure_ascii=False)
                   + "\n" for r in rows)


def write_rows(files: Mapping[str | Path, Iterable[Row | Mapping]], taxonomy=None) -> None:
    """Write each row file atomically, all or none (a failure leaves every file as it was)."""
    from clausemap.fileio import write_texts_atomic

    write_texts_atomic({Path(path): rows_text(rows, taxonomy) for path, rows in files.items()})


# --- department names ----------------------------------------------------------------------------

NameSource = Literal["annotation", "correction", "plan", "table", "history"]
PICKED: frozenset[str] = frozenset({"annotation", "correction"})


class UnknownDepartment(ClausemapError):
    """Department names a person picked that the bureau's catalogue does not know (the service answers 422)."""

    def __init__(self, names: Sequence[str], catalogue_id: str):
        super().__init__(f"sections not in the catalogue: {', '.join(f'{name} ({catalogue_id})' for name in names)}")
        self.names = list(names)
        self.catalogue_id = catalogue_id


@dataclass(frozen=True)
class Resolved:
    """Department names resolved through a catalogue: each name as written, with its catalogue name or None."""

    pairs: tuple[tuple[str, str | None], ...]

    @property
    def names(self) -> list[str]:
        """The catalogue names found, in order of first mention, each once."""
        return list(dict.fromkeys(name for _, name in self.pairs if name))

    @property
    def unknown(self) -> list[str]:
        """The names as written that the catalogue does not know, each once."""
        return list(dict.fromkeys(written for written, name in self.pairs if name is None))

    def as_written(self) -> list[str]:
        """Catalogue names where the catalogue knows them, the others as written, each once."""
        return list(dict.fromkeys(name or written for written, name in self.pairs))


def resolve_departments(written: Iterable[str], catalogue, source: NameSource) -> Resolved:
    """Department names in the catalogue's names (name or alias, compared as labels.catalogue.name_key does).

    One policy for a name the catalogue does not know, by where the names come from:
    - "annotation" (Label Studio choices) and "correction" (staff corrections): a person picked them from the
      catalogue's own list, so an unknown name is a mistake or a stale catalogue, never training data:
      UnknownDepartment names every such name (the data build names the task, the service answers 422).
    - "plan" (departments a plan states) and "table" (a breakdown table's 责任科室): a document writes names its own
      way, and may name bodies outside the bureau (区政府, 各学校). A name that is two catalogue names glued
      ("教学处教科室") is split; what stays unknown is returned in `unknown`, never guessed and never an error: data
      keeps only `names` and reports `unknown`, a plan's results show them as written (`as_written`).
    - "history" (past tasks a suggester learns from): checked when they were stored, but perhaps against another
      bureau's catalogue or an older version of this one; treated as a document's names, so an edited catalogue
      never stops a service from starting (a past task naming no known section is not learned from).
    """
    from clausemap.clauses.section_names import split_glued
    from labels.catalogue import name_key

    pairs: list[tuple[str, str | None]] = []
    for name in written:
        found = catalogue.resolve(name)
        if found is None and source not in PICKED:
            known = {name_key(w) for d in catalogue.departments for w in (d.name, *d.aliases)}
            parts = split_glued(name_key(name), known)
            if len(parts) > 1:
                pairs += [(part, catalogue.resolve(part)) for part in parts]
                continue
        pairs.append((name, found))
    resolved = Resolved(tuple(pairs))
    if source in PICKED and resolved.unknown:
        raise UnknownDepartment(resolved.unknown, catalogue.id)
    return resolved
