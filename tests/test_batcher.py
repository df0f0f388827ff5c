"""The inference thread's cross-request batching: each caller gets its own results in order, under concurrency;
a failing request fails alone; a request over the limits never reaches it."""

from __future__ import annotations

import random
import threading
import time

import pytest

from serving.batcher import Batcher


class Recorder:
    """A stand-in pipeline: echoes each text's length (so results can be checked), records the calls."""

    def __init__(self, delay: float = 0.001):
        self.calls: list[int] = []
        self.delay = delay
        self.lock = threading.Lock()

    def classify(self, texts: list[str]) -> list[tuple[str, int]]:
        with self.lock:
            self.calls.append(len(texts))
        if any("poison" in t for t in texts):
            raise ValueError("poison clause")
        time.sleep(self.delay)
        return [(t, len(t)) for t in texts]


def test_each_caller_gets_its_own_results_in_order_under_concurrency():
    recorder = Recorder()
    batches = []
    batcher = Batcher(recorder.classify, max_clauses=16, wait_s=0.005,
                      on_batch=lambda n, waits: batches.append((n, len(waits))))
    rng = random.Random(7)
    requests = [[f"c{i}-{j}-" + "字" * rng.randint(1, 9) for j in range(rng.randint(1, 12))] for i in range(200)]
    results: dict[int, list] = {}

    def client(i: int) -> None:
        results[i] = batcher.submit(requests[i]).result(timeout=30)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    for i, texts in enumerate(requests):
        assert results[i] == [(t, len(t)) for t in texts]
    # Requests were merged (fewer calls than requests), and no merged call went over the limit unless one
    # request alone was larger.
    assert len(recorder.calls) < len(requests)
    assert all(n <= 16 for n in recorder.calls)
    assert sum(n for n, _ in batches) == sum(len(r) for r in requests)
    assert sum(k for _, k in batches) == len(requests)


def test_a_failing_request_does_not_poison_the_others():
    recorder = Recorder(delay=0.02)
    batcher = Batcher(recorder.classify, max_clauses=64, wait_s=0.05)
    good = [batcher.submit([f"好{i}"]) for i in range(5)]
    bad = batcher.submit(["poison here"])
    more = [batcher.submit([f"好{i}", f"也好{i}"]) for i in range(3)]
    with pytest.raises(ValueError, match="poison"):
        bad.result(timeout=10)
    assert [f.result(timeout=10) for f in good] == [[(f"好{i}", 2)] for i in range(5)]
    assert [f.result(timeout=10) for f in more] == [[(f"好{i}", 2), (f"也好{i}", 3)] for i in range(3)]
    batcher.close()


class TextRecorder(Recorder):
    """Records the texts of each call, not only their number."""

    def classify(self, texts: list[str]) -> list[tuple[str, int]]:
        self.texts = getattr(self, "texts", []) + [list(texts)]
        return super().classify(texts)


@pytest.mark.timeout(60)
def test_a_large_request_is_cut_so_others_do_not_wait_for_all_of_it_and_close_finishes_the_queue():
    recorder = TextRecorder(delay=0.02)
    batcher = Batcher(recorder.classify, max_clauses=8, wait_s=0.01)
    texts = [f"条款{i}" for i in range(30)]
    big = batcher.submit(texts)
    small = batcher.submit(["一条"])
    empty = batcher.submit([])
    batcher.close()
    assert big.result(timeout=10) == [(t, len(t)) for t in texts]  # every part's results, in order
    assert small.result(timeout=10) == [("一条", 2)] and empty.result(timeout=10) == []
    assert all(n <= 8 for n in recorder.calls)
    calls_with = [next(i for i, call in enumerate(recorder.texts) if text in call) for text in ("一条", "条款29")]
    assert calls_with[0] < calls_with[1]  # the small request was answered before the large one's last part


@pytest.mark.timeout(60)
def test_a_large_request_that_fails_fails_alone_and_stops():
    recorder = TextRecorder()
    batcher = Batcher(recorder.classify, max_clauses=4, wait_s=0.05)
    bad = batcher.submit([f"条款{i}" for i in range(5)] + ["poison"] + [f"条款{i}" for i in range(6, 12)])
    good = [batcher.submit([f"好{i}"]) for i in range(3)]
    with pytest.raises(ValueError, match="poison"):
        bad.result(timeout=10)
    assert [f.result(timeout=10) for f in good] == [[(f"好{i}", 2)] for i in range(3)]
    batcher.close()
    assert not any("条款11" in call for call in recorder.texts)  # the failed request's last part never ran



@pytest.mark.model
def test_a_request_over_the_limits_is_refused_before_the_batcher(tiny_model_dir):
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.settings import ServingSettings
    from training.inference.pipeline import load_pipeline

    settings = ServingSettings(max_clauses=4, max_clause_chars=50, max_body_bytes=4000)
    app = create_app(settings, pipeline=load_pipeline(tiny_model_dir))
    registry = app.state.metrics.registry

    def batched() -> tuple[float, float]:
        """(inference calls the batcher ran, clauses in them), from the service's own metrics."""
        return (registry.get_sample_value("clausemap_inference_batch_clauses_count") or 0.0,
                registry.get_sample_value("clausemap_clauses_classified_total") or 0.0)

    plan = "\n".join(f"{n}. 推进第{n}项工作，落实责任。" for n in range(1, 9))
    with TestClient(app) as client:
        too_many = client.post("/v1/classify", json={"clauses": ["加强教师队伍建设。"] * 5})
        too_long = client.post("/v1/classify", json={"clauses": ["加强教师队伍建设。" * 6]})
        too_big = client.post("/v1/classify", json={"clauses": ["校园安全" * 400]})
        plan_too_long = client.post("/v1/plans", files={"file": ("plan.txt", plan.encode(), "text/plain")})
        assert [too_many.status_code, too_long.status_code, too_big.status_code, plan_too_long.status_code] == \
            [422, 422, 413, 422]
        assert "CLAUSEMAP_MAX_CLAUSES" in too_many.json()["detail"]
        assert "CLAUSEMAP_MAX_CLAUSE_CHARS" in too_long.json()["detail"]
        assert batched() == (0, 0)  # none of them reached the batcher
        within = client.post("/v1/classify", json={"clauses": ["加强教师队伍建设。"] * 4})
        assert within.status_code == 200 and len(within.json()["results"]) == 4
        assert batched() == (1, 4)
