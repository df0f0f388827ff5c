"""Retraining from a Label Studio project, in the background, for the ML backend's /webhook.

A request never trains: it queues a job; one worker thread runs the jobs one at a time. Requests that
arrive while a job is still queued join that job, so a burst of annotations causes one retrain, not many.
It lives in the serving stage because it joins all the others: Label Studio exports (labels), training, and
the service's model swap.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clausemap.settings import Settings

log = logging.getLogger("clausemap.retrain")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class TrainJob:
    id: str
    project: int
    status: str = "queued"  # queued | running | done | skipped | failed
    model_version: str | None = None  # the new model's, once done
    detail: str | None = None
    queued_at: str = field(default_factory=_now)
    finished_at: str | None = None


class Retrainer:
    """Runs `retrain(project_id)` jobs one at a time in a daemon thread.

    `retrain` returns the new pipeline, or None when there is nothing to train on; `on_trained` receives
    each new pipeline (the service swaps it in).
    """

    def __init__(self, retrain: Callable[[int], Any], on_trained: Callable[[Any], None]):
        self._retrain = retrain
        self._on_trained = on_trained
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainJob] = {}
        self._queue: list[TrainJob] = []
        self._worker: threading.Thread | None = None

    def request(self, project_id: int) -> TrainJob:
        with self._lock:
            for job in self._queue:
                if job.project == project_id:
                    return job
            job = TrainJob(id=uuid.uuid4().hex[:12], project=project_id)
            self._jobs[job.id] = job
            self._queue.append(job)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="clausemap-retrain", daemon=True)
                self._worker.start()
            return job

    def get(self, job_id: str) -> TrainJob | None:
        return self._jobs.get(job_id)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._worker = None
                    return
                job = self._queue.pop(0)
                job.status = "running"
            self._run(job)

    def _run(self, job: TrainJob) -> None:
        try:
            pipeline = self._retrain(job.project)
            if pipeline is None:
                job.status, job.detail = "skipped", "the project has no usable annotations yet"
            else:
                self._on_trained(pipeline)
                job.status, job.model_version = "done", pipeline.model_version
        except Exception as exc:  # reported by the job status; the service keeps its current model
            log.exception("retrain for project %s failed", job.project)
            # The first line only; Studio's errors never quote what Label Studio answered (that goes to the log).
            job.status, job.detail = "failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        job.finished_at = _now()


def merged_rows(base: list[dict], annotated: list[dict]) -> list[dict]:
    """The base dataset with the project's annotations added; an annotated clause replaces its base row."""
    ids = {r["id"] for r in annotated}
    return [r for r in base if r["id"] not in ids] + annotated


def prune_retrained(root: Path, keep: int, protect: set[Path]) -> list[Path]:
    """Delete all but the `keep` newest model directories under `root`, never one in `protect` (the model being
    served); returns what was deleted."""
    import shutil

    if not root.is_dir():
        return []
    models = sorted((p for p in root.iterdir() if p.is_dir() and (p / "clausemap.json").is_file()),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    protected = {p.resolve() for p in protect}
    removed = []
    for old in models[keep:]:
        if old.resolve() not in protected:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed


def retrain_from_studio(studio, project_id: int, pipeline, dataset: Path | None = None,
                        output_root: Path | None = None, keep: int = 3) -> Any:
    """Train the serving model's recipe on `dataset` (when present: the base rows, with their sentence labels)
    plus the project's annotations, and the config's written rows; returns the new ClausePipeline, or None when
    the project has no usable annotation."""
    from labels.dataset import convert_export
    from labels.rows import read_rows
    from training.config import validate_config
    from training.data import example_from_row
    from training.inference.pipeline import load_pipeline, write_annotated_rows
    from training.train import config_examples, train

    taxonomy = pipeline.taxonomy
    annotated = convert_export(studio.export(project_id), taxonomy, pipeline.catalogue).rows
    if not annotated:
        return None
    # The base rows are checked as every row file is (a bad row names the file and line; the job fails with it).
    base = [r.as_dict() for r in read_rows(dataset, "dataset", taxonomy)] if dataset and dataset.is_file() else []
    rows = merged_rows(base, annotated)
    config = validate_config(pipeline.config, f"model {pipeline.model_version}")
    root = Path(output_root) if output_root else Settings().retrained_models
    output = root / f"project{project_id}-{uuid.uuid4().hex[:8]}"
    written = [ex for ex in config_examples(config, taxonomy, dataset=False) if ex.written]
    train(config, output, [example_from_row(r, taxonomy) for r in rows] + written)
    write_annotated_rows(output, [r for r in rows if r.get("departments")] or pipeline.annotated.rows, taxonomy)
    log.info("retrained on %d rows (%d from project %s, %d written) into %s", len(rows), len(annotated),
             project_id, len(written), output)
    new = load_pipeline(output, catalogue=pipeline.catalogue)
    for old in prune_retrained(root, keep, {output, pipeline.predictor.path}):
        log.info("removed the older retrained model %s", old)
    return new
