"""`/v1/catalogues`: the bureaus the service suggests sections for, and a new bureau from last year's table.

Requests name their bureau with `catalogue` (an id); serving.api.bureau_pipeline resolves it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clausemap.errors import ClausemapError
from serving import schemas
from serving.api import ERRORS
from serving.deps import Pipeline, require_api_key
from serving.runtime import SerializedPipeline

router = APIRouter(prefix="/v1/catalogues", tags=["bureaus"], dependencies=[Depends(require_api_key)],
                   responses=ERRORS)


def _summary(catalogue, pipeline: SerializedPipeline) -> dict:
    """A catalogue's line in the listing; `history` counts what its suggester learns from (labels.bureaus)."""
    from labels.bureaus import belongs, plan_owners, read_history

    default = catalogue.id == pipeline.catalogue.id
    owners = plan_owners()
    texts = {r["text"] for r in pipeline.pipeline.history.rows if belongs(r, catalogue, default, owners)}
    texts.update(r["text"] for r in read_history(catalogue.id))
    return dict(id=catalogue.id, bureau=catalogue.bureau, sections=len(catalogue.departments), history=len(texts),
                default=default)


@router.get("", response_model=schemas.CataloguesResponse)
async def list_catalogues(pipeline: Pipeline) -> schemas.CataloguesResponse:
    """Every bureau the service knows: the default one first, then the catalogue folders' (by id)."""
    from labels.catalogue import catalogue_ids, find_catalogue

    def collect():
        default = pipeline.catalogue
        others = [find_catalogue(i) for i in catalogue_ids() if i != default.id]
        return [schemas.CatalogueSummary(**_summary(c, pipeline)) for c in [default, *others]]

    return schemas.CataloguesResponse(catalogues=await run_in_threadpool(collect))


CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "bureau"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "last year's breakdown table: .xlsx, .csv, .docx or .html"},
                        "bureau": {"type": "string", "minLength": 1, "description": "the bureau's name"},
                        "id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$",
                               "description": "catalogue id (default: made from the name)"},
                    },
                }
            }
        },
    }
}


@router.post("", status_code=201, response_model=schemas.CatalogueCreated, openapi_extra=CREATE_BODY,
             responses={409: {"model": schemas.ErrorResponse}})
async def create_catalogue(request: Request, pipeline: Pipeline) -> schemas.CatalogueCreated:
    """Start a new bureau from its breakdown table: a catalogue of the sections it names (categories from the
    served model) and the table as the bureau's history. 409 when the id is taken."""
    from clausemap.clauses.tables import TABLE_SUFFIXES, decode_table
    from labels.bureaus import CatalogueExists, create_bureau

    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise HTTPException(415, "upload the table as multipart/form-data with fields 'file' and 'bureau'")
    async with request.form(max_files=1, max_fields=4) as form:
        upload, bureau, catalogue_id = form.get("file"), form.get("bureau"), form.get("id")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise HTTPException(422, "upload the breakdown table as a file in the form field 'file'")
        if Path(upload.filename).suffix.lower() not in TABLE_SUFFIXES:
            raise HTTPException(415, f"{upload.filename}: unsupported file type; upload one of "
                                     f"{', '.join(TABLE_SUFFIXES)}")
        if not isinstance(bureau, str) or not bureau.strip():
            raise HTTPException(422, "name the bureau in the form field 'bureau'")
        data = await upload.read()
        filename = upload.filename
    catalogue_id = catalogue_id.strip() if isinstance(catalogue_id, str) and catalogue_id.strip() else None

    def categorise(texts):
        return [list(r.labels) for r in pipeline.classify(list(texts))]

    def create():
        table = decode_table(data, filename)
        catalogue, _, _ = create_bureau([table], bureau, catalogue_id, categorise)
        return table, catalogue

    try:
        table, catalogue = await run_in_threadpool(create)
    except CatalogueExists as exc:
        raise HTTPException(409, str(exc)) from None
    except ClausemapError as exc:
        raise HTTPException(422, str(exc)) from None
    return schemas.CatalogueCreated(
        **_summary(catalogue, pipeline), tasks=len(table.items),
        departments=[schemas.CatalogueDepartment(**d.model_dump(exclude={"keywords"})) for d in catalogue.departments],
    )
