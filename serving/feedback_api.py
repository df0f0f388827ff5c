"""`/v1/feedback`: staff corrections of the breakdown table in, and back out for data building and review."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from serving.api import ERRORS, bureau_pipeline, check_limits, require_json
from serving.deps import Pipeline, Settings, require_api_key
from labels.feedback import FeedbackStore
from labels.rows import UnknownDepartment, checked_categories, resolve_departments
from serving.schemas import CatalogueId, LongText, Names, NonBlankText, ShortText

router = APIRouter(prefix="/v1/feedback", tags=["feedback"], dependencies=[Depends(require_api_key)],
                   responses=ERRORS)


class Predicted(BaseModel):
    categories: Names = Field(default_factory=list, description="what the model gave")
    departments: Names = Field(default_factory=list)


class Correction(BaseModel):
    text: NonBlankText = Field(description="the clause text (at most CLAUSEMAP_MAX_CLAUSE_CHARS characters)")
    categories: Names = Field(min_length=1, description="the categories staff gave (taxonomy ids)")
    lead_departments: Names = Field(default_factory=list, description="牵头科室, catalogue names or aliases")
    cooperating_departments: Names = Field(default_factory=list, description="配合科室")
    doc: ShortText | None = None
    number: ShortText | None = None
    model_version: ShortText | None = None
    predicted: Predicted | None = None
    author: ShortText | None = None
    comment: LongText | None = None
    catalogue: CatalogueId | None = None


class FeedbackRequest(BaseModel):
    corrections: list[Correction] = Field(min_length=1)


class FeedbackIds(BaseModel):
    ids: list[int]


class StoredCorrection(Correction):
    id: int
    created_at: str


class FeedbackList(BaseModel):
    corrections: list[StoredCorrection]


class CategoryChanges(BaseModel):
    kept: int = Field(description="corrections that kept this category the model had given")
    removed: int = Field(description="… that removed it")
    added: int = Field(description="… that added it though the model had not given it")


class FeedbackSummary(BaseModel):
    corrections: int
    categories: dict[str, int] = Field(description="corrections per category given by staff")
    lead_departments: dict[str, int]
    cooperating_departments: dict[str, int]
    changes: dict[str, CategoryChanges] = Field(description="model vs staff, per category, where `predicted` was sent")


def get_store(request: Request) -> FeedbackStore:
    store: FeedbackStore = request.app.state.feedback
    if store.error:
        raise HTTPException(503, store.error)
    return store


Store = Annotated[FeedbackStore, Depends(get_store)]


async def _checked(corrections: list[Correction], pipeline) -> list[dict[str, Any]]:
    """Corrections as stored: categories in taxonomy order, sections as names of the catalogue each names (default:
    the service's); 422 naming unknowns."""
    taxonomy = pipeline.taxonomy
    catalogues = {ref: (await bureau_pipeline(pipeline, ref)).catalogue for ref in {c.catalogue for c in corrections}}
    problems, out = [], []  # every problem of every correction, each once, in one 422
    for item in corrections:
        row = item.model_dump()
        try:
            row["categories"] = checked_categories(item.categories, taxonomy)
        except ValueError as exc:
            problems.append(str(exc))
        for key in ("lead_departments", "cooperating_departments"):
            try:  # staff pick sections from the catalogue: an unknown name is refused (labels.rows policy)
                row[key] = resolve_departments(row[key], catalogues[item.catalogue], "correction").names
            except UnknownDepartment as exc:
                problems.append(str(exc))
        out.append(row)
    if problems:
        raise HTTPException(422, "; ".join(dict.fromkeys(problems)))
    return out


@router.post("", status_code=201, response_model=FeedbackIds, dependencies=[Depends(require_json)])
async def add_feedback(body: FeedbackRequest, pipeline: Pipeline, settings: Settings, store: Store) -> FeedbackIds:
    """Store corrections (each a new row: a later correction of the same clause wins when data is built)."""
    check_limits([c.text for c in body.corrections], settings, what="corrections")
    rows = await _checked(body.corrections, pipeline)
    return FeedbackIds(ids=await run_in_threadpool(store.add, rows))  # FeedbackUnavailable: 503 (serving.app)


@router.get("", response_model=FeedbackList)
async def list_feedback(store: Store, since: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> FeedbackList:
    """Stored corrections with id > since, oldest first."""
    return FeedbackList(corrections=await run_in_threadpool(store.list, since, limit))


@router.get("/summary", response_model=FeedbackSummary)
async def feedback_summary(store: Store) -> FeedbackSummary:
    """Counts per category and section, and how staff changed the categories the model had given."""
    rows = await run_in_threadpool(store.all)
    changes: dict[str, Counter] = {}
    for row in rows:
        predicted = set((row.get("predicted") or {}).get("categories") or [])
        if not row.get("predicted"):
            continue
        for category in predicted | set(row["categories"]):
            state = "kept" if category in predicted and category in row["categories"] else \
                "removed" if category in predicted else "added"
            changes.setdefault(category, Counter())[state] += 1
    return FeedbackSummary(
        corrections=len(rows),
        categories=dict(Counter(c for row in rows for c in row["categories"])),
        lead_departments=dict(Counter(d for row in rows for d in row["lead_departments"])),
        cooperating_departments=dict(Counter(d for row in rows for d in row["cooperating_departments"])),
        changes={c: CategoryChanges(**{k: n.get(k, 0) for k in ("kept", "removed", "added")})
                 for c, n in sorted(changes.items())},
    )
