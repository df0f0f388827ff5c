"""Suggest the sections (科室) responsible for a clause, each with the evidence behind it.

Four signals, each in [0, 1] per department, are summed with weights (`SuggesterWeights`):
- similar:  the departments of the most similar annotated past clauses (kNN over text embeddings);
- category: the clause's category scores times the catalogue's ownership (the lead owner counts fully);
- keyword:  the catalogue's keywords and responsibility terms found in the clause;
- prior:    how often the department is named at all in the annotated history.
The history signals count in proportion n / (n + 100) for n annotated past clauses, so with no history only
the catalogue signals (category, keyword) remain: a bureau that has only a catalogue still gets suggestions.
The lead is chosen by who leads the similar past clauses, owns the clause's category first, or is mentioned.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clausemap.errors import InputFileError
from clausemap.fileio import read_jsonl_objects
from labels.catalogue import Catalogue

Embed = Callable[[Sequence[str]], "np.ndarray"]

# A department's lead-owned category (listed first) counts fully, a category it also owns counts this much.
COOWNER_WEIGHT = 0.5
# Responsibility lines are split into terms at these separators; shorter terms are too vague to match on.
_TERM_SPLIT = re.compile(r"[、，,；;/（）()\s]+")
_MIN_TERM_CHARS = 2


@dataclass(frozen=True)
class DepartmentSuggestion:
    name: str
    score: float
    lead: bool
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SuggesterWeights:
    similar: float = 1.0
    category: float = 0.6
    keyword: float = 0.5
    prior: float = 0.15
    neighbours: int = 5  # past clauses whose departments vote
    # History signals (similar, prior) count in proportion n / (n + history_half) for n annotated past clauses:
    # a few dozen items of one plan say less than a catalogue written for the bureau; hundreds say more.
    history_half: int = 100
    max_suggestions: int | None = None  # None: every department with a positive score


@dataclass(frozen=True)
class HistoryItem:
    """One past clause with annotated departments (catalogue names, lead first)."""

    id: str
    doc: str
    number: str
    text: str
    departments: tuple[str, ...]
    lead: str

    @classmethod
    def from_row(cls, row: Mapping, catalogue: Catalogue) -> HistoryItem | None:
        """A dataset row as history; None when none of its departments is in this catalogue."""
        names = _unique(catalogue.resolve(n) for n in row.get("departments") or [])
        if not names:
            return None
        leads = _unique(catalogue.resolve(n) for n in row.get("lead_departments") or [])
        return cls(
            id=str(row.get("id", "")),
            doc=str(row.get("doc", "")),
            number=str(row.get("number", "")),
            text=str(row["text"]),
            departments=tuple(names),
            lead=leads[0] if leads else names[0],
        )


class CharNgramEmbedder:
    """Embeddings for when no encoder is at hand: TF-IDF over character 1–3-grams, fitted on the history."""

    def __init__(self, texts: Sequence[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self._vectorizer.fit(list(texts))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectorizer.transform(list(texts)).toarray().astype(np.float32)


class DepartmentSuggester:
    """Ranks a catalogue's departments for clauses. `fit(rows)` on annotated history, then `suggest(texts)`."""

    def __init__(self, catalogue: Catalogue, embed: Embed | None = None, weights: SuggesterWeights | None = None):
        self.catalogue = catalogue
        self.weights = weights or SuggesterWeights()
        self._embed = embed
        self._names = catalogue.names
        self._index = {n: i for i, n in enumerate(self._names)}
        self._terms = [_department_terms(d) for d in catalogue.departments]
        # A category many departments lead ("other") says less about each of them.
        leaders = Counter(d.categories[0] for d in catalogue.departments)
        self._specificity = defaultdict(lambda: 1.0, {c: 1 / math.sqrt(k) for c, k in leaders.items()})
        self.history: list[HistoryItem] = []
        self._history_vectors = np.zeros((0, 0), dtype=np.float32)
        self._named = np.zeros(len(self._names), dtype=int)  # history items naming each department
        self._prior = np.zeros(len(self._names))  # ... as a share of the history
        self._embedder: Embed | None = embed

    def fit(self, rows: Iterable[Mapping], embeddings: np.ndarray | None = None) -> DepartmentSuggester:
        """Learn from annotated rows (dataset rows with `departments`); rows without any are skipped.

        `embeddings` (one per row, in order) saves re-embedding when the caller has them already.
        """
        rows = list(rows)
        items = [HistoryItem.from_row(r, self.catalogue) for r in rows]
        keep = [i for i, item in enumerate(items) if item is not None]
        self.history = [items[i] for i in keep]
        self._named = np.zeros(len(self._names), dtype=int)
        for item in self.history:
            for name in item.departments:
                self._named[self._index[name]] += 1
        self._prior = self._named / max(len(self.history), 1)
        if not self.history:
            self._history_vectors = np.zeros((0, 0), dtype=np.float32)
            return self
        if self._embed is None:
            self._embedder = CharNgramEmbedder([h.text for h in self.history])
            vectors = self._embedder([h.text for h in self.history])
        elif embeddings is not None:
            vectors = np.asarray(embeddings, dtype=np.float32)[keep]
        else:
            vectors = np.asarray(self._embed([h.text for h in self.history]), dtype=np.float32)
        self._history_vectors = _unit_rows(vectors)
        return self

    def suggest(
        self,
        texts: Sequence[str],
        category_scores: Sequence[Mapping[str, float] | None] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> list[list[DepartmentSuggestion]]:
        """Ranked suggestions per text, best first; exactly one is marked lead when any is given.

        `category_scores`: per text, category id -> probability (predicted or annotated); None skips that signal.
        `embeddings`: the texts' vectors from the same `embed` the suggester was fitted with.
        """
        texts = list(texts)
        category_scores = list(category_scores) if category_scores is not None else [None] * len(texts)
        if len(category_scores) != len(texts):
            raise ValueError("category_scores must have one entry per text")
        neighbours = self._neighbours(texts, embeddings)
        return [
            self._rank(text, scores, near) for text, scores, near in zip(texts, category_scores, neighbours, strict=True)
        ]

    # --- signals -------------------------------------------------------------------------------------------

    def _neighbours(self, texts: list[str], embeddings: np.ndarray | None) -> list[list[tuple[HistoryItem, float]]]:
        """The most similar history items per text, with their share of the vote (summing to 1)."""
        if not self.history or not texts:
            return [[] for _ in texts]
        if embeddings is None or self._embed is None:
            embeddings = self._embedder(texts)
        sims = _unit_rows(np.asarray(embeddings, dtype=np.float32)) @ self._history_vectors.T
        k = min(self.weights.neighbours, len(self.history))
        result = []
        for row in sims:
            top = [j for j in np.argsort(-row)[:k] if row[j] > 0]
            total = float(sum(row[j] for j in top))
            result.append([(self.history[j], float(row[j]) / total) for j in top] if total > 0 else [])
        return result

    def _rank(
        self, text: str, category_scores: Mapping[str, float] | None, near: list[tuple[HistoryItem, float]]
    ) -> list[DepartmentSuggestion]:
        w = self.weights
        n = len(self._names)
        trust = len(self.history) / (len(self.history) + w.history_half)
        similar = self._similar_signal(near)
        category = self._category_signal(category_scores)
        keyword = self._keyword_signal(text)
        prior = Signal(self._prior, np.zeros(n), [f"named on {k} of {len(self.history)} past items" for k in self._named])
        weighted = [
            (w.similar * trust, similar),
            (w.category * (category_scores is not None), category),
            (w.keyword, keyword),
            (w.prior * trust, prior),
        ]
        total = sum(weight for weight, _ in weighted) or 1.0
        score = sum(weight * signal.values for weight, signal in weighted) / total
        # The lead is who leads similar items or owns the clause's category first, not who is merely often named.
        lead_score = sum(weight * signal.lead for weight, signal in weighted)

        # Ties go to the likelier lead, then to catalogue order.
        order = [i for i in np.lexsort((np.arange(n), -lead_score, -score)) if score[i] > 0]
        if w.max_suggestions is not None:
            order = order[: w.max_suggestions]
        if not order:
            return []
        lead = max(order, key=lambda i: (lead_score[i], score[i]))
        return [
            DepartmentSuggestion(self._names[i], round(float(score[i]), 4), bool(i == lead), _evidence(weighted, i))
            for i in order
        ]

    def _similar_signal(self, near: list[tuple[HistoryItem, float]]) -> Signal:
        n = len(self._names)
        signal = Signal(np.zeros(n), np.zeros(n), [None] * n)
        for item, share in near:  # most similar first: each department cites the closest item naming it
            for name in item.departments:
                i = self._index[name]
                signal.values[i] += share
                signal.evidence[i] = signal.evidence[i] or (
                    f"similar to {self.catalogue.plan_title(item.doc)} item {item.number} "
                    f"({', '.join(item.departments)})"
                )
            signal.lead[self._index[item.lead]] += share
        return signal

    def _category_signal(self, category_scores: Mapping[str, float] | None) -> Signal:
        n = len(self._names)
        signal = Signal(np.zeros(n), np.zeros(n), [None] * n)
        for i, dept in enumerate(self.catalogue.departments if category_scores else ()):
            best, best_category = 0.0, None
            for rank, category_id in enumerate(dept.categories):
                p = float(category_scores.get(category_id, 0.0)) * self._specificity[category_id]
                value = p * (1.0 if rank == 0 else COOWNER_WEIGHT)
                if rank == 0:
                    signal.lead[i] = p
                if value > best:
                    best, best_category = value, category_id
            signal.values[i] = best
            if best_category is not None:
                p = float(category_scores[best_category])
                shown = best_category if p >= 0.5 else f"{best_category} (p={p:.2f})"
                signal.evidence[i] = f"category {shown} → {dept.name}"
        return signal

    def _keyword_signal(self, text: str) -> Signal:
        n = len(self._names)
        signal = Signal(np.zeros(n), np.zeros(n), [None] * n)
        for i, terms in enumerate(self._terms):
            found = _outermost([t for t in terms if t in text])
            if found:
                signal.values[i] = signal.lead[i] = 1.0 - 0.5 ** len(found)
                signal.evidence[i] = "mentions " + "、".join(found[:3])
        return signal


@dataclass
class Signal:
    """One signal for every catalogue department: its value, its share in choosing the lead, and why."""

    values: np.ndarray
    lead: np.ndarray
    evidence: list[str | None]


def _evidence(weighted: list[tuple[float, Signal]], i: int) -> list[str]:
    """The reasons behind department i, the one that adds most to its score first."""
    parts = [(weight * s.values[i], s.evidence[i]) for weight, s in weighted if weight * s.values[i] > 0]
    return [text for _, text in sorted(parts, key=lambda p: -p[0]) if text]


def _department_terms(dept) -> list[str]:
    """The terms that point to a department: its keywords, then the parts of its responsibility line."""
    terms = list(dept.keywords) + [t for t in _TERM_SPLIT.split(dept.responsibility) if len(t) >= _MIN_TERM_CHARS]
    return _unique(terms)


def _outermost(terms: list[str]) -> list[str]:
    """Drop terms contained in another found term ("培训机构" inside "校外培训机构"), longest first."""
    kept: list[str] = []
    for term in sorted(terms, key=len, reverse=True):
        if not any(term in other for other in kept):
            kept.append(term)
    return kept


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for v in values:
        if v and v not in seen:
            seen.append(v)
    return seen


def read_dataset_rows(path: str | Path) -> list[dict]:
    """Dataset rows from JSONL (data/dataset.jsonl format); each needs a 'text', 'departments' is a list."""
    rows = []
    for number, row in read_jsonl_objects(path, "dataset"):
        if not isinstance(row.get("text"), str):
            raise InputFileError(path, "each line must be a JSON object with a 'text' string", number)
        for key in ("departments", "lead_departments"):
            value = row.get(key, [])
            if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
                raise InputFileError(path, f"'{key}' must be a list of names", number)
        rows.append(row)
    return rows
