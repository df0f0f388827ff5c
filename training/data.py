"""Labelled clauses (data/dataset.jsonl rows) as texts and multi-hot label matrices."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clausemap.errors import InputFileError
from labels.rows import Row, read_rows, row_from


# Rows whose `source` is this were written for training (in the style of real plans, or edited from a seed
# clause): they are trained on, never evaluated on, and never tune a threshold.
WRITTEN = "written"


@dataclass(frozen=True)
class Unit:
    """A labelled sentence of a clause: the unit the guideline decides categories on."""

    text: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    id: str
    doc: str
    text: str
    categories: tuple[str, ...]
    source: str = "seed"  # labels.rows.Source
    sentences: tuple[Unit, ...] = ()  # sentence labels, when annotated
    made_from: str | None = None  # a written row edited from this real clause id (a counterfactual)

    @property
    def written(self) -> bool:
        return self.source == WRITTEN

    @property
    def origin_doc(self) -> str | None:
        """The real document a written row was edited from (it must not train a fold that tests that document)."""
        return self.made_from.rsplit("-", 1)[0] if self.made_from else None


def example_from_row(row: Mapping | Row, taxonomy, default_id: str = "") -> Example:
    """One dataset row as an Example, checked by labels.rows.Row's rules against `taxonomy` (a Taxonomy, or
    labels.rows.Labels of a model); ValueError says what is wrong with it."""
    if not isinstance(row, Row):
        row = row_from({"id": default_id, **row} if default_id else row, taxonomy)
    if not row.categories:  # a row may be known by its sections only; a training example needs its categories
        raise ValueError("'categories' must be a non-empty list of category ids")
    return Example(id=row.id, doc=row.doc, text=row.text, categories=tuple(row.categories), source=row.source,
                   sentences=tuple(Unit(s.text, tuple(s.categories)) for s in row.sentences or ()),
                   made_from=row.made_from or None)


def load_examples(path: str | Path, taxonomy) -> list[Example]:
    """Read JSONL rows with at least `text` and `categories` (labels.rows.read_rows: errors name file and line)."""
    examples = [example_from_row(row, taxonomy) for row in read_rows(path, "dataset", taxonomy)]
    if not examples:
        raise InputFileError(path, "no rows")
    return examples


def load_training_examples(path: str | Path, written: str | Path | None, taxonomy) -> list[Example]:
    """The dataset's rows, then the written rows (when the file is given and exists), each marked as such."""
    examples = load_examples(path, taxonomy)
    if written is not None and Path(written).is_file():
        extra = load_examples(written, taxonomy)
        not_marked = [ex.id for ex in extra if not ex.written]
        if not_marked:
            raise InputFileError(written, f"rows not marked source: {WRITTEN!r}: {not_marked[:5]}")
        examples += extra
    return examples


def real_only(examples: list[Example]) -> list[Example]:
    return [ex for ex in examples if not ex.written]


def label_matrix(examples: list[Example], label_ids: list[str]) -> np.ndarray:
    index = {label: i for i, label in enumerate(label_ids)}
    matrix = np.zeros((len(examples), len(label_ids)), dtype=np.float32)
    for row, example in enumerate(examples):
        for cat in example.categories:
            matrix[row, index[cat]] = 1.0
    return matrix


def data_hash(examples: list[Example]) -> str:
    """sha256 of what training sees (ids, texts, labels), independent of file formatting."""
    digest = hashlib.sha256()
    for ex in examples:
        seen = [ex.id, ex.text, list(ex.categories)]
        if ex.sentences:
            seen.append([[u.text, list(u.categories)] for u in ex.sentences])
        digest.update(json.dumps(seen, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def holdout_split(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Seeded split into (train, held-out). Rows are spread over label combinations so rare labels reach both.
    Written rows always train: the held-out rows tune thresholds, which is a kind of evaluation."""
    written = [ex for ex in examples if ex.written]
    examples = real_only(examples)
    if fraction <= 0 or len(examples) < 4:
        return list(examples) + written, []
    rng = np.random.default_rng(seed)
    by_combo: dict[tuple[str, ...], list[int]] = {}
    for i, ex in enumerate(examples):
        by_combo.setdefault(tuple(sorted(ex.categories)), []).append(i)
    held: list[int] = []
    carry = 0.0
    for combo in sorted(by_combo):
        members = by_combo[combo]
        rng.shuffle(members)
        # Carry the fractional part across groups so the total held-out size matches the fraction.
        carry += len(members) * fraction
        take = int(carry)
        carry -= take
        held.extend(members[:take])
    held_set = set(held)
    train = [ex for i, ex in enumerate(examples) if i not in held_set]
    return train + written, [examples[i] for i in sorted(held_set)]


def load_folds(path: str | Path, examples: list[Example]) -> list[tuple[str, list[str]]]:
    """[(fold name, test docs)] from splits.json; without the file, one fold per document."""
    path = Path(path)
    docs = sorted({ex.doc for ex in real_only(examples)})
    if not path.exists():
        return [(doc, [doc]) for doc in docs]
    try:
        folds = json.loads(path.read_text(encoding="utf-8"))["folds"]
        result = [(str(f["name"]), [str(d) for d in f["test_docs"]]) for f in folds]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputFileError(path, f"expected {{\"folds\": [{{\"name\", \"test_docs\"}}]}} ({exc})") from None
    missing = sorted({d for _, test in result for d in test} - set(docs))
    if missing:
        raise InputFileError(path, f"test documents not in the dataset: {missing}")
    return result
