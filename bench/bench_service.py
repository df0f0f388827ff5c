"""Benchmark the classification service against a bare `transformers.pipeline` on the same model and texts.

    .venv/bin/python bench/bench_service.py [--model models/default] [--requests 60] [--rounds 3]

Starts `clausemap serve` on a free local port (a real uvicorn process) and measures, per path:
  service /v1/classify      1 clause per request, a batch of clauses per request, and 1 clause from concurrent clients;
  service /v1/plans         one whole seed plan uploaded per request (decode, segment, classify, suggest sections);
  transformers.pipeline     "text-classification" in this process on the same model and clause texts,
                            1 per call and batched (scores only: no thresholds, no department suggestions).
The paths take turns over several rounds, so a load change on a shared machine hits them all alike.
Prints clauses/s and p50/p95 latency per request. Request counts are bounded by --requests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clausemap.clauses import segment_file
from clausemap.paths import PROJECT_ROOT, default_model_dir
from serving.launch import running_service

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
        p95 = statistics.quantiles(self.latencies, n=20, method="inclusive")[18]
        return [
            self.name, str(self.per_call), str(len(self.latencies)),
            f"{self.per_call * len(self.latencies) / self.wall:.1f}",
            f"{1000 * statistics.median(self.latencies):.0f}", f"{1000 * p95:.0f}",
        ]  # fmt: skip


def batches(texts: list[str], size: int, count: int) -> list[list[str]]:
    return [[texts[(i * size + j) % len(texts)] for j in range(size)] for i in range(count)]


def service_paths(
    client: httpx.Client, texts: list[str], plan: Path, n: int, batch: int, clients: int
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
        Measured("service /v1/classify", 1, singles),
        Measured("service /v1/classify", batch, [classify(c) for c in batches(texts, batch, max(3, 2 * n // batch))]),
        Measured(f"service /v1/classify, {clients} clients", 1, singles, workers=clients),
        Measured(f"service /v1/plans (seed {plan.name[:3]})", clauses, [upload] * max(3, n // 10)),
    ]


def transformers_paths(model: Path, texts: list[str], n: int, batch: int) -> list[Measured]:
    meta = json.loads((model / "clausemap.json").read_text(encoding="utf-8"))
    if meta.get("kind") != "bert":
        print(f"(transformers.pipeline skipped: {model} is a {meta.get('kind')!r} model, not a transformers one)")
        return []
    from transformers import pipeline

    classifier = pipeline(
        "text-classification", model=str(model), device=-1, top_k=None, function_to_apply="sigmoid",
        truncation=True, max_length=int(meta.get("max_length", 256)),
    )  # fmt: skip
    return [
        Measured("transformers.pipeline", 1, [lambda c=c: classifier(c[0]) for c in batches(texts, 1, n)]),
        Measured("transformers.pipeline", batch,
              [lambda c=c: classifier(c, batch_size=batch) for c in batches(texts, batch, max(3, 2 * n // batch))]),
    ]  # fmt: skip


def print_table(paths: list[Measured]) -> None:
    print("| path | clauses/request | requests | clauses/s | p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in paths:
        print("| " + " | ".join(path.row()) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--requests", type=int, default=60, help="single-clause requests per path (default 60)")
    parser.add_argument("--batch", type=int, default=16, help="clauses per batched request (default 16)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="turns the paths take (default 3)")
    parser.add_argument("--plan", type=Path, default=SEEDS[0], help="plan sent to /v1/plans (default seed 000)")
    args = parser.parse_args()
    if not (args.model / "clausemap.json").is_file():
        sys.exit(f"no model at {args.model}: run `make model` or pass --model")

    import torch

    texts = [c.text for path in SEEDS for c in segment_file(path).clauses]
    print(f"model {args.model}; {len(texts)} seed clauses, mean {statistics.mean(map(len, texts)):.0f} chars; "
          f"{os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    with running_service(args.model, args=("--log-level", "warning")) as base, \
            httpx.Client(base_url=base, timeout=600, limits=httpx.Limits(max_connections=args.clients)) as client:
        print(f"model_version {client.get('/v1/model').json()['version']}")
        paths = service_paths(client, texts, args.plan, args.requests, args.batch, args.clients)
        paths += transformers_paths(args.model, texts, args.requests, args.batch)
        for path in paths:  # warm-up: first calls pay for lazy initialisation
            path.calls[0]()
        for r in range(args.rounds):
            for path in paths:
                path.run(path.calls[r :: args.rounds])
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print_table(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
