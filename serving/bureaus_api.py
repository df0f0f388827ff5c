"""`/v1/catalogues`: the bureaus the service suggests sections for, and a new bureau from last year's table.

Requests name their bureau with `catalogue` (an id); serving.api.bureau_pipeline resolves it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from clausemap.errors import ClausemapError
from labels.catalogue import BUREAU_NAME_MAX_LENGTH, CATALOGUE_ID_MAX_LENGTH, CATALOGUE_ID_PATTERN
from serving import schemas
from serving.api import ERRORS, form_text, media_type, read_document, uploaded_file
from serving.deps import Pipeline, Settings, require_api_key
from serving.runtime import SerializedPipeline

router = APIRouter(prefix="/v1/catalogues", tags=["bureaus"], dependencies=[Depends(require_api_key)],
                   responses=ERRORS)


def _summary(catalogue, pipeline: SerializedPipeline, owners: dict[str, str]) -> dict:
    """A catalogue's line in the listing; `history` counts what its suggester learns from (`owners`:
    labels.bureaus.plan_owners())."""
    return dict(id=catalogue.id, bureau=catalogue.bureau, sections=len(catalogue.departments),
                history=pipeline.history_size(catalogue, owners), default=catalogue.id == pipeline.catalogue.id)


@router.get("", response_model=schemas.CataloguesResponse)
async def list_catalogues(pipeline: Pipeline) -> schemas.CataloguesResponse:
    """Every bureau the service knows: the default one first, then the catalogue folders' (by id); under
    `unavailable`, those whose catalogue file is broken, with the reason."""
    from labels.bureaus import plan_owners
    from labels.catalogue import available_catalogues

    def collect():
        default = pipeline.catalogue
        found, broken = available_catalogues()
        owners = plan_owners()
        listed = [schemas.CatalogueSummary(**_summary(c, pipeline, owners))
                  for c in [default, *(c for c in found if c.id != default.id)]]
        return schemas.CataloguesResponse(
            catalogues=listed, unavailable=[schemas.UnavailableCatalogue(id=i, error=e) for i, e in broken.items()])

    return await run_in_threadpool(collect)


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
                        "bureau": {"type": "string", "minLength": 1, "maxLength": BUREAU_NAME_MAX_LENGTH,
                                   "description": "the bureau's name"},
                        "id": {"type": "string", "pattern": CATALOGUE_ID_PATTERN,
                               "maxLength": CATALOGUE_ID_MAX_LENGTH,
                               "description": "catalogue id (default: made from the name)"},
                    },
                }
            }
        },
    }
}


@router.post("", status_code=201, response_model=schemas.CatalogueCreated, openapi_extra=CREATE_BODY,
             responses={409: {"model": schemas.ErrorResponse}})
async def create_catalogue(request: Request, pipeline: Pipeline, settings: Settings) -> schemas.CatalogueCreated:
    """Start a new bureau from its breakdown table: a catalogue of the sections it names (categories from the
    served model) and the table as the bureau's history. 409 when the id is taken or the service has
    CLAUSEMAP_MAX_BUREAUS bureaus. The form is checked before the table is read, the table before anything is
    written."""
    from clausemap.clauses.tables import TABLE_SUFFIXES, decode_table
    from labels.bureaus import check_new_bureau, create_bureau, plan_owners

    if media_type(request) != "multipart/form-data":
        raise HTTPException(415, "upload the table as multipart/form-data with fields 'file' and 'bureau'")
    async with request.form(max_files=1, max_fields=4) as form:
        filename, data = await uploaded_file(form, TABLE_SUFFIXES, "the breakdown table")
        bureau, catalogue_id = form_text(form, "bureau"), form_text(form, "id")
        if bureau is None:
            raise HTTPException(422, "name the bureau in the form field 'bureau'")

    def categorise(texts):
        return [list(r.labels) for r in pipeline.classify(list(texts))]

    def create():
        check_new_bureau(bureau, catalogue_id, settings.max_bureaus)  # before the table is read
        table = read_document(request, decode_table, data, filename)
        catalogue, _, _ = create_bureau([table], bureau, catalogue_id, categorise, max_bureaus=settings.max_bureaus)
        return table, catalogue

    try:
        table, catalogue = await run_in_threadpool(create)
    except ClausemapError as exc:  # 409 for a taken id or the bureau limit, 422 for the table
        raise HTTPException(exc.http_status, str(exc)) from None
    return schemas.CatalogueCreated(
        **_summary(catalogue, pipeline, plan_owners()), tasks=len(table.items),
        departments=[schemas.CatalogueDepartment(**d.model_dump(exclude={"keywords"})) for d in catalogue.departments],
    )
