"""Cross-request batching on the one inference thread.

Requests that arrive together are run as one `classify` call (the predictor sorts the clauses by length into
batches), so sixteen clients sending one clause each get batch throughput instead of queueing one by one. The
thread takes the first waiting request, collects more for up to `wait_s` or until `max_clauses` clauses, runs
them together and hands each caller its own results, in order. A request that does not fit in what is left of a
call goes first in the next; one larger than a whole call is cut: the call takes `max_clauses` of it and the rest
goes back to the end of the line, so one large request neither holds the model for all the others nor grows a
call (and its memory) past `max_clauses`. A request that
makes the call fail is run again alone, so it fails by itself (its remaining parts are dropped) and the others
still get their answers.
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
    queued: float = field(default_factory=time.perf_counter)  # when it (or its rest) joined the line
    done: int = 0  # texts already run
    results: list = field(default_factory=list)
    started: bool = False

    @property
    def remaining(self) -> int:
        return len(self.texts) - self.done


@dataclass
class _Part:
    """The texts [start, end) of one request, run in one call."""

    request: _Request
    start: int
    end: int

    @property
    def texts(self) -> list[str]:
        return self.request.texts[self.start:self.end]


class Batcher:
    def __init__(self, run: Callable[[list[str]], list], max_clauses: int = 64, wait_s: float = 0.002,
                 on_batch: Callable[[int, list[float]], None] | None = None, name: str = "clausemap-inference"):
        self._run_texts, self.max_clauses, self.wait_s, self._on_batch = run, max_clauses, wait_s, on_batch
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._line: deque[_Request] = deque()  # taken from the queue (or put back with their rest), in order
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, texts: list[str]) -> Future:
        request = _Request(list(texts))
        self._queue.put(request)
        return request.future

    def close(self) -> None:
        """Finish what is queued (large requests to their last part), then end the thread."""
        self._queue.put(None)

    def _loop(self) -> None:
        while True:
            self._take_arrivals()
            if not self._line:
                if self._stopping:
                    return
                self._take(self._queue.get())
                continue
            parts, size = [], 0
            deadline = time.perf_counter() + self.wait_s
            while size < self.max_clauses:
                if not self._line:
                    if self._stopping:
                        break
                    try:
                        self._take(self._queue.get(timeout=max(0.0, deadline - time.perf_counter())))
                    except queue.Empty:
                        break
                    continue
                request, room = self._line[0], self.max_clauses - size
                if parts and request.remaining > room:
                    break  # first in the next call, whole (or cut there, when it is larger than a call)
                self._line.popleft()
                if not request.started:
                    request.started = True
                    if not request.future.set_running_or_notify_cancel():
                        continue  # cancelled while it waited
                end = request.done + min(request.remaining, room)
                parts.append(_Part(request, request.done, end))
                size += end - request.done
            if parts:
                self._run(parts)
            self._take_arrivals()  # requests that came meanwhile go before the rest of a cut one
            for part in parts:
                request = part.request
                if request.remaining and not request.future.done():
                    request.queued = time.perf_counter()
                    self._line.append(request)

    def _take_arrivals(self) -> None:
        while True:
            try:
                self._take(self._queue.get_nowait())
            except queue.Empty:
                return

    def _take(self, item: _Request | None) -> None:
        if item is None:
            self._stopping = True  # run what is in line, then end
        else:
            self._line.append(item)

    def _run(self, parts: list[_Part]) -> None:
        started = time.perf_counter()
        if self._on_batch is not None:
            self._on_batch(sum(p.end - p.start for p in parts), [started - p.request.queued for p in parts])
        for part in parts:
            part.request.done = part.end
        texts = [text for p in parts for text in p.texts]
        try:
            results = self._run_texts(texts) if texts else []
        except Exception as exc:
            if len(parts) == 1:
                parts[0].request.future.set_exception(exc)
                return
            for part in parts:  # find the one that fails; the others still get their answers
                try:
                    self._finish(part, self._run_texts(part.texts))
                except Exception as alone:
                    part.request.future.set_exception(alone)
            return
        at = 0
        for part in parts:
            self._finish(part, results[at:at + part.end - part.start])
            at += part.end - part.start

    @staticmethod
    def _finish(part: _Part, results: list) -> None:
        request = part.request
        request.results.extend(results)
        if not request.remaining:
            request.future.set_result(request.results)
