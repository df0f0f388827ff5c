"""Benchmark (not a test): does the int8 ONNX export of a bert-kind model decide as its PyTorch fp32 weights do?

    .venv/bin/python bench/compare_onnx.py --model models/m3e                # agreement on the seed clauses
    .venv/bin/python bench/compare_onnx.py --model models/m3e --cv configs/m3e-small.yaml --json-out /tmp/cmp.json

(a) Agreement: every seed clause × category decision (the service's rule: thresholds, else the fallback) of the
    artifact on ONNX Runtime int8 against the same artifact on PyTorch fp32; also the share of clauses given
    the same label set, the largest score difference and the lowest cosine between the two embeddings.
(b) With --cv CONFIG: leave-one-document-out cv of the config (clausemap cv), each fold's model exported and
    its held-out clauses scored on both runtimes; macro-F1 of each, and how often their decisions agree.
    Fine-tunes one model per fold: for m3e-small about 5 minutes a fold on 2 cores.
Targets (issue 11): agreement at least 98%, cv macro-F1 within 0.01.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clausemap.clauses import segment_file  # noqa: E402
from training.inference.predictor import Predictor, load_predictor  # noqa: E402
from training.metrics import decide  # noqa: E402

SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


def decisions(predictor: Predictor, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(scores, multi-hot decisions) per clause, as the service decides."""
    scores = predictor.predict_scores(texts)
    labels = predictor.labels
    thresholds = np.array([predictor.thresholds[label] for label in labels])
    return scores, decide(scores, thresholds, labels.index(predictor.fallback_id))


def agreement(model: Path) -> dict:
    texts = [c.text for path in SEEDS for c in segment_file(path).clauses]
    fp32, int8 = load_predictor(model, "torch"), load_predictor(model, "onnx")
    (fp32_scores, fp32_decided), (int8_scores, int8_decided) = decisions(fp32, texts), decisions(int8, texts)
    cosine = (fp32.embed(texts) * int8.embed(texts)).sum(axis=1)
    return {
        "clauses": len(texts),
        "decisions": int(fp32_decided.size),
        "decision_agreement": float((fp32_decided == int8_decided).mean()),
        "label_set_agreement": float((fp32_decided == int8_decided).all(axis=1).mean()),
        "max_score_difference": float(np.abs(fp32_scores - int8_scores).max()),
        "min_embedding_cosine": float(cosine.min()),
    }


def cv_comparison(config_path: str) -> dict:
    from training.config import load_config
    from training.evaluate import cross_validate

    # Every fold model gets its export, whatever the config says.
    result = cross_validate(load_config(config_path, ["model.onnx=true"]), runtimes=("torch", "onnx"))
    return {"config": result["config"], "folds": len(result["folds"]), **result["runtimes"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a bert-kind artifact with an ONNX export")
    parser.add_argument("--cv", metavar="CONFIG", help="also cross-validate this config on both runtimes")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON here too")
    args = parser.parse_args()

    figures = {"model": str(args.model), "agreement": agreement(args.model)}
    a = figures["agreement"]
    print(f"{args.model}: int8 ONNX vs fp32 PyTorch on {a['clauses']} seed clauses: "
          f"{100 * a['decision_agreement']:.2f}% of {a['decisions']} clause × category decisions agree; "
          f"same label set for {100 * a['label_set_agreement']:.1f}% of clauses; largest score difference "
          f"{a['max_score_difference']:.4f}; lowest embedding cosine {a['min_embedding_cosine']:.4f}", flush=True)
    if args.cv:
        figures["cv"] = cv = cv_comparison(args.cv)
        fp32, int8 = cv["torch"], cv["onnx"]
        print(f"cv {cv['config']} ({cv['folds']} folds): macro-F1 fp32 {fp32['macro_f1_mean']:.4f}, "
              f"int8 {int8['macro_f1_mean']:.4f} (difference {int8['macro_f1_mean'] - fp32['macro_f1_mean']:+.4f}); "
              f"pooled fp32 {fp32['pooled_macro_f1']:.4f}, int8 {int8['pooled_macro_f1']:.4f}; held-out decisions "
              f"agree {100 * int8['decision_agreement']:.2f}%")
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
