"""Turn pipeline output (ClauseResult) and segmented clauses into API responses and the plan summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Sequence

from clausemap.clauses import Clause
from clausemap.clauses.deadlines import find_deadlines
from clausemap.clauses.section_names import split_collectives
from labels.rows import resolve_departments
from labels.taxonomy import Taxonomy
from serving import schemas
from serving.settings import ServingSettings
from training.inference.pipeline import ClassifyPipeline, ClauseResult


def weakest_given_score(scores: dict[str, float], labels: Sequence[str]) -> float:
    """A clause's confidence (置信度): the score of the weakest category it was given.

    A category just over its tuned threshold, or a fallback given because nothing scored high (the fallback's
    own score is then low too), makes a clause worth a second look.
    """
    return min((scores.get(label, 0.0) for label in labels), default=0.0)


def classification(text: str, result: ClauseResult, pipeline: ClassifyPipeline, settings: ServingSettings) -> dict:
    """Fields of ClauseClassification for one clause, as a dict (so PlanClause can extend it)."""
    labels = list(result.labels)
    thresholds = pipeline.thresholds
    conf = weakest_given_score(result.scores, labels)
    return {
        "text": text,
        "categories": [
            schemas.CategoryScore(
                id=cid,
                name=pipeline.taxonomy.name_of(cid),
                score=float(result.scores.get(cid, 0.0)),
                threshold=thresholds.get(cid),
                assigned=cid in labels,
                evidence=[
                    schemas.SentenceEvidence(text=e.text, start=e.start, end=e.end, score=round(float(e.score), 4))
                    for e in (result.evidence.get(cid, []) if cid in labels else [])
                ],
            )
            for cid in pipeline.taxonomy.ids
        ],
        "labels": labels,
        "departments": [
            schemas.DepartmentSuggestion(
                name=d.name, score=float(d.score), lead=bool(d.lead), evidence=list(d.evidence),
                reasons=[schemas.SectionReason(**{**asdict(r), "keywords": list(r.keywords)}) for r in d.reasons],
            )
            for d in result.departments
        ],
        "confidence": round(conf, 4),
        "low_confidence": conf < settings.low_confidence,
        "deadlines": find_deadlines(text),
    }


def plan_clause(clause: Clause, result: ClauseResult, pipeline: ClassifyPipeline,
                settings: ServingSettings) -> schemas.PlanClause:
    fields = classification(clause.text, result, pipeline, settings)
    # "各科室" stated in a plan is all units: shown as written, never counted as a section
    named, collectives = split_collectives(clause.departments)
    # Stated names in the catalogue's names where it knows them, else as the plan writes them ("办公室(法规科)"),
    # so stated and suggested sections count together in the summary.
    stated = resolve_departments(named, pipeline.catalogue, "plan").as_written()
    stated_lead = resolve_departments(split_collectives(clause.lead_departments)[0], pipeline.catalogue,
                                      "plan").as_written()
    if stated:
        named, lead, source = stated, stated_lead or stated[:1], "stated"
    else:
        # Suggestions past the first few are weak; the table lists the lead and the next best as cooperating.
        top = fields["departments"][: settings.suggested_sections]
        named = [d.name for d in top]
        lead = [d.name for d in top if d.lead] or named[:1]
        source = "suggested"
    return schemas.PlanClause(
        id=clause.id,
        number=clause.number,
        section=list(clause.section),
        title=clause.title,
        stated_departments=stated,
        stated_lead_departments=stated_lead,
        lead_departments=lead,
        cooperating_departments=[d for d in named if d not in lead],
        departments_source=source,
        collectives=collectives,
        **fields,
    )


def corrected(clause: schemas.PlanClause, correction: dict) -> schemas.PlanClause:
    """The clause as staff corrected it: their categories and sections; the model's scores stay for reference."""
    labels = list(correction["categories"])
    categories = [c.model_copy(update={"assigned": c.id in labels, "evidence": c.evidence if c.id in labels else []})
                  for c in clause.categories]
    return clause.model_copy(update={
        "labels": labels, "categories": categories, "lead_departments": list(correction["lead_departments"]),
        "cooperating_departments": list(correction["cooperating_departments"]), "departments_source": "corrected",
        "corrected": True, "correction_id": correction["id"],
    })


def summarize(clauses: Sequence[schemas.PlanClause], taxonomy: Taxonomy) -> schemas.PlanSummary:
    per_category = Counter(label for clause in clauses for label in clause.labels)
    lead_counts = Counter(name for clause in clauses for name in clause.lead_departments)
    coop_counts = Counter(name for clause in clauses for name in clause.cooperating_departments)
    departments = sorted(
        set(lead_counts) | set(coop_counts), key=lambda d: (-lead_counts[d] - coop_counts[d], -lead_counts[d], d)
    )
    return schemas.PlanSummary(
        clauses=len(clauses),
        low_confidence=sum(c.low_confidence for c in clauses),
        categories=[
            schemas.CategoryCount(id=cid, name=taxonomy.name_of(cid), clauses=per_category[cid]) for cid in taxonomy.ids
        ],
        departments=[
            schemas.DepartmentCount(name=d, lead=lead_counts[d], cooperating=coop_counts[d]) for d in departments
        ],
    )
