"""Read untrusted documents in worker processes with a memory cap and a time limit.

A parser bomb that slips past the budgets (clausemap.clauses.budgets) then ends its worker, not the service: the
pool kills a worker that runs past the time limit, replaces one that dies, and the caller gets OverBudgetError
naming the limit. Workers are started with 'spawn' (the service has torch loaded; a fork would copy it) and
import only clausemap.clauses.

    pool = ParserPool(workers=2, memory_mb=1536, timeout_s=120, budgets=DocumentBudgets())
    document = pool.run(segment_bytes, data, "plan.docx", filename="plan.docx")
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import traceback

from clausemap.clauses.budgets import DocumentBudgets, using
from clausemap.errors import RETRY_SOON_S, ClausemapError, InputFileError, OverBudgetError

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 120  # a fresh interpreter importing the readers, on a busy machine
MEMORY_SETTING, TIMEOUT_SETTING = "CLAUSEMAP_PARSE_MEMORY_MB", "CLAUSEMAP_PARSE_TIMEOUT_S"


class ParserUnavailable(ClausemapError):
    """No parser worker could be started (a process or memory limit of the server, say): the service's trouble,
    not the document's. The next document tries to start one again."""

    http_status = 503
    retry_after_s = RETRY_SOON_S


class ParserPool:
    """At most `workers` documents read at once, each in its own process; the others wait for a free worker."""

    def __init__(self, workers: int, memory_mb: int, timeout_s: float, budgets: DocumentBudgets | None = None):
        self.memory_mb, self.timeout_s = memory_mb, timeout_s
        # Only the budget fields travel to the workers (`budgets` may be the service's whole settings).
        self.budgets = DocumentBudgets(**{name: getattr(budgets or DocumentBudgets(), name)
                                          for name in DocumentBudgets.model_fields})
        self._context = multiprocessing.get_context("spawn")
        self._free = threading.BoundedSemaphore(workers)
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def run(self, function, *args, filename: str):
        """`function(*args)` in a worker under the pool's budgets: its result, or the ClausemapError it raised.
        OverBudgetError naming `filename` and the limit when the worker runs out of time or memory."""
        with self._free:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is not None and not worker.process.is_alive():  # ended while idle (the kernel's OOM killer)
                worker.kill()
                worker = None
            worker = worker or self._start_worker()
            try:
                outcome, payload = worker.call((function, args, self.budgets, self.timeout_s), self.timeout_s)
            except TimeoutError:
                worker.kill()
                raise OverBudgetError(filename, f"reading it took longer than {self.timeout_s:g} s ({TIMEOUT_SETTING})") from None
            except EOFError:  # the worker died: the kernel ended it for its memory, or a parser crashed
                cause = worker.kill()
                raise OverBudgetError(filename, f"reading it ended the parser process ({cause}); a document may use "
                                                f"{self.memory_mb} MiB ({MEMORY_SETTING})") from None
            except BaseException:
                worker.kill()
                raise
            if outcome == "memory":
                worker.kill()  # after a MemoryError its heap is fragmented: a fresh worker for the next one
                raise OverBudgetError(filename, f"reading it needs more than the {self.memory_mb} MiB a document "
                                                f"may use ({MEMORY_SETTING})")
            with self._lock:
                self._idle.append(worker)
        if outcome == "error":
            raise payload
        if outcome == "crash":  # a parser bug on this input: logged with its traceback, a 422 for the sender
            log.error("reading %s failed in the parser worker:\n%s", filename, payload)
            raise InputFileError(filename, "cannot read the document (the parser failed on it)")
        return payload

    def _start_worker(self) -> _Worker:
        try:
            return _Worker(self._context, self.memory_mb)
        except (OSError, EOFError, TimeoutError) as exc:  # fork/exec refused, or the worker died or hung starting
            log.error("a document parser process could not be started: %s", str(exc) or type(exc).__name__)
            raise ParserUnavailable("the service cannot read documents right now: a document parser process "
                                    "could not be started; try again later (the service's log says why)") from None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


class _Worker:
    def __init__(self, context, memory_mb: int):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, memory_mb), daemon=True,
                                       name="clausemap-parser")
        try:
            try:
                self.process.start()
            finally:
                child.close()  # the worker has its own copy: once it ends, this end reads EOF
            if not self.connection.poll(_START_TIMEOUT_S):
                raise TimeoutError(f"no word from it in {_START_TIMEOUT_S} s")
            self.connection.recv()  # "ready": the imports are done, the limits set
        except BaseException as exc:
            cause = self.kill()
            if isinstance(exc, EOFError):
                raise EOFError(f"it ended before it was ready ({cause})") from None
            raise

    def call(self, task, timeout_s: float):
        self.connection.send(task)
        if not self.connection.poll(timeout_s):
            raise TimeoutError
        return self.connection.recv()

    def kill(self) -> str:
        """Stop the process (if it still runs); how it ended, for messages."""
        if self.process.pid is not None:  # else it never started
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        self.connection.close()
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"


def _serve(connection, memory_mb: int) -> None:
    """A worker's loop: set the limits, then run each task sent until the pipe closes."""
    import resource

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the service, which stops its workers
    import clausemap.clauses.segment  # noqa: F401  (the readers' own imports wait for the first document)

    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    connection.send("ready")
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return  # the service is gone
        function, args, budgets, timeout_s = task
        # CPU seconds count over the worker's life: each task gets its own allowance on top of what was used.
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        resource.setrlimit(resource.RLIMIT_CPU, (int(used + timeout_s) + 2, resource.RLIM_INFINITY))
        try:
            with using(budgets):
                outcome = ("ok", function(*args))
        except MemoryError:
            outcome = ("memory", None)
        except ClausemapError as exc:
            outcome = ("error", exc)
        except Exception:
            outcome = ("crash", traceback.format_exc(limit=20))
        try:
            connection.send(outcome)
        except MemoryError:
            connection.send(("memory", None))
        if outcome[0] == "memory":
            return
