"""How well the department suggester ranks sections (what `clausemap evaluate-departments` reports).

On the dataset's annotated clauses: leave-one-clause-out, plus two references (the catalogue alone, as for a
bureau with no history, and the baseline that ranks by category → catalogue owner only).

With `--table TABLE`, how well a bureau's own breakdown table predicts its sections. Two measures, on the table's
tasks (their stated lead and cooperating sections are the truth):
- leave-one-item-out: each task held out, the suggester fitted on all the others;
- a cold-start curve: each task held out, the suggester fitted on k other tasks drawn at random (several draws),
  for k = 0, 5, 10, 20, 40, … — how suggestions improve as a new bureau's history grows.
The catalogue is the one named (`--catalogue`), or else made from the history tasks themselves the way
`clausemap catalogue init` makes it (so a section no history task names cannot be suggested, as on day one;
with no history there is no catalogue, and k = 0 is skipped). Categories come from the model's predictions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import numpy as np

from labels.rows import resolve_departments
from training.departments.suggester import DepartmentSuggester, SuggesterWeights

# Only the category signal: the clause's categories → the departments that own them in the catalogue.
BASELINE_WEIGHTS = {"category": 1.0, "keyword": 0.0}
# History sizes of the cold-start curve, and the random draws averaged at each.
CURVE_SIZES = (0, 5, 10, 20, 40, 80, 160)
DRAWS = 5


@dataclass(frozen=True)
class RankingMetrics:
    """Ranking quality over clauses whose true sections are known.

    lead_accuracy: the first suggestion marked lead is one of the clause's true leads; a task with several leads
    (a bureau that co-leads) counts it right when it is any of them.
    """

    recall_at_1: float  # share of a clause's true departments found at rank 1
    recall_at_3: float  # ... found in the top 3
    lead_accuracy: float  # the (first) suggestion marked lead is one of the true leads
    mrr: float  # mean of 1 / rank of the first true department (0 when none is suggested)
    n: int


def evaluate_leave_one_out(rows, catalogue, category_scores, embed=None, embeddings=None, weights=None):
    """Hold out each row, fit on the rest, rank for the held-out one."""
    weights = SuggesterWeights(**(weights or {}))
    ranked = []
    for i, row in enumerate(rows):
        rest = rows[:i] + rows[i + 1 :]
        rest_embeddings = None if embeddings is None else [e for j, e in enumerate(embeddings) if j != i]
        rest_scores = category_scores[:i] + category_scores[i + 1 :]
        suggester = DepartmentSuggester(catalogue, embed=embed, weights=weights).fit(rest, rest_embeddings,
                                                                                    rest_scores)
        held_out = None if embeddings is None else embeddings[i : i + 1]
        ranked.append(suggester.suggest([row["text"]], [category_scores[i]], held_out)[0])
    return ranking_metrics(rows, ranked, catalogue)


def evaluate_without_history(rows, catalogue, category_scores, weights=None):
    """Rank with the catalogue alone, as for a bureau that has annotated nothing yet."""
    suggester = DepartmentSuggester(catalogue, weights=SuggesterWeights(**(weights or {})))
    return ranking_metrics(rows, suggester.suggest([r["text"] for r in rows], category_scores), catalogue)


def ranking_metrics(rows, ranked, catalogue) -> RankingMetrics:
    recall1 = recall3 = lead_hits = reciprocal = 0.0
    for row, suggestions in zip(rows, ranked, strict=True):
        truth = set(resolve_departments(row["departments"], catalogue, "history").names)
        leads = set(resolve_departments(row.get("lead_departments") or row["departments"][:1], catalogue,
                                        "history").names)
        names = [s.name for s in suggestions]
        recall1 += len(truth & set(names[:1])) / len(truth)
        recall3 += len(truth & set(names[:3])) / len(truth)
        top_lead = next((s.name for s in suggestions if s.lead), None)
        lead_hits += top_lead in leads
        first = next((rank for rank, name in enumerate(names, 1) if name in truth), None)
        reciprocal += 1 / first if first else 0.0
    n = len(rows)
    return RankingMetrics(
        round(recall1 / n, 4), round(recall3 / n, 4), round(lead_hits / n, 4), round(reciprocal / n, 4), n
    )


def annotated_rows(rows: list[dict], catalogue) -> tuple[list[dict], list[str]]:
    """Rows with at least one department known to the catalogue, and the names it does not know."""
    unknown: list[str] = []
    annotated = []
    for row in rows:
        resolved = resolve_departments(row.get("departments") or [], catalogue, "history")
        unknown += [name for name in resolved.unknown if name not in unknown]
        if resolved.names:
            annotated.append(row)
    return annotated, unknown


def evaluate_table(rows: list[dict], category_scores: list[dict], labels: dict[str, list[str]], names,
                   catalogue=None, embed: Callable | None = None, embeddings: np.ndarray | None = None,
                   draws: int = DRAWS, seed: int = 13) -> dict:
    """rows: the table's tasks as history rows (labels.bureaus.task_rows), sections in the names of the catalogue
    `names` (the given `catalogue`, or one made from the whole table). labels: text -> predicted category ids (for
    making catalogues). Returns the report as a dict."""
    n = len(rows)
    sizes = [k for k in CURVE_SIZES if k < n - 1 and (k > 0 or catalogue is not None)] + [n - 1]
    curve = []
    for k in sizes:
        rng = random.Random(seed)
        truth, ranked = [], []
        for _ in range(draws if k < n - 1 else 1):  # every draw of n-1 others is the same
            for i in range(n):
                others = [j for j in range(n) if j != i]
                rng.shuffle(others)
                history = sorted(others[:k])
                truth.append(rows[i])
                ranked.append(_rank_held_out(i, history, rows, category_scores, labels, catalogue, embed, embeddings))
        curve.append({"history": k, "draws": draws if k < n - 1 else 1, **asdict(ranking_metrics(truth, ranked, names))})
    report = {**{key: value for key, value in curve[-1].items() if key not in ("history", "draws")},
              "curve": curve, "catalogue": catalogue.id if catalogue is not None else "made from the history tasks"}
    if catalogue is not None:
        report["catalogue_only"] = asdict(evaluate_without_history(rows, catalogue, category_scores))
    return report


def _rank_held_out(i: int, history: Sequence[int], rows, category_scores, labels, catalogue, embed, embeddings):
    known = [rows[j] for j in history]
    fold_catalogue = catalogue or _catalogue(known, labels)
    vectors = None if embeddings is None or not history else embeddings[list(history)]
    scores = [category_scores[j] for j in history]
    suggester = DepartmentSuggester(fold_catalogue, embed=embed).fit(known, vectors, scores)
    held_out = None if embeddings is None else embeddings[i:i + 1]
    return suggester.suggest([rows[i]["text"]], [category_scores[i]], held_out)[0]


def _catalogue(history: list[dict], labels: dict[str, list[str]]):
    """The catalogue `catalogue init` would make from these history tasks (never empty: k = 0 is skipped)."""
    from labels.catalogue_init import catalogue_from_items

    items = [SimpleNamespace(**r) for r in history]
    return catalogue_from_items(items, "evaluation", "evaluation", lambda texts: [labels[t] for t in texts],
                                {r["doc"]: r["doc"] for r in history})
