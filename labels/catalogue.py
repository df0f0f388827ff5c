"""Department catalogues: the sections (科室) of one bureau, how plans write their names, and what they own.

One file per bureau, `<id>.yaml`, in the catalogues folder (CLAUSEMAP_CATALOGUES, default labels/catalogues/, which
ships 承德市教育局 as chengde.yaml). `find_catalogue()` takes a file path or an id; `clausemap catalogue init` writes
a new bureau's file from its breakdown tables (labels.catalogue_init).
"""

from __future__ import annotations

import unicodedata
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import read_yaml
from labels.taxonomy import Taxonomy, load_taxonomy

SHIPPED_CATALOGUES = Path(__file__).with_name("catalogues")
# A catalogue id: its file name in the catalogue folders, and what requests name a bureau by.
CATALOGUE_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
DEFAULT_CATALOGUE = SHIPPED_CATALOGUES / "chengde.yaml"


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

    id: str = Field(pattern=CATALOGUE_ID_PATTERN)
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
    """A catalogue named by a path, or by the id of a `<id>.yaml` in the catalogue folders; None: the default."""
    if ref is None or Path(ref).is_file() or Path(ref).suffix in (".yaml", ".yml") or "/" in str(ref):
        return load_catalogue(ref)
    path = catalogue_path(str(ref))
    if path is None:
        raise ClausemapError(f"no department catalogue {str(ref)!r}: give a file path or one of: "
                             f"{', '.join(catalogue_ids())}")
    return load_catalogue(path)


def catalogue_path(catalogue_id: str) -> Path | None:
    """The file of the catalogue with this id (the configured folder wins over the shipped one)."""
    for folder in catalogue_dirs():
        path = folder / f"{catalogue_id}.yaml"
        if path.is_file():
            return path
    return None


def catalogue_ids() -> list[str]:
    """The ids of every catalogue in the catalogue folders, sorted."""
    return sorted({p.stem for folder in catalogue_dirs() if folder.is_dir() for p in folder.glob("*.yaml")})


def save_catalogue(catalogue: Catalogue, path: Path, header: str = "") -> Path:
    """Write a catalogue as YAML (comment `header` on top); it reads back as the same catalogue."""
    import yaml

    data = catalogue.model_dump(mode="json")
    data["departments"] = [{k: v for k, v in d.items() if v or k in ("aliases",)} for d in data["departments"]]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(comment + text, encoding="utf-8")
    except OSError as exc:
        raise InputFileError(path, f"cannot write the catalogue: {exc.strerror}") from None
    _load.cache_clear()
    return path


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
