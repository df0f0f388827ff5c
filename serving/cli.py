"""`clausemap serve`: the classification service and web page under uvicorn."""

from __future__ import annotations

from pathlib import Path

from clausemap.errors import ClausemapError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the HTTP API and the web page",
        description="Serve the classification API (/docs) and the web page (/) on a trained model. "
        "Limits and the API key come from CLAUSEMAP_* environment variables (see docs/settings.md).",
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="model artifact (default: models/default, or CLAUSEMAP_MODEL)"
    )
    parser.add_argument("--catalogue", default=None, help="department catalogue file or id (default: the model's)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.set_defaults(func=serve)


def serve(args) -> int:
    if not 0 < args.port < 65536:
        raise ClausemapError(f"--port {args.port}: must be between 1 and 65535")

    from pydantic import ValidationError

    from serving.settings import ServingSettings

    # A path on the command line is relative to the current directory (settings' own paths: to CLAUSEMAP_HOME).
    overrides = {"model": args.model.absolute() if args.model else None, "catalogue": args.catalogue}
    try:
        settings = ServingSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ClausemapError(ServingSettings.problem(exc)) from None
    check_servable(settings)

    import uvicorn

    from serving.app import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def check_servable(settings) -> None:
    """Fail here, in one line, rather than start a service whose model can never become ready."""
    from labels.catalogue import find_catalogue
    from training.inference.predictor import read_artifact_meta

    if not settings.model.is_dir():
        raise ClausemapError(
            f"no model at {settings.model}: build the default one with `make model`, or train one with "
            "`clausemap train --config CONFIG --output DIR` and pass --model DIR"
        )
    read_artifact_meta(settings.model)
    if settings.catalogue:
        find_catalogue(settings.catalogue)
