"""What a section's name says it does: 安全科 is safety, 计划财务科 finance, 政教处 moral education.

The lexicon is data (labels/functions.yaml): name parts -> a function with its taxonomy categories and keywords.
A catalogue section that has no categories of its own gets those of the functions its name carries, so a bureau
made from a bare list of section names gets sensible suggestions before it has any history:

    infer("计划财务科").categories   # ("finance",)
    infer("组织人事科").functions    # ("party_building", "teachers")
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clausemap.errors import InputFileError
from clausemap.fileio import read_yaml

FUNCTIONS_FILE = Path(__file__).with_name("functions.yaml")
FALLBACK_CATEGORY = "other"  # a section whose name carries no category
TO_FILL = "(待补充)"  # the responsibility of a section listed by name only, as `catalogue init` writes it


class Function(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    parts: tuple[str, ...] = Field(min_length=1)
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


class Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    functions: tuple[Function, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Inferred:
    """What a name says: its functions (in the order the name writes them), their categories and keywords."""

    functions: tuple[str, ...]
    categories: tuple[str, ...]
    keywords: tuple[str, ...]


@lru_cache(maxsize=4)
def load_lexicon(path: str | Path = FUNCTIONS_FILE) -> Lexicon:
    raw = read_yaml(path, "function lexicon")
    try:
        return Lexicon.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputFileError(path, f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def infer(name: str, lexicon: Lexicon | None = None) -> Inferred:
    """The functions a section name carries. Longer parts win over shorter ones inside them (机关党委 over 党委);
    the specific categories come in the order the name writes its functions, "other" when there is none."""
    lexicon = lexicon or load_lexicon()
    key = "".join(unicodedata.normalize("NFKC", name).split())
    found = sorted(((key.find(part), part, function) for function in lexicon.functions for part in function.parts
                    if part in key), key=lambda hit: (-len(hit[1]), hit[0]))
    taken: list[tuple[int, int, Function]] = []
    for start, part, function in found:
        end = start + len(part)
        if not any(start < e and s < end for s, e, _ in taken):
            taken.append((start, end, function))
    functions = [function for _, _, function in sorted(taken, key=lambda t: t[0])]
    specific = _unique(c for f in functions for c in f.categories if c != FALLBACK_CATEGORY)
    return Inferred(
        functions=_unique(f.id for f in functions),
        categories=specific or (FALLBACK_CATEGORY,),
        keywords=_unique(k for f in functions for k in f.keywords),
    )


def with_inferred(department):
    """A catalogue entry as written (a mapping, or just a name), with what its name says where the entry has no
    categories: the categories and keywords; an entry that is only a name also gets a responsibility to fill in.
    Anything written is kept."""
    if isinstance(department, str):
        department = {"name": department}
    if not isinstance(department, dict) or not isinstance(department.get("name"), str):
        return department  # the catalogue's own validation names what is wrong
    if department.get("categories"):
        return department
    inferred = infer(department["name"])
    filled = {**department, "categories": list(inferred.categories)}
    filled.setdefault("keywords", list(inferred.keywords))
    if "responsibility" not in department and set(department) <= {"name", "aliases"}:
        filled["responsibility"] = TO_FILL  # listed by name only; a written entry still needs its own line
    return filled


def _unique(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
