"""Department catalogues: the sections (科室) of one bureau, how plans write their names, and what they own.

`load_catalogue()` reads labels/departments.yaml (承德市教育局); another bureau's file in the same format is
loaded by path, or by its `id` when it lies next to the shipped one as labels/departments*.yaml.
"""

from __future__ import annotations

import unicodedata
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import read_yaml
from labels.taxonomy import Taxonomy, load_taxonomy

DEFAULT_CATALOGUE = Path(__file__).with_name("departments.yaml")


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

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    bureau: str = Field(min_length=1)
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
    """A catalogue named by a path, or by the `id` of a shipped labels/departments*.yaml; None: the default."""
    if ref is None or Path(ref).is_file() or Path(ref).suffix in (".yaml", ".yml") or "/" in str(ref):
        return load_catalogue(ref)
    for path in sorted(DEFAULT_CATALOGUE.parent.glob("departments*.yaml")):
        catalogue = load_catalogue(path)
        if catalogue.id == str(ref):
            return catalogue
    known = ", ".join(shipped_catalogue_ids())
    raise ClausemapError(f"no department catalogue {str(ref)!r}: give a file path or one of: {known}")


def shipped_catalogue_ids() -> list[str]:
    return [load_catalogue(p).id for p in sorted(DEFAULT_CATALOGUE.parent.glob("departments*.yaml"))]


@lru_cache(maxsize=16)
def _load(path: str) -> Catalogue:
    return _validate(path, load_taxonomy())


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
