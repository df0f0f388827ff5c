"""Reading the project's JSONL and YAML files, with errors that name the file and line."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import yaml

from clausemap.errors import ClausemapError, InputFileError

# libyaml's safe loader where PyYAML was built with it (the wheels are): the function lexicon and a catalogue load
# 7x faster, which the service pays at every start. Same documents, same safety.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as exc:
        raise InputFileError(path, f"cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputFileError(path, f"{what} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # What is wrong and where, in one line: not str(exc), which quotes the file's lines.
        problem = ", ".join(p for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p)
        where = f" (column {mark.column + 1})" if mark is not None else ""
        raise InputFileError(path, f"invalid YAML: {problem or type(exc).__name__}{where}",
                             None if mark is None else mark.line + 1) from None


def temp_sibling(path: Path) -> tuple[int, str]:
    """(open descriptor, name) of a new, uniquely named temporary file beside `path` (its folder made if missing),
    readable like an ordinary shared file, for writing first and renaming onto `path` after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp makes 0600
    return fd, tmp


def write_text_atomic(path: str | Path, text: str, exclusive: bool = False) -> Path:
    """Write a UTF-8 file atomically (write_bytes_atomic)."""
    return write_bytes_atomic(path, text.encode("utf-8"), exclusive)


def write_bytes_atomic(path: str | Path, data: bytes, exclusive: bool = False) -> Path:
    """Write a file through a uniquely named temporary file in its folder, so a reader (or a crash) never sees half
    of it and concurrent writers never share a temporary file. exclusive: only create it: FileExistsError when the
    file is there, also when another process made it first (a hard link never replaces a file)."""
    path = Path(path)
    fd, tmp = temp_sibling(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: claim the name (O_EXCL), then fill it
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_texts_atomic(contents: dict[Path, str]) -> None:
    """Write each file to a temporary sibling first and rename only when all are written, so a failure never
    leaves a half-written file behind (ClausemapError names the file)."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in contents.items():
            path = Path(path)
            fd, tmp = temp_sibling(path)
            temps.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        for tmp, path in temps:
            os.replace(tmp, path)
    except OSError as exc:
        raise ClausemapError(f"cannot write {exc.filename or 'output'}: {exc.strerror}") from None
    finally:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
