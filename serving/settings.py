"""Service settings, read from CLAUSEMAP_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clausemap.clauses.budgets import DocumentBudgets
from clausemap.paths import cache_dir, default_dataset, default_model_dir


class ServingSettings(DocumentBudgets):
    """Every field can be set as CLAUSEMAP_<NAME>, e.g. CLAUSEMAP_MAX_CLAUSES=100. The budgets for reading
    uploaded documents (max_unzipped_bytes, max_pdf_pages, max_table_cells…) come from DocumentBudgets."""

    model_config = SettingsConfigDict(env_prefix="CLAUSEMAP_", extra="ignore")

    model: Path = Field(default_factory=default_model_dir, description="model artifact directory")
    catalogue: str | None = Field(None, description="department catalogue file or id; default: the model's own")
    history: Path | None = Field(
        None, description="annotated rows (JSONL) the department suggestions learn from; default: the model's "
        "history.jsonl, else `dataset`; /v1/model says which was used")
    dataset: Path = Field(default_factory=default_dataset,
                          description="the annotated dataset: retraining's base rows, and the history fallback")
    retrained_models: Path = Field(default_factory=lambda: cache_dir() / "retrained",
                                   description="where Label Studio-triggered retraining writes its models")
    keep_models: int = Field(3, ge=1, description="retrained models kept (the one being served is never removed)")
    feedback_db: Path = Field(default_factory=lambda: default_dataset().with_name("feedback.sqlite"),
                              description="SQLite database of staff corrections (/v1/feedback)")
    runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="bert models: auto serves the int8 ONNX export when the model has one, else PyTorch")
    max_batch_clauses: int = Field(64, gt=0, description="clauses of concurrent requests merged into one inference call")
    batch_wait_ms: float = Field(2.0, ge=0, description="how long the inference thread waits for requests to merge")
    api_key: SecretStr | None = Field(None, description="when set, every endpoint but the health checks needs it")
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
    suggested_sections: int = Field(
        3, gt=0, description="sections (lead included) a clause gets in the breakdown when the plan names none"
    )

    @field_validator("api_key", "catalogue", "history", mode="before")
    @classmethod
    def _empty_is_unset(cls, value):
        """CLAUSEMAP_API_KEY= (empty) means no key, not a key nobody can send."""
        return None if isinstance(value, str) and not value.strip() else value
