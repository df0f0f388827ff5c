"""Several model kinds as one: the `ensemble` model kind (the default: a fine-tuned BERT beside the n-gram heads).

They make different mistakes (issue 21: on 289 clauses of unseen plans the n-grams miss kindergarten targets
inside multi-stage target sentences, the BERT gives `teachers` too readily), so each member scores every
sentence, each score is divided by that member's own tuned threshold, and the mean of those ratios decides: a
category is given at a mean of 1 or more. The combined score reported is r / (1 + r) of that mean r, a number in
[0, 1) that reaches the artifact's threshold 0.5 exactly where r reaches 1, so the rest of clausemap (clause =
best sentence, the evidence sentences, the department suggester) sees an ordinary score.

Where the numbers come from (`make model` must fit in 10 minutes on 2 cores, the BERT fine-tune alone takes ~6):
each member is trained by training.train with its own `training` and `thresholds` sections, so the n-gram
member's thresholds are tuned on out-of-fold scores of every real clause (one fit per seed plan, seconds each),
and the BERT member's on the real clauses it holds out (`validation_fraction`), never on written rows. Out-of-fold
BERT scores would need one fine-tune per plan (5 × 6 minutes), so the combination is not tuned at all: the
normalised mean at 1 is fixed, as measured on the external sets, not fitted to seed cv (which favours n-grams).

Artifact files: `members/<name>/`, one complete artifact per member (a bert member is a save_pretrained folder
that `transformers.pipeline` loads, with its ONNX int8 export in `onnx/`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator, model_validator

from clausemap.errors import ClausemapError, InputFileError
from training.config import Config, ThresholdConfig, TrainingConfig, model_section
from training.inference.artifact import read_meta
from training.inference.predictor import Predictor, Runtime, load_predictor
from training.kinds import FitJob, ModelKind, ModelSection, get_kind, register

MEMBERS_DIR = "members"

log = logging.getLogger(__name__)


class MemberSection(BaseModel):
    """One member: a model section of any other kind, trained with its own training and thresholds sections
    (the ensemble's data and seed apply to it)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="its folder under members/")
    model: SerializeAsAny[ModelSection]
    training: TrainingConfig = TrainingConfig()
    thresholds: ThresholdConfig = ThresholdConfig()

    @field_validator("model", mode="before")
    @classmethod
    def _by_kind(cls, raw):
        if isinstance(raw, ModelSection):
            return raw
        if isinstance(raw, dict) and raw.get("kind") == "ensemble":
            raise ValueError("an ensemble cannot be a member of an ensemble")
        section, problems = model_section(raw)
        if problems:
            raise ValueError("; ".join(problems))
        return section

    @model_validator(mode="after")
    def _tuned(self):
        if not self.thresholds.tune:
            raise ValueError("a member's thresholds must be tuned: the ensemble divides its scores by them")
        return self


class EnsembleSection(ModelSection):
    kind: Literal["ensemble"]
    members: list[MemberSection] = Field(min_length=2)
    embedding: str | None = Field(None, description="the member whose vectors are the clause embeddings "
                                                    "(department similarity); default: the first")

    @model_validator(mode="after")
    def _names(self):
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ValueError(f"member names must differ: {names}")
        if self.embedding is not None and self.embedding not in names:
            raise ValueError(f"embedding: {self.embedding!r} is not a member ({', '.join(names)})")
        return self

    def pretrained_sources(self) -> list[str]:
        return [source for m in self.members for source in m.model.pretrained_sources()]

    @property
    def embedding_member(self) -> str:
        return self.embedding or self.members[0].name


def member_config(config: Config, member: MemberSection) -> Config:
    """The config a member is trained with: its own model, training and thresholds; the ensemble's data."""
    training = member.training.model_copy(update={"seed": config.training.seed})
    return Config(name=f"{config.name}.{member.name}", description=f"member {member.name} of {config.name}",
                  model=member.model, training=training, thresholds=member.thresholds, data=config.data)


def fit(job: FitJob) -> dict[str, Any]:
    """Train every member into members/<name>/ on the ensemble's rows (each tunes its own thresholds)."""
    from training.train import train

    spec: EnsembleSection = job.config.model
    details: dict[str, Any] = {"combination": "mean of score / member threshold, given at >= 1; score r/(1+r)",
                               "embedding": spec.embedding_member, "members": {}}
    for number, member in enumerate(spec.members, start=1):
        log.info("member %d/%d: %s (%s)", number, len(spec.members), member.name, member.model.kind)
        meta = train(member_config(job.config, member), job.out_dir / MEMBERS_DIR / member.name,
                     examples=list(job.rows))
        details["members"][member.name] = {
            "kind": meta.kind, "thresholds_from": meta.thresholds_from, "thresholds": meta.thresholds,
            "macro_f1": meta.metrics.get("macro_f1"), "split": meta.metrics.get("split"),
            "train_seconds": meta.train_seconds, "details": meta.details,
        }
    return details


def member_dir(path: str | Path, name: str) -> Path:
    return Path(path) / MEMBERS_DIR / name


def parts(model_dir: Path) -> dict[str, Path]:
    """Each member's artifact folder, by member name (each loads and scores on its own)."""
    return {m["name"]: member_dir(model_dir, m["name"]) for m in read_meta(model_dir).config["model"]["members"]}


def export(model_dir: Path) -> dict[str, Any]:
    """`clausemap export`: each member whose kind exports (the bert members' ONNX files), in its own folder."""
    meta = read_meta(model_dir)
    kinds = {m["name"]: get_kind(m["model"]["kind"]) for m in meta.config["model"]["members"]}
    exported = {name: kinds[name].export(path) for name, path in parts(model_dir).items() if kinds[name].export}
    if not exported:
        raise ClausemapError(f"{model_dir}: no member of this ensemble has an export (member kinds: "
                             f"{', '.join(sorted({k.name for k in kinds.values()}))})")
    return exported


class EnsemblePredictor(Predictor):
    """Each member scores the same sentence batch once; the embedding member's pass also gives the vectors."""

    runtimes = ("onnx", "torch")

    def __init__(self, path: Path, meta, runtime: Runtime = "auto"):
        super().__init__(path, meta)
        spec = EnsembleSection.model_validate(meta.config["model"])
        self.names = [m.name for m in spec.members]
        self.members = [load_predictor(member_dir(path, name), runtime) for name in self.names]
        for name, member in zip(self.names, self.members):
            if member.labels != self.labels:
                raise InputFileError(member_dir(path, name), f"member labels {member.labels} differ from the "
                                                             f"ensemble's {self.labels}")
        self.divisors = [np.maximum([member.thresholds[label] for label in self.labels], 1e-6).astype(np.float32)
                         for member in self.members]
        self.embedder = self.names.index(spec.embedding_member)

    @property
    def info(self) -> dict:
        runtimes = [m.info.get("runtime", m.meta.kind) for m in self.members]
        return {**super().info, "runtime": " + ".join(runtimes),
                "members": {name: m.info for name, m in zip(self.names, self.members)}}

    def combine(self, member_scores: list[np.ndarray]) -> np.ndarray:
        """Mean of each member's scores over its thresholds, squashed to r / (1 + r): 0.5 where the mean is 1."""
        ratio = np.mean([scores / divisor for scores, divisor in zip(member_scores, self.divisors)], axis=0)
        return ratio / (1 + ratio)

    def _score_rows(self, texts: list[str], embed: bool) -> np.ndarray:
        # Each member over all the texts in batches of its own size (the BERT's small, the n-grams' large); the
        # embedding member's one pass gives its scores and the vectors, the others only score.
        n_labels, parts, vectors = len(self.labels), [], None
        for i, member in enumerate(self.members):
            rows = member._score_rows(texts, embed and i == self.embedder)
            parts.append(rows[:, :n_labels])
            if embed and i == self.embedder:
                vectors = rows[:, n_labels:]
        combined = self.combine(parts)
        return combined if vectors is None else np.concatenate([combined, vectors], axis=1)

    def _embed(self, batch: list[str]) -> np.ndarray:
        return self.members[self.embedder]._embed(batch)


KIND = register(ModelKind(name="ensemble", section=EnsembleSection, fit=fit, predictor=EnsemblePredictor,
                          export=export, parts=parts))
