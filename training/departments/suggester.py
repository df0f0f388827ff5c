"""Suggest the sections (科室) responsible for a clause, each with the reasons behind it.

Two parts, each in [0, 1] per section:
- history: per-section scorers learned from the bureau's own past tasks (kernel ridge regression, one output per
  section, on character 1–3-gram TF-IDF of the task texts, plus the model encoder's embeddings when given; a
  second set of outputs learns who leads). With a made-up example: a past task "开展校本教研" led by 教科室
  makes a new "校本教研" clause point to 教科室, whatever the catalogue says;
- catalogue: the clause's category scores times the catalogue's ownership (the lead owner counts fully), and the
  catalogue's keywords and responsibility terms found in the clause.
How much the history counts (and the ridge's regularisation) is chosen by exact leave-one-out on that same
history (`HistoryBlend`): every past task is ranked by scorers that never saw it, and the blend that ranks them
best wins. A bureau with no history gets the catalogue alone; a history that predicts its own tasks well
outweighs the catalogue. The lead is who leads such tasks in the history, or owns the clause's category first, or
is mentioned; a bureau whose history co-leads tasks gets several leads. Collective names ("各处室") are never
suggested.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from clausemap.clauses.section_names import is_collective
from labels.catalogue import Catalogue
from labels.rows import resolve_departments

Embed = Callable[[Sequence[str]], "np.ndarray"]

# A department's lead-owned category (listed first) counts fully, a category it also owns counts this much.
COOWNER_WEIGHT = 0.5
# Responsibility lines are split into terms at these separators; shorter terms are too vague to match on.
_TERM_SPLIT = re.compile(r"[、，,；;/（）()\s]+")
_MIN_TERM_CHARS = 2
# Leave-one-out picks among these: the history's share of the score, and the ridge's regularisation.
HISTORY_SHARES = (0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0)
# History always counts this little on top of its share: it orders what the catalogue leaves silent or tied.
GAP_FILL = 0.01
RIDGE_PENALTIES = (0.3, 1.0, 3.0)
# A bureau co-leads when at least this share of its past tasks has more than one lead.
CO_LEAD_SHARE = 0.25
_YEAR = re.compile(r"(?:19|20)\d\d")


@dataclass(frozen=True)
class Reason:
    """Why a section is suggested: a past task it resembles, a category it owns, or a keyword in the clause."""

    kind: str  # "history", "category" or "keyword"
    text: str  # in plain words, as evidence lists it
    bureau: str = ""  # history: the past task's bureau, plan (doc and title), year and item number
    doc: str = ""
    plan: str = ""
    year: str = ""
    number: str = ""
    category: str = ""  # category: the category id the section owns
    keywords: tuple[str, ...] = ()  # keyword: the terms found in the clause


@dataclass(frozen=True)
class DepartmentSuggestion:
    name: str
    score: float
    lead: bool
    evidence: list[str] = field(default_factory=list)  # the reasons' texts, the strongest first
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class SuggesterWeights:
    category: float = 0.6  # within the catalogue part
    keyword: float = 0.5
    max_suggestions: int | None = None  # None: every department with a positive score
    # None: chosen by leave-one-out on the history (HistoryBlend); a number fixes the history's share.
    history_share: float | None = None


@dataclass(frozen=True)
class HistoryBlend:
    """What leave-one-out on the history chose, and how well the history then ranked its own held-out tasks."""

    share: float = 0.0  # the history's share of the score (0: no history)
    penalty: float = 1.0
    recall_at_3: float = 0.0
    lead_accuracy: float = 0.0
    co_lead: bool = False


@dataclass(frozen=True)
class HistoryItem:
    """One past clause with annotated departments (catalogue names, lead first)."""

    id: str
    doc: str
    number: str
    text: str
    departments: tuple[str, ...]
    lead: str
    leads: tuple[str, ...] = ()
    bureau: str = ""
    year: str = ""

    @classmethod
    def from_row(cls, row: Mapping, catalogue: Catalogue) -> HistoryItem | None:
        """A dataset row as history; None when none of its departments is in this catalogue."""
        names = [n for n in resolve_departments(row.get("departments") or [], catalogue, "history").names
                 if not is_collective(n)]
        if not names:
            return None
        leads = [n for n in resolve_departments(row.get("lead_departments") or [], catalogue, "history").names
                 if n in names]
        doc = str(row.get("doc", ""))
        year = _YEAR.search(f"{row.get('year', '')} {catalogue.plan_title(doc)} {doc}")
        return cls(
            id=str(row.get("id", "")),
            doc=doc,
            number=str(row.get("number", "")),
            text=str(row["text"]),
            departments=tuple(names),
            lead=leads[0] if leads else names[0],
            leads=tuple(leads or names[:1]),
            bureau=catalogue.bureau,
            year=year.group() if year else "",
        )


class CharNgramEmbedder:
    """Embeddings for when no encoder is at hand: TF-IDF over character 1–3-grams, fitted on the history."""

    def __init__(self, texts: Sequence[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self._vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self._vectorizer.fit(list(texts))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.sparse(texts).toarray().astype(np.float32)

    def sparse(self, texts: Sequence[str]):
        """The same vectors as a sparse matrix, unit length (products of these stay off the BLAS threads)."""
        return self._vectorizer.transform(list(texts))


class DepartmentSuggester:
    """Ranks a catalogue's departments for clauses. `fit(rows)` on annotated history, then `suggest(texts)`."""

    def __init__(self, catalogue: Catalogue, embed: Embed | None = None, weights: SuggesterWeights | None = None):
        self.catalogue = catalogue
        self.weights = weights or SuggesterWeights()
        self._embed = embed
        self._names = catalogue.names
        self._index = {n: i for i, n in enumerate(self._names)}
        self._allowed = np.array([not is_collective(n) for n in self._names])  # "各处室" is no section
        self._terms = [_department_terms(d) for d in catalogue.departments]
        # A category many departments lead ("other") says less about each of them.
        leaders = Counter(d.categories[0] for d in catalogue.departments)
        self._specificity = defaultdict(lambda: 1.0, {c: 1 / math.sqrt(k) for c, k in leaders.items()})
        self.history: list[HistoryItem] = []
        self.blend = HistoryBlend()
        self._ngrams: CharNgramEmbedder | None = None
        self._history_ngrams = None  # sparse character n-gram vectors of the history
        self._history_vectors = np.zeros((0, 0), dtype=np.float32)
        self._dual = self._dual_lead = np.zeros((0, len(self._names)))  # ridge coefficients per history item

    def fit(self, rows: Iterable[Mapping], embeddings: np.ndarray | None = None,
            category_scores: Sequence[Mapping[str, float] | None] | None = None) -> DepartmentSuggester:
        """Learn from annotated rows (dataset rows with `departments`); rows without any are skipped.

        `embeddings` (one per row, in order) saves re-embedding when the caller has them already.
        `category_scores` (one per row): the rows' category scores, for choosing the blend; where None, the row's
        annotated `categories`.
        """
        rows = list(rows)
        items = [HistoryItem.from_row(r, self.catalogue) for r in rows]
        keep = [i for i, item in enumerate(items) if item is not None]
        self.history = [items[i] for i in keep]
        self.blend = HistoryBlend()
        if not self.history:
            return self
        texts = [h.text for h in self.history]
        self._ngrams = CharNgramEmbedder(texts)
        self._history_ngrams = self._ngrams.sparse(texts)
        if self._embed is None:
            self._history_vectors = np.zeros((len(texts), 0), dtype=np.float32)
        elif embeddings is not None:
            self._history_vectors = _unit_rows(np.asarray(embeddings, dtype=np.float32)[keep])
        else:
            self._history_vectors = _unit_rows(np.asarray(self._embed(texts), dtype=np.float32))
        given = list(category_scores) if category_scores is not None else [None] * len(rows)
        scores = [given[i] if given[i] is not None else {c: 1.0 for c in rows[i].get("categories") or []} or None
                  for i in keep]
        named, leads = self._targets()
        kernel = self._kernel(self._history_ngrams, self._history_vectors)
        catalogue = [self._catalogue_part(text, s) for text, s in zip(texts, scores, strict=True)]
        self.blend, penalty = self._choose_blend(kernel, named, leads, catalogue)
        solve = np.linalg.inv(kernel + penalty * np.eye(len(texts)))
        self._dual, self._dual_lead = solve @ named, solve @ leads
        return self

    def suggest(
        self,
        texts: Sequence[str],
        category_scores: Sequence[Mapping[str, float] | None] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> list[list[DepartmentSuggestion]]:
        """Ranked suggestions per text, best first; one is marked lead when any is given (several when the
        bureau's history co-leads).

        `category_scores`: per text, category id -> probability (predicted or annotated); None skips that signal.
        `embeddings`: the texts' vectors from the same `embed` the suggester was fitted with.
        """
        texts = list(texts)
        category_scores = list(category_scores) if category_scores is not None else [None] * len(texts)
        if len(category_scores) != len(texts):
            raise ValueError("category_scores must have one entry per text")
        similarity = self._similarity(texts, embeddings)
        return [self._rank(text, scores, None if similarity is None else similarity[k])
                for k, (text, scores) in enumerate(zip(texts, category_scores, strict=True))]

    # --- learning from the history ---------------------------------------------------------------------------

    def _targets(self) -> tuple[np.ndarray, np.ndarray]:
        """(items x sections) 0/1: the sections each past task names, and those that lead it."""
        named = np.zeros((len(self.history), len(self._names)))
        leads = np.zeros_like(named)
        for r, item in enumerate(self.history):
            named[r, [self._index[n] for n in item.departments]] = 1.0
            leads[r, [self._index[n] for n in item.leads]] = 1.0
        return named, leads

    def _kernel(self, ngrams: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Similarity of texts to the history: character n-grams, averaged with the encoder's when it has one;
        plus 1, so the ridge learns how often each section is named at all."""
        kernel = (ngrams @ self._history_ngrams.T).toarray()
        if vectors.shape[1]:
            kernel = (kernel + vectors @ self._history_vectors.T) / 2
        return kernel + 1.0

    def _choose_blend(self, kernel, named, leads, catalogue) -> tuple[HistoryBlend, float]:
        """The history share and ridge penalty by leave-one-out on the history (recall@3 plus lead accuracy of its
        held-out tasks). The history has to prove itself: the smallest share within one task's worth (1 / n) of
        the best is taken, so noise in a short history does not buy it weight."""
        n = len(self.history)
        co_lead = float(np.mean(leads.sum(axis=1) > 1)) >= CO_LEAD_SHARE
        fixed = self.weights.history_share
        shares = (fixed,) if fixed is not None else HISTORY_SHARES
        if n < 2:
            return HistoryBlend(share=shares[0], co_lead=co_lead), RIDGE_PENALTIES[-1]
        cat_values = np.array([c.values for c, _ in catalogue])
        cat_lead = np.array([c.lead for c, _ in catalogue])
        tried = []
        for penalty in RIDGE_PENALTIES:
            hat = kernel @ np.linalg.inv(kernel + penalty * np.eye(n))
            loo_named, loo_lead = (np.clip(_leave_one_out(hat, t), 0, 1) for t in (named, leads))
            for share in shares:
                score = ((share + GAP_FILL) * loo_named + (1 - share) * cat_values) * self._allowed
                lead = (share + GAP_FILL) * loo_lead + (1 - share) * cat_lead
                recall, lead_hits = _held_out_quality(score, lead, named, leads)
                tried.append(HistoryBlend(share, penalty, round(recall, 4), round(lead_hits, 4), co_lead))
        best = max(b.recall_at_3 + b.lead_accuracy for b in tried)
        good = [b for b in tried if b.recall_at_3 + b.lead_accuracy >= best - 1 / n]
        chosen = min(good, key=lambda b: (b.share, -(b.recall_at_3 + b.lead_accuracy), -b.penalty))
        return chosen, chosen.penalty

    def _similarity(self, texts: list[str], embeddings: np.ndarray | None) -> np.ndarray | None:
        """(texts x history) kernel between new texts and the past tasks, None without history."""
        if not self.history or not texts:
            return None
        ngrams = self._ngrams.sparse(texts)
        if self._embed is None:
            vectors = np.zeros((len(texts), 0), dtype=np.float32)
        else:
            if embeddings is None:
                embeddings = self._embed(texts)
            vectors = _unit_rows(np.asarray(embeddings, dtype=np.float32))
        return self._kernel(ngrams, vectors)

    # --- ranking ---------------------------------------------------------------------------------------------

    def _catalogue_part(self, text: str, category_scores: Mapping[str, float] | None) -> tuple[Signal, list]:
        """The catalogue's signals combined: (values and lead in [0, 1], [(weight, signal)] for the reasons)."""
        w = self.weights
        weighted = [(w.category * (category_scores is not None), self._category_signal(category_scores)),
                    (w.keyword, self._keyword_signal(text))]
        total = sum(weight for weight, _ in weighted) or 1.0
        values = sum(weight * signal.values for weight, signal in weighted) / total
        lead = sum(weight * signal.lead for weight, signal in weighted) / total
        return Signal(values, lead, [None] * len(self._names)), weighted

    def _rank(self, text: str, category_scores: Mapping[str, float] | None, similarity: np.ndarray | None
              ) -> list[DepartmentSuggestion]:
        n = len(self._names)
        catalogue, weighted = self._catalogue_part(text, category_scores)
        share = self.blend.share if similarity is not None else 0.0
        history = self._history_signal(similarity)
        history_weight = share + GAP_FILL if similarity is not None else 0.0
        score = (history_weight * history.values + (1 - share) * catalogue.values) * self._allowed
        lead_score = history_weight * history.lead + (1 - share) * catalogue.lead
        parts = [(history_weight, history)] + [((1 - share) * weight / (sum(w for w, _ in weighted) or 1.0), signal)
                                      for weight, signal in weighted]

        # Ties go to the likelier lead, then to catalogue order.
        order = [i for i in np.lexsort((np.arange(n), -lead_score, -score)) if score[i] > 1e-4]
        if self.weights.max_suggestions is not None:
            order = order[: self.weights.max_suggestions]
        if not order:
            return []
        lead = max(order, key=lambda i: (lead_score[i], score[i]))
        leads = {lead}
        if self.blend.co_lead:  # as the history does: every strong lead candidate among the first three leads
            leads |= {i for i in order[:3] if history.lead[i] >= 0.5 and lead_score[i] >= 0.5 * lead_score[lead]}
        return [
            DepartmentSuggestion(self._names[i], round(float(min(score[i], 1.0)), 4), bool(i in leads),
                                 [r.text for r in reasons], reasons)
            for i in order
            for reasons in [_reasons(parts, i)]
        ]

    def _history_signal(self, similarity: np.ndarray | None) -> Signal:
        """The learned scores of each section for one text, with the past task each resembles most."""
        n = len(self._names)
        if similarity is None:
            return Signal(np.zeros(n), np.zeros(n), [None] * n)
        values = np.clip(similarity @ self._dual, 0, 1)
        lead = np.clip(similarity @ self._dual_lead, 0, 1)
        reasons: list[Reason | None] = [None] * n
        for j in np.argsort(-similarity):  # most similar first: each section cites the closest task naming it
            item = self.history[j]
            for name in item.departments:
                i = self._index[name]
                reasons[i] = reasons[i] or self._history_reason(item)
            if all(r is not None or v <= 0 for r, v in zip(reasons, values, strict=True)):
                break
        return Signal(values, lead, reasons)

    def _history_reason(self, item: HistoryItem) -> Reason:
        plan = self.catalogue.plan_title(item.doc)
        return Reason("history", f"similar to {plan} item {item.number} ({', '.join(item.departments)})",
                      bureau=item.bureau, doc=item.doc, plan=plan, year=item.year, number=item.number)

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
                signal.evidence[i] = Reason("category", f"category {shown} → {dept.name}", category=best_category)
        return signal

    def _keyword_signal(self, text: str) -> Signal:
        n = len(self._names)
        signal = Signal(np.zeros(n), np.zeros(n), [None] * n)
        for i, terms in enumerate(self._terms):
            found = _outermost([t for t in terms if t in text])
            if found:
                signal.values[i] = signal.lead[i] = 1.0 - 0.5 ** len(found)
                signal.evidence[i] = Reason("keyword", "mentions " + "、".join(found[:3]), keywords=tuple(found[:3]))
        return signal


@dataclass
class Signal:
    """One signal for every catalogue department: its value, its share in choosing the lead, and why."""

    values: np.ndarray
    lead: np.ndarray
    evidence: list[Reason | None]


def _reasons(weighted: list[tuple[float, Signal]], i: int) -> list[Reason]:
    """The reasons behind department i, the one that adds most to its score first."""
    parts = [(weight * s.values[i], s.evidence[i]) for weight, s in weighted if weight * s.values[i] > 0]
    return [reason for _, reason in sorted(parts, key=lambda p: -p[0]) if reason]


def _leave_one_out(hat: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each row's ridge prediction from a fit without that row (exact: (ŷ − h·y) / (1 − h) per row)."""
    diagonal = np.diag(hat)[:, None]
    return (hat @ targets - diagonal * targets) / np.maximum(1.0 - diagonal, 1e-6)


def _held_out_quality(score: np.ndarray, lead: np.ndarray, named: np.ndarray, leads: np.ndarray
                      ) -> tuple[float, float]:
    """(recall@3, lead accuracy) of rankings `score` (items x sections) against the 0/1 truths; the lead is the
    best `lead` among the top three."""
    top3 = np.argsort(-score, axis=1, kind="stable")[:, :3]
    rows = np.arange(len(score))[:, None]
    recall = (named[rows, top3].sum(axis=1) / np.maximum(named.sum(axis=1), 1)).mean()
    chosen = top3[np.arange(len(score)), np.argmax(lead[rows, top3], axis=1)]
    return float(recall), float(leads[np.arange(len(score)), chosen].mean())


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
