"""`clausemap evaluate-departments --table TABLE`: how well a bureau's own breakdown table predicts its sections.

Two measures, on the table's tasks (their stated lead and cooperating sections are the truth):
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
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np

CURVE_SIZES = (0, 5, 10, 20, 40, 80, 160)
DRAWS = 5


def evaluate_table(rows: list[dict], category_scores: list[dict], labels: dict[str, list[str]], names,
                   catalogue=None, embed: Callable | None = None, embeddings: np.ndarray | None = None,
                   draws: int = DRAWS, seed: int = 13) -> dict:
    """rows: the table's tasks as history rows (labels.bureaus.task_rows), sections in the names of the catalogue
    `names` (the given `catalogue`, or one made from the whole table). labels: text -> predicted category ids (for
    making catalogues). Returns the report as a dict."""
    from training.departments_cli import evaluate_without_history, ranking_metrics

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
    from training.departments import DepartmentSuggester

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


def format_curve(report: dict, source: str) -> str:
    lines = [f"{report['n']} tasks of {source}; catalogue: {report['catalogue']}",
             "", f"{'history tasks':>14}{'recall@1':>10}{'recall@3':>10}{'lead acc':>10}{'MRR':>8}"]
    for point in report["curve"]:
        lines.append(f"{point['history']:>14}{point['recall_at_1']:>10.3f}{point['recall_at_3']:>10.3f}"
                     f"{point['lead_accuracy']:>10.3f}{point['mrr']:>8.3f}")
    lines.append(f"(the last line is leave-one-item-out; the others average {DRAWS} random draws of the history)")
    return "\n".join(lines)
