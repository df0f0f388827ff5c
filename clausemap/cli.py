"""The `clausemap` command. Each stage of the data flow registers its own subcommands.

Handlers import their heavy dependencies (torch, transformers) lazily, so `clausemap --help` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pydantic import ValidationError

from clausemap import __version__
from clausemap.errors import ClausemapError
from clausemap.settings import Settings

# A bad CLAUSEMAP_* value found while a command runs is a one-line error naming the variable.
SETTINGS_MODELS = {"Settings", "DocumentBudgets", "ServingSettings"}

# One module per stage; each defines register(subparsers) and sets `func` on its parsers.
COMMAND_MODULES = [
    "clausemap.clauses.cli",  # segment
    "labels.cli",  # label init/push/pull, data build
    "labels.bureau_cli",  # catalogue init/list, history add
    "training.cli",  # models fetch, train, evaluate, cv
    "training.departments.cli",  # evaluate-departments
    "serving.cli",  # serve
]
# Stages that provide services to earlier ones (clausemap.hooks); each defines provide_hooks().
HOOK_PROVIDERS = [
    "training.cli",  # the model loader behind `label push --model` and `catalogue init --model`
]


# Loggers whose INFO lines are a command's progress (training: an ensemble's members, ...), shown on stderr.
PROGRESS_LOGGERS = ("training",)


class _Stderr(logging.StreamHandler):
    """Writes to sys.stderr as it is when a line is logged (a caller may have replaced it since)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def show_progress() -> None:
    """The progress lines of PROGRESS_LOGGERS on stderr, as `[logger] message`; once per process however often it
    is called. main calls it for the command; importing a module configures no logging, and other libraries'
    INFO lines stay hidden."""
    for name in PROGRESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, _Stderr) for handler in logger.handlers):
            handler = _Stderr()
            handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
            logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def provide_hooks() -> None:
    """Register what later stages provide to earlier ones, explicitly, before a command runs."""
    for name in HOOK_PROVIDERS:
        importlib.import_module(name).provide_hooks()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clausemap",
        description="Segment education work plans into clauses, classify them and suggest responsible sections.",
    )
    parser.add_argument("--version", action="version", version=f"clausemap {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except ValidationError as exc:
        if exc.title not in SETTINGS_MODELS:
            raise
        print(f"clausemap: error: {Settings.problem(exc)}", file=sys.stderr)
        return 2


def _run(argv: list[str] | None) -> int:
    parser = build_parser()  # defaults shown in --help come from the settings
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    provide_hooks()
    show_progress()
    try:
        return int(args.func(args) or 0)
    except ClausemapError as exc:
        print(f"clausemap: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("clausemap: interrupted", file=sys.stderr)
        return 130

if __name__ == "__main__":
    sys.exit(main())
