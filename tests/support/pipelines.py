"""Stand-in pipelines for service tests that are about the service, not the model's answers: no model is trained
or loaded, so such tests are fast and unmarked."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from clausemap.errors import ClausemapError
from labels.catalogue import Catalogue, load_catalogue
from labels.taxonomy import Taxonomy, load_taxonomy
from training.inference.pipeline import ClauseResult

STUB_VERSION = "stub-pipeline"


class StubPipeline:
    """What the service needs of a pipeline (training.inference.pipeline.ClassifyPipeline, plus the `classify_each` its
    inference thread calls): every clause gets the taxonomy's fallback category and no sections."""

    model_version = STUB_VERSION

    def __init__(self, taxonomy: Taxonomy | None = None, catalogue: Catalogue | None = None):
        self.taxonomy = taxonomy or load_taxonomy()
        self.catalogue = catalogue or load_catalogue()
        self.thresholds = {cid: 0.5 for cid in self.taxonomy.ids}
        self.info = {"kind": "stub"}
        self.calls: list[list[str]] = []  # the texts of each inference call, in order

    def classify(self, texts: Sequence[str], catalogue: str | None = None) -> list[ClauseResult]:
        return self.classify_each(texts, [catalogue] * len(texts))

    def classify_each(self, texts: Sequence[str], catalogues: Sequence[str | None]) -> list[ClauseResult]:
        self.calls.append(list(texts))
        fallback = self.taxonomy.fallback_id
        scores = {cid: (0.3 if cid == fallback else 0.1) for cid in self.taxonomy.ids}
        return [ClauseResult(text, dict(scores), [fallback]) for text in texts]

    def history_size(self, catalogue: Catalogue, owners=None) -> int:
        return 0  # no history

    def for_catalogue(self, catalogue: str | None) -> StubPipeline:
        if catalogue in (None, self.catalogue.id):
            return self
        raise ClausemapError(f"the stub pipeline serves only catalogue {self.catalogue.id!r}, not {catalogue!r}")


class GatedPipeline(StubPipeline):
    """A StubPipeline whose inference call waits until the test opens `gate` (or `wait_s` passes, then fails)."""

    def __init__(self, wait_s: float, **kwargs):
        super().__init__(**kwargs)
        self.wait_s = wait_s
        self.entered = threading.Event()  # set when inference has started
        self.gate = threading.Event()

    def classify_each(self, texts: Sequence[str], catalogues: Sequence[str | None]) -> list[ClauseResult]:
        self.entered.set()
        if not self.gate.wait(timeout=self.wait_s):
            raise RuntimeError("the gate never opened: inference blocked whoever should have opened it")
        return super().classify_each(texts, catalogues)
