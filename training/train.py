"""From a config and labelled clauses to an artifact directory (any model kind).

Artifact layout: clausemap.json (kind, labels, thresholds, model_version, data_hash, config, metrics),
metrics.json, config.yaml, report.md, report.png, plus the kind's own files (BERT: save_pretrained model and
tokenizer; TF-IDF: tfidf.joblib).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from labels.taxonomy import load_taxonomy
from training.artifact import is_main_process, staged_directory, utc_stamp, write_json
from training.config import Config
from training.data import Example, data_hash, holdout_split, label_matrix, load_examples
from training.inference import ARTIFACT_FILE, load_predictor
from training.metrics import decide, multilabel_report, tune_thresholds
from training.report import write_report

BACKENDS = {"bert": "training.bert", "tfidf": "training.baseline"}


def taxonomy_of(config: Config):
    return load_taxonomy(config.resolve(config.data.taxonomy) if config.data.taxonomy else None)


def train(config: Config, output: str | Path, examples: list[Example] | None = None) -> dict | None:
    """Train `config` on `examples` (default: the config's dataset) into `output`; returns the artifact
    metadata (None on the non-main processes of a distributed run)."""
    output = Path(output)
    taxonomy = taxonomy_of(config)
    labels, fallback = taxonomy.ids, taxonomy.fallback_id
    if examples is None:
        examples = load_examples(config.resolve(config.data.path), labels)
    train_rows, held_rows = holdout_split(examples, config.training.validation_fraction, config.training.seed)
    digest = data_hash(examples)
    trained_at, stamp = utc_stamp()
    started = time.perf_counter()
    with staged_directory(output) as (staging, scratch):
        backend = importlib.import_module(BACKENDS[config.model.kind])
        # The HF Trainer prints its logs to stdout; keep stdout for the commands' results (JSON).
        with contextlib.redirect_stdout(sys.stderr):
            extra = backend.fit(config, train_rows, held_rows, labels, fallback, staging, scratch)
        if not is_main_process():
            return None
        meta = {
            "format": 1,
            "kind": config.model.kind,
            "model_version": f"{config.name}-{digest[:8]}-{stamp}",
            "config_name": config.name,
            "labels": labels,
            "fallback": fallback,
            "thresholds": {label: config.thresholds.default for label in labels},
            "data_hash": digest,
            "trained_at": trained_at,
            "n_train": len(train_rows),
            "n_heldout": len(held_rows),
            "metrics": {},
            "config": config.model_dump(mode="json"),
            **extra,
        }
        write_json(staging / ARTIFACT_FILE, meta)  # the predictor below reads it
        held = None
        if held_rows:
            scores = load_predictor(staging).predict_scores([ex.text for ex in held_rows])
            gold = label_matrix(held_rows, labels)
            fallback_index = labels.index(fallback)
            if config.thresholds.tune:
                tuned = tune_thresholds(scores, gold, fallback_index, config.thresholds.default)
                meta["thresholds"] = {label: float(t) for label, t in zip(labels, tuned)}
            pred = decide(scores, np.array([meta["thresholds"][label] for label in labels]), fallback_index)
            report = multilabel_report(gold, pred, labels)
            meta["metrics"] = {"split": "heldout", **report}
            held = {"report": report, "gold": gold, "pred": pred}
        meta["train_seconds"] = round(time.perf_counter() - started, 1)
        write_json(staging / ARTIFACT_FILE, meta)
        write_json(staging / "metrics.json", meta["metrics"])
        (staging / "config.yaml").write_text(yaml.safe_dump(meta["config"], allow_unicode=True, sort_keys=False),
                                             encoding="utf-8")
        write_report(staging, meta, {c.id: c.name for c in taxonomy.categories}, held)
    print(f"model {meta['model_version']} saved to {output}", file=sys.stderr)
    return meta
