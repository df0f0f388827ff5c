"""From a config and labelled clauses to an artifact directory (any model kind).

Artifact layout: clausemap.json (kind, labels, thresholds, model_version, data_hash, config, metrics),
metrics.json, config.yaml, report.md, report.png, plus the kind's own files (BERT: save_pretrained model and
tokenizer; TF-IDF: tfidf.pkl).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import yaml

from labels.taxonomy import load_taxonomy
from training.inference.artifact import TAXONOMY_FILE, ArtifactMeta, is_main_process, staged_directory, utc_stamp, \
    write_json, write_meta
from training.config import Config
from training.data import (Example, Unit, data_hash, holdout_split, label_matrix, load_examples,
                           load_training_examples, real_only)
from training.inference.predictor import load_predictor
from training.kinds import FitJob, get_kind
from training.metrics import decide, multilabel_report, tune_thresholds
from training.report import write_report


def taxonomy_path(config: Config) -> Path | None:
    return config.resolve(config.data.taxonomy) if config.data.taxonomy else None


def taxonomy_of(config: Config):
    return load_taxonomy(taxonomy_path(config))


def config_examples(config: Config, taxonomy, dataset: bool = True) -> list[Example]:
    """The config's dataset rows (unless `dataset` is false) and, when it names them, its written rows, checked
    against `taxonomy` (the config's)."""
    written = config.resolve(config.data.written) if config.data.written else None
    if not dataset:
        return load_examples(written, taxonomy) if written and written.is_file() else []
    return load_training_examples(config.resolve(config.data.path), written, taxonomy)


def training_units(rows: list[Example], config: Config, fallback: str) -> list[Example]:
    """What the model is fitted on: the clauses, or (unit: sentence) each annotated sentence as a row of its own,
    with the whole clause too when `include_clauses`; rows without sentence labels stay whole."""
    if config.training.unit == "clause":
        return list(rows)
    units = []
    for ex in rows:
        if not ex.sentences or config.training.include_clauses:
            units.append(ex)
        for i, unit in enumerate(ex.sentences):
            units.append(_sentence_example(ex, i, unit, fallback))
    return units


def _sentence_example(ex: Example, index: int, unit: Unit, fallback: str) -> Example:
    specific = tuple(c for c in unit.categories if c != fallback)
    return Example(id=f"{ex.id}#s{index}", doc=ex.doc, text=unit.text, categories=specific or (fallback,),
                   source=ex.source)


def train(config: Config, output: str | Path, examples: list[Example] | None = None) -> ArtifactMeta | None:
    """Train `config` on `examples` (default: the config's dataset and written rows) into `output`; returns the
    artifact metadata (None on the non-main processes of a distributed run)."""
    output = Path(output)
    taxonomy = taxonomy_of(config)
    labels, fallback = taxonomy.ids, taxonomy.fallback_id
    if examples is None:
        examples = config_examples(config, taxonomy)
    oof = config.thresholds.tune and config.thresholds.source == "oof" and len({e.doc for e in real_only(examples)}) > 1
    if oof:
        train_rows, held_rows = list(examples), []
    else:
        train_rows, held_rows = holdout_split(examples, config.training.validation_fraction, config.training.seed)
    digest = data_hash(examples)
    trained_at, stamp = utc_stamp()
    started = time.perf_counter()
    kind = get_kind(config.model.kind)
    with staged_directory(output) as (staging, scratch):
        # Kinds report progress on stderr (the bert kind's Trainer through training.kinds.hf_trainer's callbacks):
        # stdout is the commands' results (JSON), and a retrain runs beside the service in the same process.
        if oof:
            oof_rows, oof_scores = out_of_fold_scores(config, train_rows, scratch)
        details = kind.fit(FitJob(config, training_units(train_rows, config, fallback),
                                  training_units(held_rows, config, fallback), labels, fallback, staging,
                                  scratch, tuple(train_rows)))
        if not is_main_process():
            return None
        meta = ArtifactMeta(
            kind=config.model.kind,
            unit=config.training.unit,
            model_version=f"{config.name}-{digest[:8]}-{stamp}",
            config_name=config.name,
            labels=labels,
            fallback=fallback,
            thresholds={label: config.thresholds.default for label in labels},
            data_hash=digest,
            trained_at=trained_at,
            n_train=len(train_rows),
            n_train_written=sum(ex.written for ex in train_rows),
            n_heldout=len(held_rows),
            thresholds_from="out-of-fold" if oof else "heldout" if held_rows else "default",
            config=config.model_dump(mode="json"),
            max_length=config.model.token_limit(),
            details=details,
        )
        # The model ships the taxonomy it was trained on, so it is served with the right category list.
        taxonomy.save(staging / TAXONOMY_FILE)
        write_meta(staging, meta)  # the predictor below reads it
        held = None
        if oof:
            held_rows, scores = oof_rows, oof_scores
        elif held_rows:
            # Thresholds come from the trained weights themselves (fp32), as for a model exported later on.
            scores = load_predictor(staging, "torch").predict_scores([ex.text for ex in held_rows])
        if held_rows:
            gold = label_matrix(held_rows, labels)
            fallback_index = labels.index(fallback)
            if config.thresholds.tune:
                tuned = tune_thresholds(scores, gold, fallback_index, config.thresholds.default)
                meta.thresholds = {label: float(t) for label, t in zip(labels, tuned)}
            pred = decide(scores, np.array([meta.thresholds[label] for label in labels]), fallback_index)
            report = multilabel_report(gold, pred, labels)
            meta.metrics = {"split": "out-of-fold" if oof else "heldout", **report}
            held = {"report": report, "gold": gold, "pred": pred}
        meta.train_seconds = round(time.perf_counter() - started, 1)
        write_meta(staging, meta)
        write_json(staging / "metrics.json", meta.metrics)
        (staging / "config.yaml").write_text(yaml.safe_dump(meta.config, allow_unicode=True, sort_keys=False),
                                             encoding="utf-8")
        write_report(staging, meta, {c.id: c.name for c in taxonomy.categories}, held)
    print(f"model {meta.model_version} saved to {output}", file=sys.stderr)
    return meta


def out_of_fold_scores(config: Config, rows: list[Example], scratch: Path) -> tuple[list[Example], np.ndarray]:
    """Scores of every real row from a model trained without its document (written rows made from that
    document left out too), in the order of the returned rows: what the thresholds are tuned on."""
    inner = config.model_copy(deep=True)
    inner.thresholds.tune = False
    inner.training.validation_fraction = 0.0
    real = real_only(rows)
    scored, parts = [], []
    for doc in sorted({ex.doc for ex in real}):
        test = [ex for ex in real if ex.doc == doc]
        fold_train = [ex for ex in rows if ex.doc != doc and ex.origin_doc != doc]
        print(f"[thresholds] out-of-fold: {doc} ({len(test)} rows) from {len(fold_train)} rows", file=sys.stderr)
        train(inner, scratch / "oof-model", examples=fold_train)
        parts.append(load_predictor(scratch / "oof-model", "torch").predict_scores([ex.text for ex in test]))
        scored += test
    return scored, np.concatenate(parts)
