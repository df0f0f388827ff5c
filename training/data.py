"""Labelled clauses (data/dataset.jsonl rows) as texts and multi-hot label matrices."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clausemap.errors import InputFileError
from clausemap.fileio import read_jsonl_objects


@dataclass(frozen=True)
class Example:
    id: str
    doc: str
    text: str
    categories: tuple[str, ...]


def load_examples(path: str | Path, label_ids: list[str]) -> list[Example]:
    """Read JSONL rows with at least `text` and `categories` (ids among `label_ids`)."""
    known = set(label_ids)
    examples = []
    for number, row in read_jsonl_objects(path, "dataset"):
        text, cats = row.get("text"), row.get("categories")
        if not isinstance(text, str) or not text.strip():
            raise InputFileError(path, "missing or empty 'text'", number)
        if not isinstance(cats, list) or not cats or not all(isinstance(c, str) for c in cats):
            raise InputFileError(path, "'categories' must be a non-empty list of category ids", number)
        unknown = [c for c in cats if c not in known]
        if unknown:
            raise InputFileError(path, f"unknown categories {unknown}; the model knows {label_ids}", number)
        examples.append(Example(id=str(row.get("id", f"{Path(path).stem}-{number}")), doc=str(row.get("doc", "")),
                                text=text, categories=tuple(dict.fromkeys(cats))))
    if not examples:
        raise InputFileError(path, "no rows")
    return examples


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
        digest.update(json.dumps([ex.id, ex.text, list(ex.categories)], ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def holdout_split(examples: list[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Seeded split into (train, held-out). Rows are spread over label combinations so rare labels reach both."""
    if fraction <= 0 or len(examples) < 4:
        return list(examples), []
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
    return train, [examples[i] for i in sorted(held_set)]


def load_folds(path: str | Path, examples: list[Example]) -> list[tuple[str, list[str]]]:
    """[(fold name, test docs)] from splits.json; without the file, one fold per document."""
    path = Path(path)
    docs = sorted({ex.doc for ex in examples})
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
