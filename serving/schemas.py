"""Typed request and response bodies of the HTTP API (they are the OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from labels.catalogue import CATALOGUE_ID_MAX_LENGTH, CATALOGUE_ID_PATTERN


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong with the request, in one line")
    errors: list[dict[str, Any]] | None = Field(None, description="per-field errors, for invalid request bodies")


# Stated in the schema for clients; enforced by the validators below, whose messages say more than a pattern's.
NON_BLANK = {"type": "string", "minLength": 1, "pattern": r"\S"}

# The longest free text each kind of request field may hold, in characters: the one place for these limits.
# Clause texts are limited by CLAUSEMAP_MAX_CLAUSE_CHARS (api.check_limits), a whole plan by CLAUSEMAP_MAX_PLAN_CHARS
# (checked while it is segmented: clausemap.clauses.limits).
NAME_CHARS = 200  # a plan or bureau name, an item number, a model version, an author, a section or category
NOTE_CHARS = 2000  # a comment, a URL
CONFIG_CHARS = 200_000  # a Label Studio labelling config (XML)
NAMES_PER_FIELD = 100  # categories or sections listed in one field

ShortText = Annotated[str, Field(max_length=NAME_CHARS)]
LongText = Annotated[str, Field(max_length=NOTE_CHARS)]
ConfigText = Annotated[str, Field(max_length=CONFIG_CHARS)]
Names = Annotated[list[ShortText], Field(max_length=NAMES_PER_FIELD)]


CatalogueId = Annotated[str, Field(
    pattern=CATALOGUE_ID_PATTERN, max_length=CATALOGUE_ID_MAX_LENGTH,
    description="the bureau whose sections are suggested: a catalogue id from GET /v1/catalogues (default: the "
                "service's catalogue)")]


class ClassifyRequest(BaseModel):
    clauses: list[str] = Field(
        json_schema_extra={"items": NON_BLANK},
        min_length=1,
        description="clause texts to classify",
        examples=[["推进学前教育普及普惠发展，新建改扩建公办幼儿园10所。"]],
    )
    catalogue: CatalogueId | None = None

    @field_validator("clauses")
    @classmethod
    def _no_blank_clauses(cls, clauses: list[str]) -> list[str]:
        blank = [i for i, text in enumerate(clauses) if not text.strip()]
        if blank:
            raise ValueError(f"items {blank} are empty or whitespace only")
        return clauses


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("text is empty or whitespace only")
    return text


# A string with something in it: stated in the schema, checked with a message that says so.
NonBlankText = Annotated[str, Field(min_length=1, json_schema_extra={"pattern": r"\S"}), AfterValidator(_not_blank)]


class PlanRequest(BaseModel):
    text: NonBlankText = Field(description="the whole plan as plain text")
    doc: ShortText = Field("plan", min_length=1, description="a name for the plan")
    catalogue: CatalogueId | None = None


class SentenceEvidence(BaseModel):
    text: str = Field(description="a sentence of the clause")
    start: int = Field(ge=0, description="offset of its first character in the clause text")
    end: int = Field(ge=0, description="offset just past its last character (text == clause[start:end])")
    score: float = Field(ge=0, le=1, description="this category's score on the sentence alone")


class CategoryScore(BaseModel):
    id: str
    name: str
    score: float = Field(ge=0, le=1)
    threshold: float | None = Field(None, description="the tuned decision threshold of this category")
    assigned: bool = Field(description="whether this category is in `labels`")
    evidence: list[SentenceEvidence] = Field(
        default_factory=list,
        description="for an assigned category (not the fallback): the sentence(s) that decided it, best first",
    )


class SectionReason(BaseModel):
    kind: Literal["history", "category", "keyword"] = Field(
        description="history: a past task of this bureau it resembles; category: a category the section owns; "
                    "keyword: terms of the section found in the clause")
    text: str = Field(description="the reason in plain words")
    bureau: str = Field("", description="history: the bureau of the past task")
    plan: str = Field("", description="history: the plan or table it came from (title, else document id)")
    year: str = Field("", description="history: the plan's year, when its title or document says it")
    number: str = Field("", description="history: the task's number in that plan")
    category: str = Field("", description="category: the category id the section owns")
    keywords: list[str] = Field(default_factory=list, description="keyword: the terms found in the clause")


class DepartmentSuggestion(BaseModel):
    name: str
    score: float
    lead: bool = Field(description="suggested as lead (牵头) rather than cooperating (配合) section")
    evidence: list[str] = Field(default_factory=list, description="why this section was suggested")
    reasons: list[SectionReason] = Field(default_factory=list,
                                         description="the same reasons, structured; the strongest first")


class ClauseClassification(BaseModel):
    text: str
    categories: list[CategoryScore] = Field(description="every taxonomy category, in taxonomy order")
    labels: list[str] = Field(description="category ids above their thresholds; the fallback when none")
    departments: list[DepartmentSuggestion] = Field(description="suggested sections, best first")
    confidence: float = Field(ge=0, le=1, description="the score of the weakest category in `labels`")
    low_confidence: bool
    deadlines: list[str] = Field(
        default_factory=list, description="deadlines the clause states (完成时限), e.g. '6月底前', '2022年9月前'"
    )


class ClassifyResponse(BaseModel):
    model_version: str
    catalogue: str = Field(description="the catalogue whose sections were suggested")
    results: list[ClauseClassification]


class PlanClause(ClauseClassification):
    id: str
    number: str = Field(description="the item's number as written, e.g. '4', '（三）', '一是'")
    section: list[str] = Field(description="headings above the item, outermost first")
    title: str
    stated_departments: list[str] = Field(description="sections the plan itself names, lead first")
    stated_lead_departments: list[str]
    lead_departments: list[str] = Field(
        description="牵头科室 in the breakdown: the stated lead, else the suggested one"
    )
    cooperating_departments: list[str] = Field(
        description="配合科室 in the breakdown: the other stated sections, else the next best suggestions"
    )
    departments_source: Literal["stated", "suggested", "corrected"]
    collectives: list[str] = Field(default_factory=list, description="collective entries the plan states as "
                                   "written (各科室, 相关处室, 局属各单位): all or the related units, no section")
    corrected: bool = Field(False, description="staff corrected this clause (/v1/feedback): labels and sections are "
                                                "theirs, the scores the model's")
    correction_id: int | None = None


class CategoryCount(BaseModel):
    id: str
    name: str
    clauses: int


class DepartmentCount(BaseModel):
    name: str
    lead: int = Field(description="clauses it leads in the breakdown")
    cooperating: int = Field(description="clauses it cooperates on in the breakdown")


class PlanSummary(BaseModel):
    clauses: int
    low_confidence: int
    categories: list[CategoryCount]
    departments: list[DepartmentCount]


class PlanResponse(BaseModel):
    model_version: str
    catalogue: str = Field(description="the catalogue whose sections were suggested")
    doc: str
    title: str
    clauses: list[PlanClause]
    summary: PlanSummary


class TaxonomyCategory(BaseModel):
    id: str
    name: str
    description: str
    fallback: bool


class TaxonomyResponse(BaseModel):
    categories: list[TaxonomyCategory]


class CatalogueDepartment(BaseModel):
    name: str
    aliases: list[str] = Field(description="other ways plans write this section's name")
    responsibility: str
    categories: list[str] = Field(description="category ids it usually owns, the one it leads first")


class DepartmentsResponse(BaseModel):
    id: str
    bureau: str
    departments: list[CatalogueDepartment]


class CatalogueSummary(BaseModel):
    id: str
    bureau: str
    sections: int = Field(description="sections (科室) in the catalogue")
    history: int = Field(description="tasks of the bureau's breakdown tables its suggestions learn from")
    default: bool = Field(description="the catalogue requests get when they name none")


class UnavailableCatalogue(BaseModel):
    id: str
    error: str = Field(description="why the bureau's catalogue file cannot be used (requests naming it get 503)")


class CataloguesResponse(BaseModel):
    catalogues: list[CatalogueSummary]
    unavailable: list[UnavailableCatalogue] = Field(
        default_factory=list, description="bureaus whose catalogue file is broken; the others are unaffected")


class CatalogueCreated(CatalogueSummary):
    tasks: int = Field(description="tasks read from the uploaded table")
    departments: list[CatalogueDepartment]


class ModelInfo(BaseModel):
    version: str
    data_hash: str | None = Field(None, description="hash of the training data the model was trained on")
    metrics: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    info: dict[str, Any] = Field(default_factory=dict, description="everything else the artifact records")


class HealthStatus(BaseModel):
    status: str
    detail: str | None = None
