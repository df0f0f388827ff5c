"""serving.runtime: inference runs on the model's own thread, so the event loop keeps answering meanwhile."""

import asyncio

import httpx
import pytest

from serving.app import create_app
from serving.settings import ServingSettings
from tests.support.pipelines import GatedPipeline

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
