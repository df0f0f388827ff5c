"""Benchmark the classification service against a bare `transformers.pipeline` on the same model and texts.

    .venv/bin/python bench/bench_service.py [--model models/m3e] [--requests 60] [--rounds 3]

Starts `clausemap serve` on a free local port (a real uvicorn process) once per runtime: for a bert-kind model
(or an ensemble with a bert member, whose BERT the pipeline rows then run) with an ONNX export, with
CLAUSEMAP_RUNTIME=torch (PyTorch fp32) and =onnx (ONNX Runtime int8); for any other model once (the ONNX rows then read n/a). Measures, per path:
  service /v1/classify      1 clause per request, a batch of clauses per request, and 1 clause from concurrent clients;
  service /v1/plans         one whole seed plan uploaded per request (decode, segment, classify, suggest sections);
  transformers.pipeline     "text-classification" in this process on the same model and clause texts,
                            1 per call and batched (scores only: no thresholds, no department suggestions);
                            each clause is cut at the model's max_length (seed clauses: 116 of their 237 tokens),
                            so a third row runs it on every sentence of the clauses in full, batched by 32:
                            the work the service does, and the like-for-like reference for its engine.
The paths take turns over several rounds, so a load change on a shared machine hits them all alike. Prints the
machine, the load average before and after, each service's time to /readyz 200 and resident memory (VmRSS of
the uvicorn process after the run, and its peak VmHWM), then clauses/s and p50/p95 latency per request.
Request counts are bounded by --requests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clausemap.clauses import segment_file
from clausemap.paths import PROJECT_ROOT, default_model_dir
from serving.launch import running_service
from training.inference.predictor import sentences_of

SEEDS = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))


@dataclass
class Measured:
    """One measured path: its calls (each one request), clauses per call, and how many run at once."""

    name: str
    per_call: int
    calls: list[Callable[[], object]]
    workers: int = 1
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0

    def run(self, calls: list[Callable[[], object]]) -> None:
        def one(call):
            start = time.perf_counter()
            call()
            return time.perf_counter() - start

        start = time.perf_counter()
        with ThreadPoolExecutor(self.workers) as pool:
            self.latencies += pool.map(one, calls)
        self.wall += time.perf_counter() - start

    def row(self) -> list[str]:
        if not self.latencies:
            return [self.name, str(self.per_call), "0", "n/a", "n/a", "n/a"]
        p95 = statistics.quantiles(self.latencies, n=20, method="inclusive")[18]
        return [
            self.name, str(self.per_call), str(len(self.latencies)),
            f"{self.per_call * len(self.latencies) / self.wall:.1f}",
            f"{1000 * statistics.median(self.latencies):.0f}", f"{1000 * p95:.0f}",
        ]  # fmt: skip


def batches(texts: list[str], size: int, count: int) -> list[list[str]]:
    return [[texts[(i * size + j) % len(texts)] for j in range(size)] for i in range(count)]


def service_paths(
    client: httpx.Client, label: str, texts: list[str], plan: Path, n: int, batch: int, clients: int
) -> list[Measured]:
    def classify(chunk):
        def call():
            client.post("/v1/classify", json={"clauses": chunk}).raise_for_status()
        return call

    data, clauses = plan.read_bytes(), len(segment_file(plan).clauses)

    def upload():
        response = client.post("/v1/plans", files={"file": (plan.name, data, "text/plain")})
        response.raise_for_status()
        assert len(response.json()["clauses"]) == clauses

    singles = [classify(chunk) for chunk in batches(texts, 1, n)]
    return [
        Measured(f"service {label} /v1/classify", 1, singles),
        Measured(f"service {label} /v1/classify", batch,
                 [classify(c) for c in batches(texts, batch, max(3, 2 * n // batch))]),
        Measured(f"service {label} /v1/classify, {clients} clients", 1, singles, workers=clients),
        Measured(f"service {label} /v1/plans (seed {plan.name[:3]})", clauses, [upload] * max(3, n // 10)),
    ]


def read_meta(model: Path) -> dict:
    return json.loads((model / "clausemap.json").read_text(encoding="utf-8"))


def transformers_model(model: Path) -> Path | None:
    """The save_pretrained BERT inside the artifact: the artifact itself (bert kind) or an ensemble's bert member."""
    meta = read_meta(model)
    if meta.get("kind") == "bert":
        return model
    if meta.get("kind") == "ensemble":
        from training.kinds.ensemble import member_dir

        for member in meta["config"]["model"]["members"]:
            if member["model"]["kind"] == "bert":
                return member_dir(model, member["name"])
    return None


def transformers_paths(model: Path, texts: list[str], n: int, batch: int) -> list[Measured]:
    bert = transformers_model(model)
    if bert is None:
        print(f"(transformers.pipeline skipped: {model} is a {read_meta(model).get('kind')!r} model with no "
              "transformers one inside)")
        return []
    from transformers import pipeline

    model, meta = bert, read_meta(bert)

    classifier = pipeline(
        "text-classification", model=str(model), device=-1, top_k=None, function_to_apply="sigmoid",
        truncation=True, max_length=int(meta.get("max_length", 256)),
    )  # fmt: skip
    def every_sentence(chunk: list[str]) -> list[str]:  # what the service scores: each sentence in full
        return [s.text for sentences in sentences_of(chunk) for s in sentences]

    chunks = batches(texts, batch, max(3, 2 * n // batch))
    return [
        Measured("transformers.pipeline fp32", 1, [lambda c=c: classifier(c[0]) for c in batches(texts, 1, n)]),
        Measured("transformers.pipeline fp32", batch, [lambda c=c: classifier(c, batch_size=32) for c in chunks]),
        Measured("transformers.pipeline fp32, every sentence (the service's work)", batch,
                 [lambda c=c: classifier(every_sentence(c), batch_size=32) for c in chunks]),
    ]


def print_table(paths: list[Measured]) -> None:
    """The rows, each with its clauses/s over the pipeline's one clause per call (the speed-up targets)."""
    reference = next((p for p in paths if p.name.startswith("transformers.pipeline") and p.per_call == 1
                      and p.latencies), None)
    base = reference.per_call * len(reference.latencies) / reference.wall if reference else None
    print("| path | clauses/request | requests | clauses/s | p50 ms | p95 ms | × pipeline 1/call |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        rate = path.per_call * len(path.latencies) / path.wall if path.latencies and path.wall else None
        ratio = f"{rate / base:.1f}" if rate and base else "n/a"
        print("| " + " | ".join([*path.row(), ratio]) + " |")


@dataclass
class Service:
    """One `clausemap serve` process: its runtime setting, what it reports serving, load time and memory."""

    runtime: str
    base: str = ""
    serving: str = ""
    ready_s: float = 0.0
    pid: int | None = None


def start_service(stack: ExitStack, model: Path, runtime: str) -> Service:
    service = Service(runtime)
    started = time.perf_counter()
    service.base = stack.enter_context(running_service(model, env={"CLAUSEMAP_RUNTIME": runtime},
                                                       args=("--log-level", "warning")))
    service.ready_s = time.perf_counter() - started
    service.pid = serve_pid(service.base)
    info = httpx.get(f"{service.base}/v1/model", timeout=30).json()["info"]
    service.serving = info.get("runtime") or info["kind"]
    return service


def serve_pid(base: str) -> int | None:
    """The uvicorn process this one started for `base` (a child whose command line names its port)."""
    port = base.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = _proc_status(int(entry.name)).get("PPid")
        except OSError:
            continue
        if parent == str(os.getpid()) and b"serve" in argv and port.encode() in argv:
            return int(entry.name)
    return None


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def memory_mib(pid: int | None) -> tuple[str, str]:
    """(VmRSS, VmHWM) of the process in MiB, or n/a."""
    try:
        status = _proc_status(pid) if pid else {}
    except OSError:
        status = {}
    return tuple(f"{int(status[key].split()[0]) / 1024:.0f}" if key in status else "n/a"
                 for key in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    import onnxruntime
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpu}, {cores} cores usable; Python {platform.python_version()}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}")


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1 / 5 / 15 min)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--requests", type=int, default=60, help="single-clause requests per path (default 60)")
    parser.add_argument("--batch", type=int, default=64, help="clauses per batched request (default 64)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="turns the paths take (default 3)")
    parser.add_argument("--plan", type=Path, default=SEEDS[0], help="plan sent to /v1/plans (default seed 000)")
    args = parser.parse_args()
    if not (args.model / "clausemap.json").is_file():
        sys.exit(f"no model at {args.model}: run `make model` or pass --model")

    meta = read_meta(args.model)
    bert = transformers_model(args.model)
    has_onnx = bert is not None and "onnx" in read_meta(bert).get("details", {})
    runtimes = ["torch", "onnx"] if has_onnx else ["auto"]
    texts = [c.text for path in SEEDS for c in segment_file(path).clauses]
    print(f"machine: {machine()}")
    print(f"model {args.model} ({meta.get('kind')}, version {meta.get('model_version')}); {len(texts)} seed clauses, "
          f"mean {statistics.mean(map(len, texts)):.0f} chars")
    print(f"load average before: {load_average()}")
    with ExitStack() as stack:
        services = [start_service(stack, args.model, runtime) for runtime in runtimes]
        paths = transformers_paths(args.model, texts, args.requests, args.batch)
        for service in services:
            client = stack.enter_context(httpx.Client(base_url=service.base, timeout=600,
                                                      limits=httpx.Limits(max_connections=args.clients)))
            paths += service_paths(client, service.serving, texts, args.plan, args.requests, args.batch,
                                   args.clients)
        for path in paths:  # warm-up: first calls pay for lazy initialisation
            path.calls[0]()
        for r in range(args.rounds):
            for path in paths:
                path.run(path.calls[r :: args.rounds])
        memory = {service.runtime: memory_mib(service.pid) for service in services}
    print(f"load average after: {load_average()}")
    print()
    print("| service (CLAUSEMAP_RUNTIME) | serving | start to /readyz 200 s | RSS MiB after the run | peak RSS MiB |")
    print("|---|---|---:|---:|---:|")
    for service in services:
        rss, peak = memory[service.runtime]
        print(f"| {service.runtime} | {service.serving} | {service.ready_s:.1f} | {rss} | {peak} |")
    print()
    if not has_onnx:  # rows that do not apply to this model, printed so tables of different models line up
        paths += [Measured(f"service onnx-int8 {name}", per_call, [])
                  for name, per_call in (("/v1/classify", 1), ("/v1/classify", args.batch),
                                         (f"/v1/classify, {args.clients} clients", 1))]
    print_table(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
