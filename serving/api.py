"""The /v1 HTTP API: classify clauses, classify whole plans (JSON or file upload, JSON/CSV/XLSX out)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clausemap.clauses.ingest import SUFFIXES as UPLOAD_SUFFIXES
from clausemap.clauses.limits import OverLimitError, TextLimits, check_clause_chars, check_clause_count
from clausemap.errors import ClausemapError
from labels.catalogue import CATALOGUE_ID_MAX_LENGTH, CATALOGUE_ID_PATTERN, check_catalogue_id
from serving import exports, results, schemas
from serving.deps import Pipeline, Settings, require_api_key
from serving.limits import text_limits
from serving.settings import ServingSettings

ERRORS = {code: {"model": schemas.ErrorResponse} for code in (401, 413, 415, 422, 503)}

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], responses=ERRORS)


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


def require_json(request: Request) -> None:
    if media_type(request) != "application/json":
        raise HTTPException(415, "send the request body as JSON with Content-Type: application/json")


async def bureau_pipeline(pipeline, catalogue: str | None):
    """The pipeline whose catalogue names a request's sections (fitting that bureau's suggester on its own history
    the first time); 422 naming the known ids for an unknown one, 503 with the reason for one whose file is
    broken."""
    if catalogue is None:
        return pipeline
    try:
        return await run_in_threadpool(pipeline.for_catalogue, catalogue)
    except ClausemapError as exc:
        raise HTTPException(exc.http_status, str(exc)) from None


def check_limits(texts: list[str], settings: ServingSettings, what: str = "clauses") -> None:
    """422 naming the limit when a request has too many clauses or too long a clause."""
    limits = text_limits(settings)
    try:
        check_clause_count(len(texts), limits, what)
        for index, text in enumerate(texts):
            check_clause_chars(index, text, limits)
    except OverLimitError as exc:
        raise HTTPException(exc.http_status, str(exc)) from None


@router.post("/classify", response_model=schemas.ClassifyResponse, dependencies=[Depends(require_json)])
async def classify(
    body: schemas.ClassifyRequest,
    request: Request,
    pipeline: Pipeline,
    settings: Settings,
) -> schemas.ClassifyResponse:
    """Categories (all, with scores), labels and suggested sections for each clause text."""
    check_limits(body.clauses, settings)
    request.state.clauses = len(body.clauses)  # for the access log
    bureau = await bureau_pipeline(pipeline, body.catalogue)
    outputs = await pipeline.classify_async(body.clauses, body.catalogue)
    return schemas.ClassifyResponse(
        model_version=pipeline.model_version,
        catalogue=bureau.catalogue.id,
        results=[
            schemas.ClauseClassification(**results.classification(text, out, bureau, settings))
            for text, out in zip(body.clauses, outputs, strict=True)
        ],
    )


PLAN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": schemas.PlanRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "a .txt, .docx, .pdf, .html or .xlsx plan"},
                        "doc": {"type": "string", "description": "a name for the plan (default: the file name)"},
                        "catalogue": {"type": "string", "pattern": CATALOGUE_ID_PATTERN,
                                      "description": "the bureau's catalogue id (default: the service's)"},
                    },
                }
            },
        },
    }
}
PLAN_RESPONSES = {
    200: {
        "description": "the plan's clauses with their classification; CSV or XLSX with ?format=",
        "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in exports.MEDIA_TYPES.values()},
    }
}


def _corrections_for(request: Request, texts: list[str]) -> dict[str, dict]:
    """Staff corrections of these clause texts (none when the feedback store is unavailable)."""
    store = request.app.state.feedback
    if store.error:
        return {}
    return store.latest_for(texts)


@router.post("/plans", response_model=schemas.PlanResponse, openapi_extra=PLAN_BODY, responses=PLAN_RESPONSES)
async def classify_plan(
    request: Request,
    pipeline: Pipeline,
    settings: Settings,
    format: Annotated[ExportFormat, Query(description="json, or a csv/xlsx task-breakdown table")] = ExportFormat.json,
):
    """Segment a whole plan (JSON text or an uploaded file) into clauses and classify each one."""
    # Segmentation stops at the first limit passed (OverLimitError: 413 for the plan's size, else 422).
    document, catalogue = await _segment_request(request, text_limits(settings))
    if not document.clauses:
        raise HTTPException(422, "no numbered clauses found in the plan")
    request.state.clauses = len(document.clauses)
    bureau = await bureau_pipeline(pipeline, catalogue)
    outputs = await pipeline.classify_async([c.text for c in document.clauses], catalogue)
    clauses = [
        results.plan_clause(c, out, bureau, settings) for c, out in zip(document.clauses, outputs, strict=True)
    ]
    corrections = await run_in_threadpool(_corrections_for, request, [c.text for c in clauses])
    clauses = [results.corrected(c, corrections[c.text]) if c.text in corrections else c for c in clauses]
    plan = schemas.PlanResponse(
        model_version=pipeline.model_version,
        catalogue=bureau.catalogue.id,
        doc=document.doc,
        title=document.title,
        clauses=clauses,
        summary=results.summarize(clauses, pipeline.taxonomy),
    )
    if format is ExportFormat.json:
        return plan
    # Building a workbook takes a while for a long plan: off the event loop, like inference.
    if format is ExportFormat.csv:
        data = await run_in_threadpool(exports.to_csv, plan)
    else:
        data = await run_in_threadpool(exports.to_xlsx, plan)
    return Response(
        data,
        media_type=exports.MEDIA_TYPES[format.value],
        headers={"Content-Disposition": exports.content_disposition(plan.doc, format.value)},
    )


async def _segment_request(request: Request, limits: TextLimits):
    """The plan's segmented document, and the catalogue id the request names (None: the default)."""
    from clausemap.clauses import segment_bytes, segment_text

    kind = media_type(request)
    if kind == "application/json":
        try:
            plan = schemas.PlanRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        return await run_in_threadpool(segment_text, plan.text, doc=plan.doc, limits=limits), plan.catalogue
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=5) as form:
            filename, data = await uploaded_file(form, UPLOAD_SUFFIXES, "the plan")
            doc = form_text(form, "doc")  # default: the file name
            catalogue = form_text(form, "catalogue")
            if catalogue is not None:
                try:
                    check_catalogue_id(catalogue)
                except ClausemapError as exc:
                    raise HTTPException(422, str(exc)) from None
            return await run_in_threadpool(read_document, request, segment_bytes, data, filename, doc,
                                           limits), catalogue
    raise HTTPException(
        415, "send the plan as JSON {\"text\": ...} (application/json) or as a file upload (multipart/form-data)"
    )


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def uploaded_file(form, suffixes: tuple[str, ...], what: str) -> tuple[str, bytes]:
    """(name, bytes) of the form's 'file'; 422 when there is none, 415 when its type is not one of `suffixes`."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(422, f"upload {what} as a file in the form field 'file'")
    if Path(upload.filename).suffix.lower() not in suffixes:
        raise HTTPException(415, f"{upload.filename}: unsupported file type; upload one of {', '.join(suffixes)}")
    return upload.filename, await upload.read()


def read_document(request: Request, reader, data: bytes, filename: str, *args):
    """`reader(data, filename, *args)` in one of the service's parser worker processes (app.state.parsers), so
    that a parser bomb costs a worker, not the service; OverBudgetError (413) naming the limit it passed.
    Blocking: call it off the event loop."""
    return request.app.state.parsers.run(reader, data, filename, *args, filename=filename)


def form_text(form, name: str) -> str | None:
    """A form field's text, stripped; None when it is missing or blank; 422 past schemas.NAME_CHARS."""
    value = form.get(name)
    if isinstance(value, str) and len(value.strip()) > schemas.NAME_CHARS:
        raise HTTPException(422, f"form field {name!r} has {len(value.strip())} characters, over the limit of "
                                 f"{schemas.NAME_CHARS}")
    return value.strip() if isinstance(value, str) and value.strip() else None


@router.get("/taxonomy", response_model=schemas.TaxonomyResponse)
async def taxonomy(pipeline: Pipeline) -> schemas.TaxonomyResponse:
    """The categories the model assigns, in label order."""
    return schemas.TaxonomyResponse(
        categories=[schemas.TaxonomyCategory(**c.model_dump()) for c in pipeline.taxonomy.categories]
    )


@router.get("/departments", response_model=schemas.DepartmentsResponse)
async def departments(
    pipeline: Pipeline,
    catalogue: Annotated[str | None, Query(pattern=CATALOGUE_ID_PATTERN, max_length=CATALOGUE_ID_MAX_LENGTH,
                                           description="a bureau's catalogue id (default: the service's)")] = None,
) -> schemas.DepartmentsResponse:
    """The department catalogue the suggestions come from (the service's, or the bureau named)."""
    catalogue = (await bureau_pipeline(pipeline, catalogue)).catalogue
    return schemas.DepartmentsResponse(
        id=catalogue.id,
        bureau=catalogue.bureau,
        departments=[schemas.CatalogueDepartment(**d.model_dump(exclude={"keywords"})) for d in catalogue.departments],
    )


@router.get("/model", response_model=schemas.ModelInfo)
async def model_info(pipeline: Pipeline) -> schemas.ModelInfo:
    """Model version, training-data hash, evaluation metrics and the tuned thresholds."""
    info = dict(pipeline.info)
    return schemas.ModelInfo(
        version=pipeline.model_version,
        data_hash=info.pop("data_hash", None),
        metrics=info.pop("metrics", None) or {},
        thresholds=pipeline.thresholds,
        info=jsonable_encoder(info),
    )
