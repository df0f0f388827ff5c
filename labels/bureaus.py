"""Each bureau's own history: the tasks of its breakdown tables, with the sections that owned them.

A bureau is its catalogue (labels/catalogues/<id>.yaml). Its history is
- the rows of its breakdown tables, kept in <CLAUSEMAP_BUREAU_HISTORY>/<id>.jsonl (`clausemap history add`), and
- the annotated dataset rows of its own plans: rows marked `bureau: <id>`, or rows of a document the catalogue
  lists under `plans` (承德's seed 000).
The department suggester of a catalogue learns from that history only, so one bureau's habits never leak into
another's suggestions (`belongs`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from clausemap.clauses.tables import TableItem
from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import write_text_atomic
from clausemap.paths import bureau_history_dir, catalogues_dir
from labels.catalogue import BUREAU_NAME_MAX_LENGTH, Catalogue
from labels.rows import lead_first, read_rows, resolve_departments, row_from, rows_text

log = logging.getLogger(__name__)
# Held from the last check that an id is free to the catalogue's creation, so a process's concurrent creations
# are counted against the bureau limit one at a time (another process is kept out by the exclusive write).
_creating = threading.Lock()


class CatalogueExists(ClausemapError):
    """A new bureau's catalogue id is taken."""

    http_status = 409


class TooManyBureaus(ClausemapError):
    """The catalogue folders hold as many bureaus as allowed."""

    http_status = 409


def belongs(row: Mapping, catalogue: Catalogue, default: bool = False, owners: Mapping[str, str] | None = None
            ) -> bool:
    """Whether an annotated row is this bureau's: it says so, or it comes from one of the catalogue's plans. A row
    of no known bureau (no `bureau`, a document no catalogue lists) counts for the `default` catalogue only.
    `owners`: plan_owners(), when the caller asks about many rows."""
    owners = plan_owners() if owners is None else owners
    owner = row.get("bureau") or owners.get(str(row.get("doc")))
    if owner is None and row.get("doc") in catalogue.plans:
        owner = catalogue.id  # a catalogue given by path, outside the catalogue folders (a contested plan is "")
    return owner == catalogue.id if owner else default


def plan_owners() -> dict[str, str]:
    """document id -> the id of the catalogue that lists it under `plans`, over every catalogue that reads. A plan
    two catalogues claim is neither's ("": its rows count for the default catalogue only): no catalogue can take
    another's history by naming its plans. Catalogues made from uploads list no plans (their rows carry their id)."""
    from labels.catalogue import available_catalogues

    claims: dict[str, set[str]] = {}
    for catalogue in available_catalogues()[0]:
        for doc in catalogue.plans:
            claims.setdefault(doc, set()).add(catalogue.id)
    contested = {doc: ids for doc, ids in claims.items() if len(ids) > 1}
    warning = "; ".join(f"{doc} ({', '.join(sorted(ids))})" for doc, ids in sorted(contested.items()))
    if warning and warning not in _warned:
        _warned.add(warning)
        log.warning("plans listed by several catalogues belong to none of them: %s", warning)
    return {doc: next(iter(ids)) if len(ids) == 1 else "" for doc, ids in claims.items()}


_warned: set[str] = set()  # contested plans already logged


def history_path(catalogue_id: str) -> Path:
    return bureau_history_dir() / f"{catalogue_id}.jsonl"


def history_version(catalogue_id: str) -> float | None:
    """When the bureau's history file last changed (None: it has none), so a service refits after `history add`."""
    path = history_path(catalogue_id)
    return path.stat().st_mtime if path.is_file() else None


def read_history(catalogue_id: str) -> list[dict]:
    """The rows `history add` stored for a bureau ([] when it has none yet)."""
    path = history_path(catalogue_id)
    if not path.is_file():
        return []
    return [row.as_dict() for row in read_rows(path, "bureau history", source="table")]


@dataclass
class Added:
    """What adding tables to a bureau's history did."""

    added: int = 0  # new tasks
    replaced: int = 0  # tasks whose text was there already (the newer table wins)
    skipped: int = 0  # tasks naming no section of the catalogue
    unknown: list[str] = field(default_factory=list)  # section names the catalogue does not know


def task_rows(catalogue: Catalogue, items: Iterable[TableItem]) -> tuple[list[dict], Added]:
    """Table tasks as history rows: sections in the catalogue's names, lead first; unknown names reported."""
    rows, report = [], Added()
    for item in items:
        named = resolve_departments(item.departments, catalogue, "table")
        report.unknown += [w for w in named.unknown if w not in report.unknown]
        departments = named.names
        lead = resolve_departments(item.lead_departments, catalogue, "table").names
        if not departments:
            report.skipped += 1
            continue
        rows.append(row_from({
            "id": f"{catalogue.id}:{item.id}", "doc": item.doc, "number": item.number, "section": item.section,
            "text": item.text, "departments": lead_first(lead, departments),
            "lead_departments": lead or departments[:1], "deadline": item.deadline, "bureau": catalogue.id,
            "source": "table",
        }).as_dict())
    return rows, report


def add_history(catalogue: Catalogue, items: Iterable[TableItem]) -> Added:
    """Add table tasks to the bureau's history file; a task already there (same text) is replaced."""
    new, report = task_rows(catalogue, items)
    kept = {row["text"]: row for row in read_history(catalogue.id)}
    for row in new:
        if row["text"] in kept:
            report.replaced += 1
        else:
            report.added += 1
        kept[row["text"]] = row
    path = history_path(catalogue.id)
    try:  # all or nothing: a crash mid-write never leaves half a history
        write_text_atomic(path, rows_text(kept.values()))
    except OSError as exc:
        raise InputFileError(path, f"cannot write the history: {exc.strerror}") from None
    return report


def bureau_id(bureau: str) -> str:
    """A stable id for a bureau name that has no Latin letters: "bureau-" and a short hash of the name."""
    return "bureau-" + hashlib.sha1(bureau.strip().encode("utf-8")).hexdigest()[:8]


def check_bureau_name(bureau: str) -> str:
    """The bureau's name, stripped: one line of at most BUREAU_NAME_MAX_LENGTH characters."""
    bureau = bureau.strip()
    if not bureau:
        raise ClausemapError("the bureau needs a name")
    if len(bureau) > BUREAU_NAME_MAX_LENGTH:
        raise ClausemapError(f"the bureau's name has {len(bureau)} characters, over the limit of "
                             f"{BUREAU_NAME_MAX_LENGTH}")
    if any(unicodedata.category(c).startswith("C") for c in bureau):
        raise ClausemapError("the bureau's name must be one line of text, without control characters")
    return bureau


def create_bureau(tables, bureau: str, catalogue_id: str | None, categorise, output: Path | None = None,
                  force: bool = False, keep_history: bool = True, max_bureaus: int | None = None):
    """Write the catalogue made from `tables` (and keep them as its history); returns (catalogue, path, added).

    Everything is checked before anything is written, and the id is claimed by creating its file exclusively: of
    concurrent creations of one id (threads or processes) exactly one succeeds, the others get CatalogueExists.
    max_bureaus: refuse (TooManyBureaus) when the catalogue folders hold that many catalogues."""
    from labels.catalogue import save_catalogue
    from labels.catalogue_init import init_catalogue

    bureau, catalogue_id, path = check_new_bureau(bureau, catalogue_id, max_bureaus, output, force)
    try:
        catalogue = init_catalogue(tables, bureau, catalogue_id, categorise)
    except ValueError as exc:
        raise ClausemapError(f"{', '.join(t.source for t in tables)}: {exc}") from None
    header = (f"Catalogue of {catalogue.bureau}, made by `clausemap catalogue init` from "
              f"{', '.join(t.source for t in tables)}.\nCheck the names, merge or split sections, and edit each "
              "responsibility line and its categories (labels/taxonomy.yaml ids, the one it leads first).")
    with _creating:
        if not force:
            _check_free(catalogue_id, path, max_bureaus)  # again: a creation may have finished meanwhile
        try:
            save_catalogue(catalogue, path, header, new=not force)
        except FileExistsError:
            raise CatalogueExists(f"catalogue {catalogue_id!r} exists ({path}); choose another id") from None
    added = add_history(catalogue, [i for t in tables for i in t.items]) if keep_history else None
    return catalogue, path, added


def check_new_bureau(bureau: str, catalogue_id: str | None, max_bureaus: int | None = None,
                     output: Path | None = None, force: bool = False) -> tuple[str, str, Path]:
    """(name, id, catalogue file) of a new bureau, once the name and id are valid and (unless `force`) the id is
    free and the bureau limit allows another: cheap checks, before its tables are read or classified."""
    from labels.catalogue import check_catalogue_id

    bureau = check_bureau_name(bureau)
    catalogue_id = check_catalogue_id(catalogue_id or bureau_id(bureau))
    path = output or catalogues_dir() / f"{catalogue_id}.yaml"
    if not force:
        _check_free(catalogue_id, path, max_bureaus)
    return bureau, catalogue_id, path


def _check_free(catalogue_id: str, path: Path, max_bureaus: int | None) -> None:
    from labels.catalogue import catalogue_ids, catalogue_path

    existing = catalogue_path(catalogue_id)
    if path.exists() or existing is not None:
        raise CatalogueExists(f"catalogue {catalogue_id!r} exists ({existing or path}); choose another id or --force")
    if max_bureaus is not None and len(catalogue_ids()) >= max_bureaus:
        raise TooManyBureaus(f"the service has {max_bureaus} bureaus, its limit (CLAUSEMAP_MAX_BUREAUS); remove one "
                             "or raise the limit")
