"""Artifact directories are written whole or not at all.

Training writes into a hidden sibling `.NAME.partial/`; only when everything is there does it take the
place of `NAME/`. A crash leaves the previous artifact untouched (and a `.partial` that the next run clears).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from clausemap.errors import ClausemapError
from training.inference import ARTIFACT_FILE


def is_main_process() -> bool:
    """False on the extra ranks of a `torchrun` / `accelerate launch` run, which must not write."""
    return int(os.environ.get("RANK", "0")) == 0


def utc_stamp() -> tuple[str, str]:
    """(ISO time, compact stamp for model_version)."""
    now = datetime.now(timezone.utc)
    return now.isoformat(timespec="seconds"), now.strftime("%Y%m%dT%H%M%SZ")


def check_replaceable(output: Path) -> None:
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not (output / ARTIFACT_FILE).exists())):
        raise ClausemapError(f"{output} exists and is not a clausemap model; choose another --output")


@contextmanager
def staged_directory(output: Path):
    """Yield (staging dir, scratch dir); on success the staging dir replaces `output`."""
    output = Path(output)
    check_replaceable(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Fixed names, so every process of a distributed run agrees on them.
    staging = output.parent / f".{output.name}.partial"
    scratch = output.parent / f".{output.name}.scratch"
    if is_main_process():
        for leftover in (staging, scratch):
            shutil.rmtree(leftover, ignore_errors=True)
        staging.mkdir()
    try:
        yield staging, scratch
    except BaseException:
        if is_main_process():
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if is_main_process():
            shutil.rmtree(scratch, ignore_errors=True)
    if not is_main_process():
        return
    previous = output.parent / f".{output.name}.previous"
    shutil.rmtree(previous, ignore_errors=True)
    if output.exists():
        os.rename(output, previous)
    os.rename(staging, output)
    shutil.rmtree(previous, ignore_errors=True)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
