"""Service settings: the shared settings object (clausemap.settings.Settings) plus the service's own, read from
CLAUSEMAP_* environment variables (pydantic-settings). docs/settings.md is generated from the descriptions."""

from __future__ import annotations

from pydantic import Field

from clausemap.settings import Settings


class ServingSettings(Settings):
    """Every field can be set as CLAUSEMAP_<NAME>, e.g. CLAUSEMAP_MAX_CLAUSES=100. The paths, the model, the API
    key and Label Studio come from the shared Settings; the budgets for reading uploaded documents
    (max_unzipped_bytes, max_pdf_pages, max_table_cells…) from DocumentBudgets, which Settings extends."""

    max_batch_clauses: int = Field(64, gt=0, description="clauses of concurrent requests merged into one inference call")
    batch_wait_ms: float = Field(2.0, ge=0, description="how long the inference thread waits for requests to merge")
    retrain_without_api_key: bool = Field(
        False, description="let Label Studio's /webhook retrain and swap the model although no api_key is set "
        "(anyone who can reach the service can then do it); with an api_key, webhook retraining is always on")
    allowed_origins: list[str] = Field(
        default_factory=list, description='other web origins (JSON list, e.g. ["https://portal.example.org"]) whose '
        "pages may send POST/PUT/DELETE requests; the service's own page always may")
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="largest request body (JSON or upload)")
    max_clauses: int = Field(500, gt=0, description="most clauses in one request (or one plan)")
    max_clause_chars: int = Field(8000, gt=0, description="longest clause, in characters")
    max_plan_chars: int = Field(
        200_000, gt=0, description="longest plan text (JSON, or an upload's text once read), in characters; checked "
        "before it is cleaned (413 beyond)")
    parse_workers: int = Field(2, gt=0, description="worker processes that read uploaded documents (more uploads wait)")
    parse_memory_mb: int = Field(
        1536, ge=256, description="address space of a document-reading worker, in MiB: a document that needs more "
        "ends its worker (413), not the service")
    parse_timeout_s: float = Field(
        120.0, gt=0, description="seconds a worker may spend reading and segmenting one uploaded document (413 beyond)")
    max_bureaus: int = Field(
        200, gt=0, description="most bureaus (catalogue files, the shipped one included) the service holds; "
        "POST /v1/catalogues answers 409 beyond it")
    low_confidence: float = Field(
        0.6, ge=0, le=1, description="rows whose confidence is below this are marked low-confidence"
    )
