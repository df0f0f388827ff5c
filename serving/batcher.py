"""Cross-request batching on the one inference thread.

Requests that arrive together are run as one `classify` call (the predictor sorts the clauses by length into
batches), so sixteen clients sending one clause each get batch throughput instead of queueing one by one. The
thread takes the first waiting request, collects more for up to `wait_s` or until `max_clauses` clauses, runs
them together and hands each caller its own results, in order. A request that makes the call fail is run again
alone, so it fails by itself and the others still get their answers.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field


@dataclass
class _Request:
    texts: list[str]
    future: Future = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(self, run: Callable[[list[str]], list], max_clauses: int = 64, wait_s: float = 0.002,
                 on_batch: Callable[[int, list[float]], None] | None = None, name: str = "clausemap-inference"):
        self._run_texts, self.max_clauses, self.wait_s, self._on_batch = run, max_clauses, wait_s, on_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._carried: deque[_Request] = deque()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, texts: list[str]) -> Future:
        request = _Request(list(texts))
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        """Finish what is queued, then end the thread."""
        self._queue.put(None)

    def _loop(self) -> None:
        stopping = False
        while True:
            if self._carried:
                first = self._carried.popleft()
            elif stopping:
                return
            else:
                first = self._queue.get()
                if first is None:
                    stopping = True
                    continue
            batch, size = [first], len(first.texts)
            deadline = time.perf_counter() + self.wait_s
            while size < self.max_clauses and not stopping and not self._carried:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True  # run what was collected, then end
                elif size + len(item.texts) > self.max_clauses:
                    self._carried.append(item)  # first in the next call
                else:
                    batch.append(item)
                    size += len(item.texts)
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        batch = [r for r in batch if r.future.set_running_or_notify_cancel()]
        if not batch:
            return
        started = time.perf_counter()
        if self._on_batch is not None:
            self._on_batch(sum(len(r.texts) for r in batch), [started - r.queued for r in batch])
        try:
            results = self._run_texts([text for r in batch for text in r.texts])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            for request in batch:  # find the one that fails; the others still get their answers
                try:
                    request.future.set_result(self._run_texts(request.texts))
                except Exception as alone:
                    request.future.set_exception(alone)
            return
        at = 0
        for request in batch:
            request.future.set_result(results[at:at + len(request.texts)])
            at += len(request.texts)
