"""Department catalogues: the sections (科室) of one bureau, how plans write their names, and what they own.

One file per bureau, `<id>.yaml`, in the catalogues folder (CLAUSEMAP_CATALOGUES, default labels/catalogues/, which
ships 承德市教育局 as chengde.yaml). `find_catalogue()` takes a file path or an id; `clausemap catalogue init` writes
a new bureau's file from its breakdown tables (labels.catalogue_init).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import read_yaml
from labels.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

SHIPPED_CATALOGUES = Path(__file__).with_name("catalogues")
# A catalogue id: its file name in the catalogue folders, and what requests name a bureau by.
CATALOGUE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
CATALOGUE_ID_MAX_LENGTH = 64  # well under any file system's name limit, with ".yaml" and a temporary suffix
BUREAU_NAME_MAX_LENGTH = 100
DEFAULT_CATALOGUE = SHIPPED_CATALOGUES / "chengde.yaml"
_CATALOGUE_ID = re.compile(r"[A-Za-z0-9_-]+")  # CATALOGUE_ID_PATTERN, for fullmatch ("$" lets a final "\n" through)


class CatalogueIdError(ClausemapError):
    """A catalogue id that is not letters, digits, '-' or '_', or is too long."""


class UnknownCatalogue(ClausemapError):
    """No catalogue of that id in the catalogue folders."""


class CatalogueUnavailable(ClausemapError):
    """A bureau's catalogue file is there but cannot be read or is invalid: the service's state, not the request,
    is at fault; the other bureaus are unaffected."""

    http_status = 503


def check_catalogue_id(catalogue_id: str) -> str:
    """The id, when it can name a catalogue file: CATALOGUE_ID_PATTERN, at most CATALOGUE_ID_MAX_LENGTH characters.
    Checked before any path is built from it."""
    if len(catalogue_id) > CATALOGUE_ID_MAX_LENGTH:
        raise CatalogueIdError(f"catalogue id {catalogue_id[:20]!r}… has {len(catalogue_id)} characters, over the "
                               f"limit of {CATALOGUE_ID_MAX_LENGTH}")
    if not _CATALOGUE_ID.fullmatch(catalogue_id):
        raise CatalogueIdError(f"catalogue id {catalogue_id!r}: use letters, digits, '-' or '_'")
    return catalogue_id


def catalogue_dirs() -> list[Path]:
    """Where catalogues are looked up by id: CLAUSEMAP_CATALOGUES (where new bureaus are written), then the
    shipped folder."""
    from clausemap.paths import catalogues_dir

    return list(dict.fromkeys([catalogues_dir(), SHIPPED_CATALOGUES]))


def name_key(name: str) -> str:
    """The form names are compared in: NFKC folds full-width parentheses and letters; spaces are dropped."""
    return "".join(unicodedata.normalize("NFKC", name).split())


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    responsibility: str = Field(min_length=1)
    categories: tuple[str, ...] = Field(min_length=1)
    keywords: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _what_the_name_says(cls, data):
        """A section listed by name only (or without categories) gets the categories and keywords its name
        carries (labels/functions.yaml: 安全科 → safety)."""
        from labels.functions import with_inferred

        return with_inferred(data)

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, ids: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        taxonomy: Taxonomy | None = (info.context or {}).get("taxonomy")
        if taxonomy is not None:
            unknown = [c for c in ids if c not in taxonomy.ids]
            if unknown:
                raise ValueError(f"unknown category {unknown[0]!r}; the taxonomy has {', '.join(taxonomy.ids)}")
        return ids


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=CATALOGUE_ID_PATTERN, max_length=CATALOGUE_ID_MAX_LENGTH)
    bureau: str = Field(min_length=1, max_length=BUREAU_NAME_MAX_LENGTH)
    plans: dict[str, str] = {}
    departments: tuple[Department, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Catalogue:
        seen: dict[str, str] = {}
        for dept in self.departments:
            for written in (dept.name, *dept.aliases):
                key = name_key(written)
                if key in seen and seen[key] != dept.name:
                    raise ValueError(f"name {written!r} is used by both {seen[key]} and {dept.name}")
                seen[key] = dept.name
        return self

    @property
    def names(self) -> list[str]:
        """The normalised department names, in file order."""
        return [d.name for d in self.departments]

    @cached_property
    def _by_key(self) -> dict[str, str]:
        return {name_key(w): d.name for d in self.departments for w in (d.name, *d.aliases)}

    def resolve(self, written: str) -> str | None:
        """The normalised name for a department as a plan writes it (name or alias), or None if unknown."""
        return self._by_key.get(name_key(written))

    def get(self, name: str) -> Department:
        for dept in self.departments:
            if dept.name == name:
                return dept
        raise KeyError(name)

    def owners_of(self, category_id: str) -> list[str]:
        """Departments that usually own a category, those that lead it (list it first) before the others."""
        leads = [d.name for d in self.departments if d.categories[0] == category_id]
        return leads + [d.name for d in self.departments if category_id in d.categories[1:]]

    def plan_title(self, doc: str) -> str:
        """How evidence names a plan: its title from `plans`, else the document id."""
        return self.plans.get(doc, doc)


def load_catalogue(path: str | Path | None = None, taxonomy: Taxonomy | None = None) -> Catalogue:
    """Read and validate a catalogue file; errors name the file and the offending key."""
    if taxonomy is None:
        return _load(str(path or DEFAULT_CATALOGUE))
    return _validate(str(path or DEFAULT_CATALOGUE), taxonomy)


def find_catalogue(ref: str | Path | None = None) -> Catalogue:
    """A catalogue named by its id or by a file path; None: the default. A string with no '/' and no .yaml/.yml
    suffix is an id, looked up in the catalogue folders only: a file of that name elsewhere (the working
    directory) is never opened."""
    if ref is None:
        return load_catalogue()
    if isinstance(ref, str) and "/" not in ref and Path(ref).suffix not in (".yaml", ".yml"):
        return catalogue_by_id(ref)
    return load_catalogue(ref)


def catalogue_by_id(catalogue_id: str) -> Catalogue:
    """The catalogue `<id>.yaml` of the catalogue folders. CatalogueIdError: not an id; UnknownCatalogue: no such
    file; CatalogueUnavailable: the file is there but unreadable or invalid (the reason names the file)."""
    path = catalogue_path(catalogue_id)
    if path is None:
        known = catalogue_ids()
        shown = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
        raise UnknownCatalogue(f"no department catalogue {catalogue_id!r}: give a file path or one of: {shown}")
    try:
        catalogue = load_catalogue(path)
    except InputFileError as exc:
        raise CatalogueUnavailable(f"catalogue {catalogue_id!r} is unavailable: {exc}") from None
    if catalogue.id != catalogue_id:  # else one file could stand in for another bureau
        raise CatalogueUnavailable(f"catalogue {catalogue_id!r} is unavailable: {path}: its id is "
                                   f"{catalogue.id!r}, not its file's name")
    return catalogue


def catalogue_path(catalogue_id: str) -> Path | None:
    """The file of the catalogue with this id (the configured folder wins over the shipped one)."""
    check_catalogue_id(catalogue_id)
    for folder in catalogue_dirs():
        path = folder / f"{catalogue_id}.yaml"
        if path.is_file():
            return path
    return None


def catalogue_ids() -> list[str]:
    """The ids of every catalogue in the catalogue folders, sorted (file names that are no id are left out)."""
    return sorted({p.stem for folder in catalogue_dirs() if folder.is_dir() for p in folder.glob("*.yaml")
                   if len(p.stem) <= CATALOGUE_ID_MAX_LENGTH and _CATALOGUE_ID.fullmatch(p.stem)})


def available_catalogues() -> tuple[list[Catalogue], dict[str, str]]:
    """Every catalogue of the catalogue folders that reads, by id; and id -> why, for those that do not (each is
    logged once): one broken file makes its bureau unavailable, never the others."""
    found, broken = [], {}
    for catalogue_id in catalogue_ids():
        try:
            found.append(catalogue_by_id(catalogue_id))
        except ClausemapError as exc:  # unavailable, or removed since it was listed
            broken[catalogue_id] = str(exc)
    return found, broken


def catalogue_text(catalogue: Catalogue, header: str = "") -> str:
    """A catalogue as YAML (comment `header` on top); it reads back as the same catalogue."""
    import yaml

    data = catalogue.model_dump(mode="json")
    data["departments"] = [{k: v for k, v in d.items() if v or k in ("aliases",)} for d in data["departments"]]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + text


def save_catalogue(catalogue: Catalogue, path: Path, header: str = "", new: bool = False) -> Path:
    """Write a catalogue file atomically (a reader sees the old file or the new one, never half of one). `new`:
    only if no file is there yet (FileExistsError otherwise, also against another process)."""
    from clausemap.fileio import write_text_atomic

    try:
        write_text_atomic(path, catalogue_text(catalogue, header), exclusive=new)
    except FileExistsError:
        raise
    except OSError as exc:
        raise InputFileError(path, f"cannot write the catalogue: {exc.strerror}") from None
    with _cache_lock:
        _cache.pop(str(path), None)
    return path


# Catalogue files read so far, by path: each is read once per process, so a listing never re-reads them (ids
# resolve only to files in the catalogue folders, whose number create_bureau caps). save_catalogue updates its
# entry; a file edited by hand counts after a restart, except a broken one, which is read again once it changes.
_cache: dict[str, Catalogue | tuple[int, InputFileError]] = {}  # path -> catalogue, or (file's mtime, why not)
_cache_lock = threading.Lock()


def _load(path: str) -> Catalogue:
    with _cache_lock:
        known = _cache.get(path)
    if isinstance(known, Catalogue):
        return known
    stamp = _mtime(path)
    if known is None or known[0] != stamp:
        try:
            known = _validate(path, load_taxonomy())
        except InputFileError as exc:
            log.warning("department catalogue unavailable: %s", exc)  # once per version of the file
            known = (stamp, exc)
        with _cache_lock:
            _cache[path] = known
        if isinstance(known, Catalogue):
            return known
    error = known[1]
    raise InputFileError(error.path, error.reason, error.line)


def _mtime(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return -1


def _validate(path: str, taxonomy: Taxonomy) -> Catalogue:
    raw = read_yaml(path, "department catalogue")
    if not isinstance(raw, dict):
        raise InputFileError(path, "a department catalogue must be a mapping with id, bureau and departments")
    try:
        return Catalogue.model_validate(raw, context={"taxonomy": taxonomy})
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        raise InputFileError(path, f"{_key_path(raw, err['loc'])}: {message}") from None


def _key_path(raw: dict, loc: tuple) -> str:
    """'departments[3] (规划财务科).categories[0]' — the list index plus the department's name, when it has one."""
    parts: list[str] = []
    node = raw
    for step in loc:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                parts[-1] += f" ({node['name']})"
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"
