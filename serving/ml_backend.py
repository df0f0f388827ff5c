"""The Label Studio ML backend protocol on the serving app: connect the service to a project by its URL.

GET /health, POST /setup (-> model_version), POST /predict (tasks in, {"results": [...]} out, in the
labelling config's names), POST /webhook (annotation events and Start Training queue a retrain in the
background; the request returns at once) and GET /webhook/jobs/{id} (that retrain's status).
The app mounts this router behind its API key check (Label Studio sends it as Basic auth).

Retraining fetches the project's export only from the service's own LABEL_STUDIO_URL (with LABEL_STUDIO_API_KEY):
the hostname and token Label Studio sends to /setup are ignored, so no request can point the service elsewhere.
Without CLAUSEMAP_API_KEY the webhook does not retrain unless CLAUSEMAP_RETRAIN_WITHOUT_API_KEY is set.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from clausemap.errors import ClausemapError
from labels.studio.config import (CATEGORIES_NAME, DEPARTMENTS_NAME, EVIDENCE_NAME, TEXT_NAME, config_choices,
                                  config_mismatch)
from labels.studio.connection import Studio, load_settings
from labels.studio.predictions import prediction
from serving.retrain import Retrainer, TrainJob, retrain_from_studio
from serving.api import check_limits
from serving.deps import get_pipeline, get_settings
from serving.runtime import ModelState, SerializedPipeline
from serving.schemas import ConfigText, LongText, ShortText
from serving.settings import ServingSettings

TRAIN_ACTIONS = {"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED", "START_TRAINING"}

router = APIRouter(tags=["Label Studio ML backend"])


def _json_integer(value):
    """An integer as JSON Schema means it (1 or 1.0), never a boolean or a string."""
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise ValueError
    except (ValueError, OverflowError):  # also inf and nan
        raise ValueError("must be an integer") from None
    return int(value)


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


class _LabelStudioBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # Label Studio adds fields between versions


class SetupRequest(_LabelStudioBody):
    project: ShortText | None = Field(None, description='"<project id>.<created timestamp>"')
    schema_: ConfigText | None = Field(None, alias="schema", description="the project's labelling config")
    hostname: LongText | None = Field(None, description="Label Studio's URL: ignored, retraining uses LABEL_STUDIO_URL")
    access_token: LongText | None = Field(None, description="a Label Studio token: ignored, retraining uses "
                                                            "LABEL_STUDIO_API_KEY")


class SetupResponse(BaseModel):
    model_version: str


class TaskData(_LabelStudioBody):
    text: str = Field(json_schema_extra={"minLength": 1, "pattern": r"\S"}, description="the clause text to classify")


class Task(_LabelStudioBody):
    id: JsonInt | None = None
    data: TaskData


class PredictRequest(_LabelStudioBody):
    tasks: list[Task] = Field(min_length=1)
    project: ShortText | None = None
    label_config: ConfigText | None = None


class PredictResponse(BaseModel):
    results: list[dict[str, Any]] = Field(description="one prediction per task, in task order")
    model_version: str


class WebhookEvent(_LabelStudioBody):
    action: ShortText
    project: dict[str, Any] | JsonInt | None = None


class WebhookResponse(BaseModel):
    status: str = Field(description='"ignored", or the retrain job\'s status')
    job: str | None = None


class Health(BaseModel):
    status: str
    model_class: str = "clausemap"
    model_version: str | None = None


def project_id(value: str | int | dict | None) -> int | None:
    """Label Studio names a project as an id, "<id>.<timestamp>" or a serialized project."""
    if isinstance(value, dict):
        value = value.get("id")
    try:
        return int(str(value).split(".")[0]) if value is not None else None
    except ValueError:
        return None


def get_retrainer(request: Request) -> Retrainer:
    """One Retrainer per app, made on first use; a finished retrain swaps the app's model."""
    app = request.app
    if getattr(app.state, "ml_retrainer", None) is None:
        state: ModelState = app.state.model

        def retrain(project: int):
            settings = load_settings()  # the service's LABEL_STUDIO_URL / _API_KEY, never a requester's
            if state.pipeline is None:
                raise ClausemapError("no model is loaded, so there is nothing to retrain")
            serving = request.app.state.settings
            return retrain_from_studio(Studio(settings), project, state.pipeline.pipeline, dataset=serving.dataset,
                                       output_root=serving.retrained_models, keep=serving.keep_models)

        # A finished retrain swaps the model; the old one's inference thread ends once its queue is done.
        app.state.ml_retrainer = Retrainer(retrain, state.replace)
    return app.state.ml_retrainer


@router.get("/health", response_model=Health, responses={503: {"description": "the model is not loaded"}})
async def health(pipeline: SerializedPipeline = Depends(get_pipeline)) -> Health:
    """Label Studio's connection check: UP once the model is loaded."""
    return Health(status="UP", model_version=pipeline.model_version)


@router.post("/setup", response_model=SetupResponse)
async def setup(
    body: SetupRequest, pipeline: SerializedPipeline = Depends(get_pipeline)
) -> SetupResponse:
    """Check the project's labelling config and answer with the model version (hostname and token are ignored)."""
    if body.schema_:
        problem = config_mismatch(body.schema_, pipeline.taxonomy)
        if problem:
            raise HTTPException(422, f"the project's labelling config does not fit clausemap ({problem}); "
                                "create the project with `clausemap label init`")  # fmt: skip
    return SetupResponse(model_version=pipeline.model_version)


@router.post("/predict", response_model=PredictResponse)
async def predict(
    body: PredictRequest,
    request: Request,
    pipeline: SerializedPipeline = Depends(get_pipeline),
    settings: ServingSettings = Depends(get_settings),
) -> PredictResponse:
    """Predictions for Label Studio tasks: categories and departments, with scores and model_version."""
    texts = []
    for index, task in enumerate(body.tasks):
        text = getattr(task.data, TEXT_NAME)
        if not isinstance(text, str) or not text.strip():
            raise HTTPException(422, f"tasks[{index}] (id {task.id}) has no data.{TEXT_NAME} to classify")
        texts.append(text)
    check_limits(texts, settings, what="tasks")
    request.state.clauses = len(texts)
    categories, departments = pipeline.taxonomy.ids, pipeline.catalogue.names
    evidence = pipeline.taxonomy.specific_ids
    if body.label_config:
        problem = config_mismatch(body.label_config, pipeline.taxonomy)
        if problem:
            raise HTTPException(422, f"label_config does not fit clausemap ({problem})")
        offered = config_choices(body.label_config)
        categories, departments = offered[CATEGORIES_NAME], offered.get(DEPARTMENTS_NAME, [])
        evidence = offered.get(EVIDENCE_NAME, [])  # an older project's config has no evidence labels
    results = await pipeline.classify_async(texts)
    version = pipeline.model_version
    return PredictResponse(
        results=[prediction(r, version, categories, departments, evidence, settings.suggested_sections)
                 for r in results], model_version=version
    )


@router.post("/webhook", response_model=WebhookResponse)
async def webhook(event: WebhookEvent, settings: ServingSettings = Depends(get_settings),
                  retrainer: Retrainer = Depends(get_retrainer)) -> WebhookResponse:
    """Annotation created/updated or Start Training: queue a retrain and return at once (403 when the service has
    no API key and CLAUSEMAP_RETRAIN_WITHOUT_API_KEY is not set: anyone could then swap its model)."""
    if event.action not in TRAIN_ACTIONS:
        return WebhookResponse(status="ignored")
    if settings.api_key is None and not settings.retrain_without_api_key:
        raise HTTPException(403, "retraining from the webhook is off: set CLAUSEMAP_API_KEY (connect Label Studio "
                                 "with it), or CLAUSEMAP_RETRAIN_WITHOUT_API_KEY=true")
    pid = project_id(event.project)
    if pid is None:
        raise HTTPException(422, f"{event.action} event without a project id")
    job = retrainer.request(pid)
    return WebhookResponse(status=job.status, job=job.id)


@router.get("/webhook/jobs/{job_id}", response_model=TrainJob, responses={404: {"description": "no such job"}})
async def train_job(job_id: str, retrainer: Retrainer = Depends(get_retrainer)) -> TrainJob:
    """A retrain's status: queued, running, done (with the new model_version), skipped or failed."""
    job = retrainer.get(job_id)
    if job is None:
        raise HTTPException(404, f"no retrain job {job_id}")
    return job
