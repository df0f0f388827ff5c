"""serving.runtime: inference runs on the model's own thread, so the event loop keeps answering meanwhile."""

import asyncio
import threading

import httpx
import pytest

from serving.app import create_app
from serving.runtime import SerializedPipeline
from serving.settings import ServingSettings
from tests.support.pipelines import GatedPipeline, StubPipeline

WAIT_S = 30  # how long gated inference waits for the gate (only reached when the event loop is blocked)


@pytest.mark.timeout(WAIT_S * 4)
def test_inference_does_not_block_the_event_loop():
    gated = GatedPipeline(WAIT_S)
    app = create_app(ServingSettings(), pipeline=gated)

    async def run():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                     base_url="http://t") as c:
            pending = asyncio.create_task(c.post("/v1/classify", json={"clauses": ["加强教师队伍建设。"]}))
            assert await asyncio.to_thread(gated.entered.wait, WAIT_S), "the request never reached inference"
            # Inference has started and is held at the gate; the same event loop still answers other requests.
            health = await asyncio.wait_for(c.get("/healthz"), WAIT_S)
            taxonomy = await asyncio.wait_for(c.get("/v1/taxonomy"), WAIT_S)
            answered_while_inferring = not pending.done()
            gated.gate.set()
            return health, taxonomy, answered_while_inferring, await pending

    health, taxonomy, answered_while_inferring, classified = asyncio.run(run())
    assert answered_while_inferring, "/healthz and /v1/taxonomy were answered only once inference had finished"
    assert health.status_code == 200 and taxonomy.status_code == 200
    assert classified.status_code == 200 and len(classified.json()["results"]) == 1
    assert gated.calls == [["加强教师队伍建设。"]]


class TwoBureaus(StubPipeline):
    """A stub serving two bureaus: the default catalogue, and `district` (another StubPipeline) through
    for_catalogue; each records the thread and catalogues of its inference calls."""

    def __init__(self):
        super().__init__()
        self.district = StubPipeline(catalogue=self.catalogue.model_copy(update={"id": "district"}))
        self.seen: list[tuple[str, list]] = []  # (thread name, catalogues) of each classify_each call

    def classify_each(self, texts, catalogues):
        self.seen.append((threading.current_thread().name, list(catalogues)))
        return super().classify_each(texts, catalogues)

    def for_catalogue(self, catalogue):
        return self.district if catalogue == "district" else super().for_catalogue(catalogue)


@pytest.mark.timeout(60)
def test_another_bureaus_pipeline_runs_on_the_one_inference_thread():
    stub = TwoBureaus()
    served = SerializedPipeline(stub)
    try:
        bureau = served.for_catalogue("district")
        assert bureau.catalogue.id == "district" and served.catalogue.id == stub.catalogue.id
        assert served.for_catalogue(None) is served
        assert [r.text for r in bureau.classify(["加强教师队伍建设。"])] == ["加强教师队伍建设。"]
        assert asyncio.run(bureau.classify_async(["落实安全责任。"]))[0].text == "落实安全责任。"
    finally:
        served.close()
    # Both calls went through the service pipeline's batcher, for the district, never on the caller's thread.
    assert [catalogues for _, catalogues in stub.seen] == [["district"], ["district"]]
    assert threading.current_thread().name not in {thread for thread, _ in stub.seen}
    assert stub.district.calls == []  # the bureau's own pipeline is never called around the thread
