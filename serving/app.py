"""The FastAPI application: `create_app()` builds it; `clausemap serve` runs it under uvicorn."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from clausemap import __version__
from clausemap.clauses.isolation import ParserPool
from clausemap.errors import ClausemapError
from serving import api, bureaus_api, contract, feedback_api, ml_backend, schemas
from labels.feedback import FeedbackStore, FeedbackUnavailable
from serving.deps import State, require_api_key
from serving.limits import BodySizeLimit
from serving.origin import SameOriginWrites
from serving.unicode_json import ValidUnicodeJson
from serving.metrics import AccessLog, ServiceMetrics
from serving.runtime import ModelState
from serving.settings import ServingSettings

STATIC_DIR = Path(__file__).with_name("static")


def create_app(settings: ServingSettings | None = None, pipeline: Any | None = None) -> FastAPI:
    """The service. The model in `settings.model` loads in the background at startup (see /readyz);
    pass an already loaded ClausePipeline as `pipeline` to skip that (benchmarks, embedding)."""
    settings = settings or ServingSettings()
    metrics = ServiceMetrics()
    state = ModelState(metrics=metrics, max_batch=settings.max_batch_clauses,
                       batch_wait_s=settings.batch_wait_ms / 1000)
    if pipeline is not None:
        state.replace(pipeline)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.pipeline is None:
            state.start_loading(settings)
        yield
        app.state.feedback.close()
        app.state.parsers.close()

    app = FastAPI(
        title="clausemap",
        version=__version__,
        summary="Categories and responsible sections for the clauses of education work plans",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model = state
    app.state.metrics = metrics
    # Opened now: a broken database is reported (naming the file) at startup, and the service still classifies.
    app.state.feedback = FeedbackStore(settings.feedback_db)
    # Uploaded documents are read in worker processes: a parser bomb ends a worker, not the service.
    app.state.parsers = ParserPool(settings.parse_workers, settings.parse_memory_mb, settings.parse_timeout_s,
                                   budgets=settings)
    app.add_middleware(ValidUnicodeJson)  # inside the size limit: it reads bodies the limit has let through
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Before the body is read: another site's form post is refused unread.
    app.add_middleware(SameOriginWrites, allowed_origins=settings.allowed_origins)
    # Outermost: it sees every request, the ones the size limit refuses too.
    app.add_middleware(AccessLog, metrics=metrics,
                       model_version=lambda: state.pipeline.model_version if state.pipeline else None)
    _add_error_handlers(app)
    _add_health_routes(app)
    _add_metrics_route(app, metrics)
    app.include_router(api.router)
    app.include_router(feedback_api.router)
    app.include_router(bureaus_api.router)
    # Label Studio's ML backend protocol (/health, /setup, /predict, /webhook) sends the key as Basic auth.
    app.include_router(ml_backend.router, dependencies=[Depends(require_api_key)])
    # The page and its assets hold no data; browsers cannot add a key header when navigating to them.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    contract.install(app, key_required=settings.api_key is not None)
    return app


async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=schemas.HealthStatus, tags=["health"])
    async def healthz() -> schemas.HealthStatus:
        """The process is alive (no API key needed)."""
        return schemas.HealthStatus(status="ok")

    not_ready = {503: {"model": schemas.HealthStatus, "headers": contract.RETRY_AFTER}}

    @app.get("/readyz", response_model=schemas.HealthStatus, responses=not_ready, tags=["health"])
    async def readyz(state: State):
        """200 once the model is loaded, 503 while it loads or if it failed (no API key needed)."""
        if state.pipeline is not None:
            return schemas.HealthStatus(status="ready", detail=f"model {state.pipeline.model_version}")
        status = "loading" if state.loading else "failed"
        return JSONResponse(schemas.HealthStatus(status=status, detail=state.error).model_dump(), status_code=503,
                            headers=state.retry_headers)


def _add_metrics_route(app: FastAPI, metrics: ServiceMetrics) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    @app.get("/metrics", tags=["health"], dependencies=[Depends(require_api_key)],
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus_metrics() -> Response:
        """Prometheus metrics in text format (behind the API key when one is set)."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    import re

    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """As FastAPI answers, except that a 405's Allow header lists every method the path documents (Starlette
        names only the first route's: /v1/feedback has a GET and a POST route)."""
        if exc.status_code == 405:
            for template, operations in app.openapi().get("paths", {}).items():
                if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", template), request.url.path):
                    exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(m.upper() for m in operations))}
                    break
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 whose `detail` says in one line what was wrong, with the structured errors beside it."""
        # Without the offending input: a rejected 500-clause body should not be echoed back.
        errors = [{k: v for k, v in err.items() if k not in ("input", "url")} for err in exc.errors()]
        lines = []
        for err in errors:
            if err.get("type") == "json_invalid":
                lines.append(f"request body is not valid JSON: {err.get('ctx', {}).get('error', 'decode error')}")
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            message = err.get("msg", "invalid").removeprefix("Value error, ")
            lines.append(f"{where}: {message}" if where else message)
        structured = jsonable_encoder(errors, custom_encoder={Exception: str})
        return JSONResponse({"detail": "; ".join(lines), "errors": structured}, status_code=422)

    @app.exception_handler(FeedbackUnavailable)
    async def feedback_unavailable(request: Request, exc: FeedbackUnavailable) -> JSONResponse:
        """The corrections database cannot be opened or is locked: the reason, naming the file."""
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(ClausemapError)
    async def unusable_input(request: Request, exc: ClausemapError) -> JSONResponse:
        """A plan that cannot be read or segmented (InputFileError names the file): the error's http_status, 422
        unless it says otherwise (e.g. 503 for a bureau whose catalogue file is broken: not the client's fault)."""
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status,
                            headers=contract.retry_after(exc.retry_after_s))
