"""Benchmark (not a test): compare model configs by leave-one-document-out cross-validation.

    .venv/bin/python bench/compare_models.py                      # baseline, m3e fine-tuned, m3e frozen
    .venv/bin/python bench/compare_models.py --configs configs/baseline-tfidf.yaml --json-out /tmp/cv.json
    .venv/bin/python bench/compare_models.py training.epochs=1    # overrides go to every config

Each config runs `clausemap cv --config FILE --json` in its own process (progress on stderr); the script
prints macro-F1 (mean ± sd and per fold), pooled macro-/micro-F1 and the training time, best first.
m3e-small must be fetched first: `clausemap models fetch m3e-small`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIGS = ["configs/baseline-tfidf.yaml", "configs/m3e-small.yaml", "configs/m3e-small-frozen.yaml"]


def run_cv(config: str, overrides: list[str]) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "clausemap", "cv", "--config", config, "--json", *overrides],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"clausemap cv --config {config} failed with exit code {result.returncode}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["wall_seconds"] = round(time.perf_counter() - started, 1)
    return data


def table(results: list[dict]) -> str:
    folds = [f["fold"] for f in results[0]["folds"]]
    head = ["config", "macro-F1 mean ± sd", *[f"fold {name[:3]}" for name in folds], "pooled macro-F1",
            "pooled micro-F1", "train s (all folds)"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in sorted(results, key=lambda r: r["macro_f1_mean"], reverse=True):
        cells = [r["config"], f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f}",
                 *[f"{f['macro_f1']:.3f}" for f in r["folds"]], f"{r['pooled']['macro_f1']:.3f}",
                 f"{r['pooled']['micro_f1']:.3f}", f"{r['train_seconds_total']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="config files to compare")
    parser.add_argument("--json-out", help="also write all cv results to this JSON file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides for every config")
    args = parser.parse_args()
    results = []
    for config in args.configs:
        print(f"== cv {config}", file=sys.stderr, flush=True)
        results.append(run_cv(config, args.overrides))
        print(table(results), file=sys.stderr, flush=True)
        if args.json_out:  # after every config, so a later failure loses nothing
            Path(args.json_out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table(results))
    best = max(results, key=lambda r: r["macro_f1_mean"])
    print(f"\nbest by mean macro-F1: {best['config']} ({best['macro_f1_mean']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
