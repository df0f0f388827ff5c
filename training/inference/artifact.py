"""The model artifact: its typed description (clausemap.json), read and written here only, and directories
written whole or not at all.

    meta = read_meta("models/default")      # ArtifactMeta, validated; an unknown format is a clear error
    meta.kind, meta.labels, meta.thresholds, meta.model_version, meta.taxonomy_path

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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from clausemap.errors import ClausemapError, InputFileError

ARTIFACT_FILE = "clausemap.json"
# The taxonomy the model was trained on, shipped with it (artifacts before format 2 have none).
TAXONOMY_FILE = "taxonomy.yaml"
FORMAT = 2  # 2: typed description, `unit`, kind details apart, shipped taxonomy
READABLE_FORMATS = (1, 2)
_CORE_KEYS_V1 = {"format", "kind", "model_version", "config_name", "labels", "fallback", "thresholds", "data_hash",
                 "trained_at", "n_train", "n_heldout", "metrics", "config", "train_seconds", "max_length", "unit",
                 "n_train_written", "thresholds_from"}


class ArtifactMeta(BaseModel):
    """What clausemap.json says of a model: everything but the kind's own files."""

    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    kind: str
    unit: Literal["clause", "sentence"] = "clause"
    model_version: str
    config_name: str
    labels: list[str] = Field(min_length=1)
    fallback: str
    thresholds: dict[str, float]
    data_hash: str
    trained_at: str
    n_train: int
    n_train_written: int = 0
    n_heldout: int = 0
    thresholds_from: Literal["heldout", "out-of-fold", "default"] = "heldout"
    metrics: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(description="the resolved training config")
    max_length: int | None = Field(None, description="tokens per unit the predictor truncates to")
    train_seconds: float | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="kind-specific facts (base_model, …)")

    @model_validator(mode="before")
    @classmethod
    def _format_1(cls, data):
        """Format 1 kept the kind's facts (base_model, vocabulary_size, …) beside the core keys."""
        if isinstance(data, dict) and data.get("format") == 1:
            data = dict(data)
            data["details"] = {k: data.pop(k) for k in list(data) if k not in _CORE_KEYS_V1}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if self.fallback not in self.labels:
            raise ValueError(f"fallback {self.fallback!r} is not one of the labels")
        missing = [label for label in self.labels if label not in self.thresholds]
        if missing:
            raise ValueError(f"no thresholds for {missing}")
        return self

    @property
    def info(self) -> dict[str, Any]:
        """The summary /v1/model and the report show."""
        keys = ("kind", "unit", "config_name", "data_hash", "metrics", "trained_at", "model_version",
                "thresholds_from", "n_train", "n_train_written")
        return {key: getattr(self, key) for key in keys} | {"details": self.details}


def read_meta(path: str | Path) -> ArtifactMeta:
    """The validated description of the artifact in `path`; errors name the file and say what to do."""
    path = Path(path)
    meta_file = path / ARTIFACT_FILE
    if not meta_file.is_file():
        raise InputFileError(path, f"not a clausemap model (no {ARTIFACT_FILE}); train one with `clausemap train`")
    try:
        raw = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(meta_file, f"unreadable: {exc}") from None
    version = raw.get("format", 1) if isinstance(raw, dict) else None
    if version not in READABLE_FORMATS:
        raise InputFileError(meta_file, f"artifact format {version!r} is not one this clausemap reads "
                                        f"({', '.join(map(str, READABLE_FORMATS))}): upgrade clausemap, or retrain "
                                        "the model with this one (`clausemap train --config …`)")
    try:
        meta = ArtifactMeta.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputFileError(meta_file, f"{where}: {first['msg']}") from None
    from training.kinds import get_kind

    try:
        get_kind(meta.kind)
    except KeyError as exc:
        raise InputFileError(meta_file, exc.args[0]) from None
    return meta


def write_meta(directory: Path, meta: ArtifactMeta) -> None:
    write_json(Path(directory) / ARTIFACT_FILE, meta.model_dump(mode="json"))


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
