"""Benchmark (not a test): compare model configs and variants by leave-one-document-out cross-validation.

    .venv/bin/python bench/compare_models.py                      # every variant below (hours on 2 cores)
    .venv/bin/python bench/compare_models.py --only ngrams ngrams/no-written --json-out /tmp/cv.json
    .venv/bin/python bench/compare_models.py --configs configs/baseline-tfidf.yaml training.epochs=1

A variant is a config plus dotted overrides; every variant trained with the written rows (data/written.jsonl)
runs twice, with them and without them (`NAME/no-written`): the written rows were written by people who had read
the seed plans, so with them seed cv favours models that memorise seed phrasing (n-grams), and plans never seen
rank models differently (issue 21). Each runs `clausemap cv --config FILE --json OVERRIDES` in its own process
(progress on stderr); the script prints macro-F1 (mean ± sd and per fold), pooled macro-/micro-F1, pooled
per-category F1, the worst co-label rate, the training time summed over folds and the wall time, best first.
An ensemble's members get rows of their own (`ensemble › bert`), scored from the very fold models the ensemble
combines, with their share of the training time: the fine-tuned BERT alone (configs/m3e-small-sentences.yaml,
the same sections as the ensemble's `bert` member) is not trained a second time.
Test folds hold real clauses only; written rows only ever train. m3e-small must be fetched first:
`clausemap models fetch m3e-small`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENSEMBLE = "configs/ensemble-m3e-ngrams.yaml"
NGRAMS = "configs/sentences-ngrams.yaml"
M3E = "configs/m3e-sentences.yaml"
NO_WRITTEN = "data.written=null"
# (name, config, overrides): the default (the ensemble), the n-grams alone, one lever of theirs taken away or changed
# at a time, then the other kinds. Each with written rows gets a twin without them (with_and_without_written).
VARIANTS = [
    ("ensemble", ENSEMBLE, []),
    ("ngrams", NGRAMS, []),
    ("clause-unit", NGRAMS, ["training.unit=clause"]),
    ("sentences-only", NGRAMS, ["training.include_clauses=false"]),
    ("heldout-thresholds", NGRAMS, ["thresholds.source=heldout"]),
    ("with-m3e", M3E, []),
    ("with-m3e-weight-0.25", M3E, ["model.encoder_weight=0.25"]),
    ("m3e-only", M3E, ["model.tfidf=null"]),
    ("baseline", "configs/baseline-tfidf.yaml", []),
    ("baseline+sentences+written", "configs/baseline-tfidf.yaml",
     ["training.unit=sentence", "data.written=data/written.jsonl"]),
    ("m3e-finetuned-clauses", "configs/m3e-small.yaml", []),
]  # m3e-small fine-tuned on sentences (configs/m3e-small-sentences.yaml): the rows `ensemble › bert`


def with_and_without_written(variants: list[tuple[str, str, list[str]]]) -> list[tuple[str, str, list[str]]]:
    """Each variant, followed by its twin trained without the written rows when its config names some."""
    from training.config import load_config

    twins = []
    for name, config, overrides in variants:
        twins.append((name, config, overrides))
        if load_config(ROOT / config, overrides).data.written is not None:
            twins.append((f"{name}/no-written", config, [*overrides, NO_WRITTEN]))
    return twins


def with_parts(result: dict) -> list[dict]:
    """The variant's row, then one per part of its model (an ensemble's members), named `variant › part`."""
    parts = result.pop("parts", {})
    return [result, *({**figures, "variant": f"{result['variant']} › {part}", "wall_seconds": None}
                      for part, figures in parts.items())]


def run_cv(config: str, overrides: list[str]) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "clausemap", "cv", "--config", config, "--json", *overrides],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"clausemap cv --config {config} failed with exit code {result.returncode}")
    data = json.loads(result.stdout.strip().splitlines()[-1])
    data["wall_seconds"] = round(time.perf_counter() - started, 1)
    return data


def _f1(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(results: list[dict]) -> str:
    folds = [f["fold"] for f in results[0]["folds"]]
    labels = list(results[0]["pooled"]["per_label"])
    head = ["variant", "macro-F1 mean ± sd", *[f"fold {name[:3]}" for name in folds], "pooled macro-F1",
            "pooled micro-F1", *labels, "worst co-label", "train s (all folds)", "wall s"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in sorted(results, key=lambda r: r["macro_f1_mean"], reverse=True):
        worst = r.get("colabel", {}).get("max")
        cells = [r["variant"], f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f}",
                 *[f"{f['macro_f1']:.3f}" for f in r["folds"]], f"{r['pooled']['macro_f1']:.3f}",
                 f"{r['pooled']['micro_f1']:.3f}", *[_f1(r["pooled"]["per_label"][k]["f1"]) for k in labels],
                 f"{worst['from']}→{worst['to']} {worst['rate']:.2f}" if worst else "–",
                 f"{r['train_seconds_total']:.0f}", "–" if r["wall_seconds"] is None else f"{r['wall_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", help="compare these config files instead of the variants")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these variants")
    parser.add_argument("--json-out", help="also write all cv results to this JSON file")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides for every variant")
    args = parser.parse_args()
    if args.configs:
        variants = [(Path(c).stem, c, []) for c in args.configs]
    else:
        every = with_and_without_written(VARIANTS)
        variants = [v for v in every if not args.only or v[0] in args.only]
        unknown = set(args.only or []) - {v[0] for v in every}
        if unknown:
            raise SystemExit(f"unknown variants {sorted(unknown)}; known: {[v[0] for v in every]}")
    results = []
    for name, config, overrides in variants:
        print(f"== cv {name}: {config} {' '.join(overrides)}", file=sys.stderr, flush=True)
        results += with_parts({"variant": name, "overrides": overrides, **run_cv(config, overrides + args.overrides)})
        print(table(results), file=sys.stderr, flush=True)
        if args.json_out:  # after every config, so a later failure loses nothing
            Path(args.json_out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table(results))
    best = max(results, key=lambda r: r["macro_f1_mean"])
    print(f"\nbest by mean macro-F1: {best['variant']} ({best['macro_f1_mean']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
