"""Model output -> Label Studio predictions, shared by `clausemap label push --model` and the ML backend.

A prediction pre-fills both choice blocks of the labelling config. Its score is the certainty of the
model's least sure category decision, so sorting by it puts the clauses the model is least sure about first.
"""

from __future__ import annotations

from labels.studio.config import CATEGORIES_NAME, DEPARTMENTS_NAME, EVIDENCE_NAME, TEXT_NAME

# A department is pre-selected when its score is at least this share of the best one's.
DEPARTMENT_SCORE_SHARE = 0.5


def decision_certainty(scores: dict[str, float]) -> float:
    """How sure the model is of its whole category decision: its least sure yes/no, in [0.5, 1]. (Not the
    service's 置信度, serving.results.weakest_given_score, which is about the categories given only.)"""
    return min((max(p, 1.0 - p) for p in scores.values()), default=0.0)


def preselected_departments(suggestions, sections: int) -> list:
    """The suggestions worth pre-selecting, at most `sections` (Settings.suggested_sections): the lead ones, then
    close runners-up (ranked input)."""
    ranked = sorted(suggestions, key=lambda s: (not s.lead, -s.score))
    if not ranked:
        return []
    top = max(s.score for s in ranked)
    chosen = [s for s in ranked if s.lead or s.score >= DEPARTMENT_SCORE_SHARE * top]
    return chosen[:sections]


def _choices(from_name: str, values: list[str], score: float) -> dict:
    return {
        "from_name": from_name,
        "to_name": TEXT_NAME,
        "type": "choices",
        "value": {"choices": values},
        "score": round(score, 4),
    }


def _evidence_spans(result, offered: list[str]) -> list[dict]:
    """Each category's deciding sentences as labelled spans of the clause text (highlighted in Label Studio)."""
    spans = []
    for category, sentences in (getattr(result, "evidence", None) or {}).items():
        if category not in offered:
            continue
        for e in sentences:
            spans.append({
                "from_name": EVIDENCE_NAME,
                "to_name": TEXT_NAME,
                "type": "labels",
                "value": {"start": e.start, "end": e.end, "text": e.text, "labels": [category]},
                "score": round(float(e.score), 4),
            })
    return spans


def prediction(result, model_version: str, categories: list[str], departments: list[str],
               evidence_labels: list[str] = (), sections: int | None = None) -> dict:
    """A Label Studio prediction for one ClauseResult, restricted to the choices the project offers; with
    `evidence_labels` (the config's evidence <Labels>), the deciding sentences as highlighted spans. At most
    `sections` departments are pre-selected (default: the suggested_sections setting)."""
    if sections is None:
        from clausemap.settings import Settings

        sections = Settings().suggested_sections
    score = decision_certainty(result.scores)
    items = [_choices(CATEGORIES_NAME, [c for c in result.labels if c in categories], score)]
    depts = [s for s in preselected_departments(result.departments or [], sections) if s.name in departments]
    if depts:
        items.append(_choices(DEPARTMENTS_NAME, [s.name for s in depts], min(s.score for s in depts)))
    items += _evidence_spans(result, list(evidence_labels))
    return {"model_version": model_version, "score": round(score, 4), "result": items}
