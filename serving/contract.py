"""The OpenAPI document says what the service really does.

FastAPI declares its own 422 body (`detail` as a list) and the API-key security schemes on every route; the
service answers errors as `ErrorResponse` (`detail` a string, optional `errors`), and checks a key only when
`CLAUSEMAP_API_KEY` is set. `contract_openapi` rewrites the generated document accordingly: every error status a
route can return is declared with the real error model, and the security scheme appears exactly when a key is
configured.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from serving.schemas import ErrorResponse

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
# Routes that answer without a model and without a key.
OPEN_ROUTES = {"/healthz", "/readyz"}
# Routes that need no loaded model (everything else answers 503 while it loads or if it failed).
NO_MODEL_ROUTES = OPEN_ROUTES | {"/metrics", "/webhook", "/webhook/jobs/{job_id}"}
WHY = {
    "400": "the body could not be read (not UTF-8, or cut off)",
    "401": "missing or wrong API key (only when CLAUSEMAP_API_KEY is set)",
    "403": "a browser request from another site (serving.origin), or webhook retraining without an API key",
    "413": "request body over CLAUSEMAP_MAX_BODY_BYTES",
    "415": "wrong content type or file type",
    "422": "invalid request, or input the service cannot use (the detail says which)",
    "503": "the model is loading or failed to load",
}
# A 503 that passes (the model loading, no document parser could start) says when to try again; one that lasts
# (a model that failed to load, a broken catalogue) does not.
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again, when the 503 will pass",
                               "schema": {"type": "integer"}}}


def retry_after(seconds: int | None) -> dict[str, str] | None:
    """The headers of a 503 that passes in `seconds`; None for one that lasts."""
    return {"Retry-After": str(seconds)} if seconds else None


def _error(status: str) -> dict[str, Any]:
    error = {"description": WHY.get(status, "error"), "content": {"application/json": {"schema": ERROR_REF}}}
    return {**error, "headers": RETRY_AFTER} if status == "503" else error


def contract_openapi(app: FastAPI, key_required: bool, vocabulary: tuple[list[str], list[str]] | None = None,
                     catalogues: list[str] | None = None) -> dict[str, Any]:
    """`vocabulary`: the served model's category ids, which a correction must use, and the default catalogue's
    section names (and aliases), listed in the description only: a correction may name another bureau's
    catalogue, whose sections are other names. Without a loaded model the schema cannot name them."""
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    correction = schemas.get("Correction", {}).get("properties", {})
    if vocabulary and correction:
        categories, sections = vocabulary
        correction["categories"]["items"]["enum"] = categories
        for key in ("lead_departments", "cooperating_departments"):
            correction[key]["description"] = (f"{correction[key].get('description', '')}; names of the catalogue "
                                              f"named in `catalogue`, by default: {'、'.join(sections)}")
    if catalogues:
        _name_catalogues(schema, catalogues)
    schemas["ErrorResponse"] = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, response in list(responses.items()):
                # /readyz answers 503 with its HealthStatus; every other error is an ErrorResponse.
                if status[0] in "45" and not (path == "/readyz" and status == "503"):
                    responses[status] = {**_error(status), "description": response.get("description") or WHY.get(status, "error")}
            if method in ("post", "put", "patch", "delete"):
                responses.setdefault("403", _error("403"))
            if method in ("post", "put", "patch"):
                responses.setdefault("413", _error("413"))
                responses["422"] = _error("422")
                if "requestBody" in operation:
                    responses.setdefault("400", _error("400"))
                    responses.setdefault("415", _error("415"))
            if path not in NO_MODEL_ROUTES:
                responses.setdefault("503", _error("503"))
            if path in OPEN_ROUTES or not key_required:
                operation.pop("security", None)
            else:
                responses.setdefault("401", _error("401"))
    if not key_required:
        components.pop("securitySchemes", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return schema


def _name_catalogues(node: Any, ids: list[str]) -> None:
    """Every `catalogue` field and parameter lists the usable catalogue ids (any other is a 422, or a 503 when its
    file is broken)."""
    if isinstance(node, dict):
        targets = [node["properties"]["catalogue"]] if isinstance(node.get("properties"), dict) \
            and "catalogue" in node["properties"] else []
        if node.get("name") == "catalogue" and "schema" in node:
            targets.append(node["schema"])
        for target in targets:
            for branch in target.get("anyOf", [target]):
                if branch.get("type") == "string":
                    branch["enum"] = ids
        for value in node.values():
            _name_catalogues(value, ids)
    elif isinstance(node, list):
        for value in node:
            _name_catalogues(value, ids)


def install(app: FastAPI, key_required: bool) -> None:
    cache: dict[Any, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        from labels.catalogue import available_catalogues

        pipeline = app.state.model.pipeline
        # A new bureau (POST /v1/catalogues), a catalogue file broken or mended, or a retrained model changes the
        # schema. Broken catalogues are left out: they answer 503 (GET /v1/catalogues lists them as unavailable).
        version = (pipeline.model_version, tuple(c.id for c in available_catalogues()[0])) \
            if pipeline is not None else None
        if version not in cache:
            vocabulary, catalogues = None, None
            if pipeline is not None:
                sections = [w for d in pipeline.catalogue.departments for w in (d.name, *d.aliases)]
                vocabulary = (pipeline.taxonomy.ids, list(dict.fromkeys(sections)))
                catalogues = list(dict.fromkeys([pipeline.catalogue.id, *version[1]]))
            cache.clear()
            cache[version] = contract_openapi(app, key_required, vocabulary, catalogues)
        return cache[version]

    app.openapi = openapi
