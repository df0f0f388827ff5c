"""Load the category taxonomy (labels/taxonomy.yaml), the one list every stage reads."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from clausemap.errors import InputFileError
from clausemap.fileio import read_yaml

DEFAULT_TAXONOMY = Path(__file__).with_name("taxonomy.yaml")


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    description: str
    fallback: bool = False

    @field_validator("id")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"category id {value!r} must be a plain identifier")
        return value


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: tuple[Category, ...]

    @field_validator("categories")
    @classmethod
    def _valid_set(cls, cats: tuple[Category, ...]) -> tuple[Category, ...]:
        ids = [c.id for c in cats]
        if len(set(ids)) != len(ids):
            raise ValueError("category ids must be unique")
        if sum(c.fallback for c in cats) != 1:
            raise ValueError("exactly one category must be marked fallback: true")
        return cats

    @property
    def ids(self) -> list[str]:
        """All category ids, in file order (this is the training label order)."""
        return [c.id for c in self.categories]

    @property
    def fallback_id(self) -> str:
        """The id given when none of the others applies ('other')."""
        return next(c.id for c in self.categories if c.fallback)

    @property
    def specific_ids(self) -> list[str]:
        """Every id except the fallback."""
        return [c.id for c in self.categories if not c.fallback]

    def get(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def name_of(self, category_id: str) -> str:
        return self.get(category_id).name

    def save(self, path: str | Path) -> None:
        """Write it as a taxonomy file (a model artifact ships the one it was trained on)."""
        import yaml

        body = yaml.safe_dump({"categories": [c.model_dump(exclude_defaults=True) for c in self.categories]},
                              allow_unicode=True, sort_keys=False, width=110)
        Path(path).write_text("# The taxonomy this model was trained on (copied from the training config's).\n" + body,
                              encoding="utf-8")


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy file; errors name the file and the offending key."""
    return _load(str(path or DEFAULT_TAXONOMY))


@lru_cache(maxsize=8)
def _load(path: str) -> Taxonomy:
    raw = read_yaml(path, "taxonomy")
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise InputFileError(path, f"{key}: {err['msg']}") from None
