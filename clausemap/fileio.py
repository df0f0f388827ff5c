"""Reading the project's JSONL and YAML files, with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from clausemap.errors import InputFileError


def read_jsonl_objects(path: str | Path, what: str = "") -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a UTF-8 JSONL file; errors name the file and line.

    `what` names the kind of file in the error ("dataset").
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputFileError(path, f"cannot read{' ' + what if what else ''}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputFileError(path, "not UTF-8 text") from None
    objects = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"invalid JSON: {exc.msg}", number) from None
        if not isinstance(row, dict):
            raise InputFileError(path, "each line must be a JSON object", number)
        objects.append((number, row))
    return objects


def read_yaml(path: str | Path, what: str):
    """The parsed YAML document at `path`; `what` names the kind of file in the error ("taxonomy")."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputFileError(path, f"{what} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputFileError(path, f"invalid YAML: {exc}", None if line is None else line + 1) from None
