"""Scoring an artifact on labelled rows, and leave-one-document-out cross-validation.

Both go through `training.inference.predictor.load_predictor`, the code the service runs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from clausemap.errors import ClausemapError
from labels.rows import Labels
from training.config import Config
from training.data import Example, data_hash, label_matrix, load_examples, load_folds, real_only
from training.inference.artifact import read_meta
from training.inference.predictor import Predictor, Runtime, load_predictor
from training.metrics import colabel_report, decide, multilabel_report


def predict_matrix(predictor: Predictor, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    """(gold, predicted) multi-hot matrices in the predictor's label order."""
    labels = predictor.labels
    # Scores and the service's decision rule only: evaluation needs no evidence (a clause-unit model would
    # score every sentence again to find it).
    scores = predictor.predict_scores([ex.text for ex in examples])
    thresholds = np.array([predictor.thresholds[label] for label in labels])
    pred = decide(scores, thresholds, labels.index(predictor.fallback_id)).astype(np.float32)
    return label_matrix(examples, labels), pred


def evaluate_file(model_dir: str | Path, data_path: str | Path) -> dict:
    """{macro_f1, micro_f1, per_label, n, colabel, n_written_skipped} of the artifact on a JSONL file of rows with
    text and categories. Rows written for training (source: written) are never evaluated on: they are skipped."""
    predictor = load_predictor(model_dir)
    everything = load_examples(data_path, Labels(predictor.labels, predictor.fallback_id))
    examples = real_only(everything)
    if not examples:
        raise ClausemapError(f"{data_path}: every row is written for training (source: written); "
                             "evaluation needs real clauses")
    gold, pred = predict_matrix(predictor, examples)
    report = multilabel_report(gold, pred, predictor.labels)
    report["colabel"] = colabel_report(gold, pred, predictor.labels, predictor.labels.index(predictor.fallback_id))
    report["n_written_skipped"] = len(everything) - len(examples)
    return report


def cross_validate(config: Config, log=None, runtimes: Sequence[Runtime] = ("auto",)) -> dict:
    """Train on all documents but one, test on that one, for every fold of the config's splits file.

    The figures are those of the first of `runtimes`; each further one scores the same fold models again, and
    result["runtimes"] gives every runtime's macro-F1 and its decisions' agreement with the first's. A kind with
    parts (an ensemble's members) also has result["parts"]: each part's own figures, from the same fold models."""
    from training.kinds import get_kind
    from training.train import config_examples, taxonomy_of, train

    log = log or sys.stderr
    taxonomy = taxonomy_of(config)
    labels = taxonomy.ids
    examples = config_examples(config, taxonomy)
    folds = load_folds(config.resolve(config.data.splits), examples)
    parts_of = get_kind(config.model.kind).parts
    folds_done, golds, mistakes = [], [], []
    preds: dict[str, list[np.ndarray]] = {runtime: [] for runtime in runtimes}
    part_preds: dict[str, list[np.ndarray]] = {}
    part_seconds: dict[str, list[float]] = {}
    for number, (name, test_docs) in enumerate(folds, start=1):
        # Written rows train every fold but the one testing the document they were edited from; only real
        # clauses are tested.
        train_rows = [ex for ex in examples if ex.doc not in test_docs and ex.origin_doc not in test_docs]
        test_rows = [ex for ex in real_only(examples) if ex.doc in test_docs]
        if not train_rows or not test_rows:
            raise ClausemapError(f"fold {name}: needs rows both to train on and to test on")
        print(f"[cv {config.name}] fold {number}/{len(folds)} {name}: train {len(train_rows)}, test {len(test_rows)}",
              file=log, flush=True)
        with tempfile.TemporaryDirectory(prefix="clausemap-cv-") as tmp:
            model_dir = Path(tmp) / "model"
            started = time.perf_counter()
            train(config, model_dir, examples=train_rows)
            seconds = time.perf_counter() - started
            for runtime in runtimes:
                gold, pred = predict_matrix(load_predictor(model_dir, runtime), test_rows)
                preds[runtime].append(pred)
            for part, part_dir in (parts_of(model_dir) if parts_of else {}).items():
                part_preds.setdefault(part, []).append(predict_matrix(load_predictor(part_dir, runtimes[0]),
                                                                      test_rows)[1])
                part_seconds.setdefault(part, []).append(read_meta(part_dir).train_seconds or 0.0)
        pred = preds[runtimes[0]][-1]
        golds.append(gold)
        mistakes += [{"id": ex.id, "gold": _names(g, labels), "predicted": _names(p, labels)}
                     for ex, g, p in zip(test_rows, gold, pred) if (g != p).any()]
        folds_done.append({"fold": name, "test_docs": test_docs, "n_train": len(train_rows),
                           "n_test": len(test_rows), "train_seconds": round(seconds, 1)})
        report = multilabel_report(gold, pred, labels)
        print(f"[cv {config.name}] fold {name}: macro-F1 {report['macro_f1']:.3f}, micro-F1 "
              f"{report['micro_f1']:.3f}, trained in {seconds:.0f}s", file=log, flush=True)
    fallback = labels.index(taxonomy.fallback_id)
    result = {
        "config": config.name,
        "data_hash": data_hash(examples),
        "n_real": len(real_only(examples)),
        "n_written": len(examples) - len(real_only(examples)),
        **_cv_figures(folds_done, golds, preds[runtimes[0]], labels, fallback),
        "mistakes": mistakes,  # every test clause whose predicted label set differs from its gold one
    }
    if len(runtimes) > 1:
        result["runtimes"] = {runtime: _runtime_summary(golds, preds[runtime], np.concatenate(preds[runtimes[0]]),
                                                        labels) for runtime in runtimes}
    if part_preds:
        # A part's train seconds are its own share of the fold's training.
        result["parts"] = {part: _cv_figures([{**fold, "train_seconds": seconds}
                                              for fold, seconds in zip(folds_done, part_seconds[part])],
                                             golds, part_pred, labels, fallback)
                           for part, part_pred in part_preds.items()}
    return result


def _cv_figures(folds: list[dict], golds: list[np.ndarray], preds: list[np.ndarray], labels: list[str],
                fallback: int) -> dict:
    """Per-fold and pooled figures of one model's held-out predictions (fold i: golds[i] against preds[i])."""
    folds = [{**fold, **{k: v for k, v in multilabel_report(g, p, labels).items() if k in ("macro_f1", "micro_f1")}}
             for fold, g, p in zip(folds, golds, preds)]
    macro = np.array([fold["macro_f1"] for fold in folds])
    gold_all, pred_all = np.concatenate(golds), np.concatenate(preds)
    return {
        "colabel": colabel_report(gold_all, pred_all, labels, fallback),
        "folds": folds,
        "macro_f1_mean": float(macro.mean()),
        "macro_f1_std": float(macro.std()),
        "micro_f1_mean": float(np.mean([fold["micro_f1"] for fold in folds])),
        "pooled": multilabel_report(gold_all, pred_all, labels),
        "train_seconds_total": round(sum(fold["train_seconds"] for fold in folds), 1),
    }


def _runtime_summary(golds: list[np.ndarray], preds: list[np.ndarray], reference: np.ndarray,
                     labels: list[str]) -> dict:
    """One runtime's cv figures, and how often its clause × category decisions equal the reference runtime's."""
    fold_macro = [multilabel_report(g, p, labels)["macro_f1"] for g, p in zip(golds, preds)]
    pooled = np.concatenate(preds)
    return {"macro_f1_mean": float(np.mean(fold_macro)), "fold_macro_f1": fold_macro,
            "pooled_macro_f1": multilabel_report(np.concatenate(golds), pooled, labels)["macro_f1"],
            "decision_agreement": float((pooled == reference).mean())}


def _names(row: np.ndarray, labels: list[str]) -> list[str]:
    return [label for label, on in zip(labels, row) if on]
