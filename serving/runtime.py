"""The loaded model inside the service: loading it off the event loop, and running it one call at a time."""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from clausemap.errors import RETRY_SOON_S
from labels.catalogue import Catalogue
from labels.taxonomy import Taxonomy
from serving.batcher import Batcher
from serving.contract import retry_after
from serving.metrics import ServiceMetrics
from serving.settings import ServingSettings
from training.inference.pipeline import ClausePipeline, ClauseResult

# uvicorn configures this logger, so the lines show in `clausemap serve` output.
log = logging.getLogger("uvicorn.error")


class SerializedPipeline:
    """A ClausePipeline whose `classify` calls all run on one inference thread of its own, requests that arrive
    together merged into one call (serving.batcher).

    One thread makes concurrent requests safe (the predictor and the department suggester never run twice at
    once) and keeps torch's intra-op thread team on that thread, instead of one team per request-pool thread
    competing for the cores. It offers what training.inference.pipeline.ClassifyPipeline names, plus the wrapped
    `pipeline` for retraining. Another bureau's pipeline (`for_catalogue`) is a view of this one: same thread,
    same batcher.
    """

    def __init__(self, pipeline: ClausePipeline, metrics: ServiceMetrics | None = None, max_batch: int = 64,
                 batch_wait_s: float = 0.002):
        self.pipeline = pipeline
        self.metrics = metrics
        self._catalogue: str | None = None  # a view's bureau (for_catalogue): what its classify calls ask for
        # The batcher's items are (text, catalogue id) pairs: requests for several bureaus share one model call.
        self._batcher = Batcher(self._classify_items, max_clauses=max_batch, wait_s=batch_wait_s,
                                on_batch=metrics.inference if metrics is not None else None)

    @property
    def model_version(self) -> str:
        return self.pipeline.model_version

    @property
    def taxonomy(self) -> Taxonomy:
        return self.pipeline.taxonomy

    @property
    def catalogue(self) -> Catalogue:
        return self.pipeline.catalogue

    @property
    def thresholds(self) -> dict[str, float]:
        return self.pipeline.thresholds

    @property
    def info(self) -> dict[str, Any]:
        return self.pipeline.info

    def for_catalogue(self, catalogue: str | None) -> SerializedPipeline:
        """Another bureau's pipeline (its suggester fitted the first time): its `catalogue` names the sections of
        results, and its classify calls run through this one's batcher, on the one inference thread, for that
        bureau. Closing the view would close this pipeline: only the service's own is closed."""
        bureau = self.pipeline.for_catalogue(catalogue)
        if bureau is self.pipeline:
            return self
        view = copy.copy(self)
        view.pipeline, view._catalogue = bureau, catalogue
        return view

    def history_size(self, catalogue: Catalogue, owners: dict[str, str] | None = None) -> int:
        return self.pipeline.history_size(catalogue, owners)

    def classify(self, texts: list[str], catalogue: str | None = None) -> list[ClauseResult]:
        """For synchronous callers (e.g. a route run in the request thread pool)."""
        return self._submit(texts, catalogue).result()

    async def classify_async(self, texts: list[str], catalogue: str | None = None) -> list[ClauseResult]:
        """Awaits the inference thread, so the event loop keeps serving other requests meanwhile."""
        return await asyncio.wrap_future(self._submit(texts, catalogue))

    def _submit(self, texts: list[str], catalogue: str | None):
        catalogue = self._catalogue if catalogue is None else catalogue
        return self._batcher.submit([(text, catalogue) for text in texts])

    def _classify_items(self, items: list[tuple[str, str | None]]) -> list[ClauseResult]:
        return self.pipeline.classify_each([text for text, _ in items], [catalogue for _, catalogue in items])

    def close(self) -> None:
        """Let the inference thread finish what is queued, then end."""
        self._batcher.close()


@dataclass
class ModelState:
    """What /readyz reports: the pipeline once loaded, or why it is not (yet)."""

    pipeline: SerializedPipeline | None = None
    error: str | None = None
    loading: bool = False
    metrics: ServiceMetrics | None = None
    max_batch: int = 64  # clauses merged into one inference call
    batch_wait_s: float = 0.002  # how long the inference thread waits for more requests to merge
    _task: asyncio.Task | None = field(default=None, repr=False)

    def start_loading(self, settings: ServingSettings) -> None:
        """Load the model in a worker thread; the service answers /healthz meanwhile."""
        self.loading = True
        log.info("loading model %s", settings.model)
        self._task = asyncio.get_running_loop().create_task(self._load(settings))

    async def _load(self, settings: ServingSettings) -> None:
        try:
            pipeline = await run_in_threadpool(load_pipeline, settings)
        except Exception as exc:  # reported by /readyz and every model endpoint; the process stays up
            log.error("model %s failed to load: %s", settings.model, exc)
            self.error = f"model {settings.model} failed to load: {exc}"
        else:
            self.replace(pipeline)
            log.info("model %s loaded (version %s)", settings.model, pipeline.model_version)
        finally:
            self.loading = False

    def replace(self, pipeline: ClausePipeline) -> None:
        """Serve another pipeline from now on (a retrained model); requests in flight finish on the old one."""
        new = SerializedPipeline(pipeline, self.metrics, self.max_batch, self.batch_wait_s)
        old, self.pipeline, self.error = self.pipeline, new, None
        if self.metrics is not None:
            self.metrics.serving(pipeline.model_version)
        if old is not None:
            old.close()

    @property
    def retry_headers(self) -> dict[str, str] | None:
        """Retry-After for a 503 while the model loads; none once loading has failed (that lasts)."""
        return retry_after(RETRY_SOON_S if self.loading else None)

    async def wait(self) -> None:
        """Return once a background load has finished, whether it succeeded or failed."""
        if self._task is not None:
            await asyncio.shield(self._task)


def load_pipeline(settings: ServingSettings) -> ClausePipeline:
    """The same inference code path as `clausemap evaluate`: training.inference.pipeline.load_pipeline."""
    from training.inference.pipeline import load_pipeline as load

    pipeline = load(settings.model, catalogue=settings.catalogue, annotated=settings.history,
                    fallback_annotated=settings.dataset, runtime=settings.runtime, cache_dir=settings.cache)
    log.info("annotated rows for department suggestions: %s (%d rows)", pipeline.annotated.source,
             len(pipeline.annotated.rows))
    return pipeline
