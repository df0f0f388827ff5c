"""Load a trained artifact and classify clause texts: the one inference path for evaluate, cv and the service.

    predictor = load_predictor("models/default")
    predictor.predict(["加强教师队伍建设……"])[0].labels   # -> ["teachers"]

Every artifact kind (fine-tuned BERT, TF-IDF baseline, linear heads on a frozen encoder) answers the same
interface; all methods are thread-safe.

Categories are decided per sentence (clausemap.clauses.sentences), the unit of the annotation guide: an
artifact trained with `unit: sentence` scores each sentence and gives the clause, per category, the best score
of its sentences; an older `unit: clause` artifact scores the whole clause. Either way each category a clause
is given carries its evidence: the sentences that reach its threshold (for a clause-unit model, at least the
best-scoring one), with their scores and offsets in the clause text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from clausemap.clauses.sentences import Sentence, split_sentences
from training.inference.artifact import ARTIFACT_FILE, ArtifactMeta, read_meta
from training.kinds import get_kind
from training.metrics import decide

# Which engine runs a model that has a choice (bert: ONNX Runtime int8 when exported, else PyTorch fp32).
Runtime = Literal["auto", "onnx", "torch"]


@dataclass(frozen=True)
class Evidence:
    """A sentence of the clause that supports a category."""

    text: str
    start: int  # [start, end) offsets in the clause text
    end: int
    score: float


@dataclass
class Prediction:
    scores: dict[str, float]  # every label id -> probability (the best sentence's, for a sentence-unit model)
    labels: list[str]  # specific ids at or above their threshold, else [fallback id]
    # Each specific label given -> the sentences that decided it, best first (none for the fallback).
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)


@dataclass
class _Analysis:
    """Clause scores (n × labels), every clause's sentences and their scores, optional clause embeddings."""

    scores: np.ndarray
    sentences: list[list[Sentence]]
    sentence_scores: list[np.ndarray]
    embeddings: np.ndarray | None = None


@dataclass
class Predictor:
    """Common part of every artifact kind; subclasses implement `_scores` and `_embed`."""

    path: Path
    meta: ArtifactMeta
    # Texts per model call. A kind overrides it where another size runs faster (bert: 8, as short sentences then
    # carry little padding; the n-gram kinds: hundreds, as each call has a fixed cost).
    batch_size: int = 32
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The runtimes a kind can be forced to (its __init__ then takes `runtime`); none: it has one way to run.
    runtimes: ClassVar[tuple[str, ...]] = ()

    @property
    def labels(self) -> list[str]:
        return list(self.meta.labels)

    @property
    def fallback_id(self) -> str:
        return self.meta.fallback

    @property
    def thresholds(self) -> dict[str, float]:
        return {label: float(self.meta.thresholds[label]) for label in self.labels}

    @property
    def model_version(self) -> str:
        return self.meta.model_version

    @property
    def unit(self) -> str:
        """What the model scores: "sentence" (the clause takes its best sentence's score) or "clause"."""
        return self.meta.unit

    @property
    def info(self) -> dict:
        return self.meta.info

    def predict_scores(self, texts: list[str]) -> np.ndarray:
        """(n × labels) probabilities per clause, rows in input order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if self.unit == "clause":
            return self._score_rows(texts, embed=False)
        return self._analyse(texts, embed=False).scores

    def predict(self, texts: list[str]) -> list[Prediction]:
        texts = list(texts)
        return self._decide(self._analyse(texts, embed=False)) if texts else []

    def predict_and_embed(self, texts: list[str]) -> tuple[list[Prediction], np.ndarray]:
        """`predict` and `embed` from one pass over the model (the service needs both for every clause)."""
        texts = list(texts)
        if not texts:
            return [], np.zeros((0, 0), dtype=np.float32)
        analysis = self._analyse(texts, embed=True)
        return self._decide(analysis), analysis.embeddings

    def _analyse(self, texts: list[str], embed: bool) -> _Analysis:
        sentences = sentences_of(texts)
        flat = [s.text for group in sentences for s in group]
        n_labels = len(self.labels)
        embeddings = None
        if self.unit == "sentence":
            # One pass over every sentence; a clause takes each category's best sentence score, and the mean of
            # its sentence vectors as its embedding.
            rows = self._score_rows(flat, embed)
            per_clause = _split_rows(rows, sentences)
            scores = np.stack([part[:, :n_labels].max(axis=0) for part in per_clause])
            if embed:
                embeddings = _mean_vectors([part[:, n_labels:] for part in per_clause])
            sentence_scores = [part[:, :n_labels] for part in per_clause]
        else:
            both = self._score_rows(texts, embed)
            scores = both[:, :n_labels]
            if embed:
                embeddings = _l2_normalised(both[:, n_labels:])
            # The clause-unit model scores the sentences again, only to show the evidence.
            sentence_scores = _split_rows(self._score_rows(flat, embed=False), sentences)
        return _Analysis(scores, sentences, sentence_scores, embeddings)

    def _decide(self, analysis: _Analysis) -> list[Prediction]:
        labels = self.labels
        thresholds = np.array([self.thresholds[label] for label in labels])
        fallback = labels.index(self.fallback_id)
        chosen = decide(analysis.scores, thresholds, fallback)
        predictions = []
        for row, picked, sentences, sentence_scores in zip(analysis.scores, chosen, analysis.sentences,
                                                           analysis.sentence_scores):
            evidence = {}
            for j in np.flatnonzero(picked):
                if j == fallback:
                    continue
                column = sentence_scores[:, j]
                order = [k for k in np.argsort(-column, kind="stable") if column[k] >= thresholds[j]] or \
                    [int(np.argmax(column))]
                evidence[labels[j]] = [Evidence(sentences[k].text, sentences[k].start, sentences[k].end,
                                                float(column[k])) for k in order]
            predictions.append(Prediction(
                scores={label: float(s) for label, s in zip(labels, row)},
                labels=[label for label, keep in zip(labels, picked) if keep],
                evidence=evidence,
            ))
        return predictions

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised clause vectors, rows in input order (a sentence-unit model: the mean of its sentences')."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if self.unit == "clause":
            return _l2_normalised(self._in_length_batches(texts, self._embed))
        sentences = sentences_of(texts)
        rows = self._in_length_batches([s.text for group in sentences for s in group], self._embed)
        return _mean_vectors(_split_rows(rows, sentences))

    def _score_rows(self, texts: list[str], embed: bool) -> np.ndarray:
        """Scores (then the embedding, when `embed`) of each text, rows in input order: every scoring goes through
        here. A kind made of other predictors (the ensemble) overrides it, so each part runs in batches of its own
        size; such a kind then needs no `_scores` of its own."""
        return self._in_length_batches(texts, self._scores_and_embed if embed else self._scores)

    def _in_length_batches(self, texts: list[str], fn) -> np.ndarray:
        # Similar lengths share a batch, so little padding is computed; a text repeated within the call (a
        # boilerplate sentence, the same clause from two merged requests) runs once; results go back to input order.
        unique = list(dict.fromkeys(texts))
        order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        parts = []
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                batch = [unique[i] for i in order[start:start + self.batch_size]]
                parts.append(np.asarray(fn(batch), dtype=np.float32))
        stacked = np.concatenate(parts, axis=0)
        result = np.empty_like(stacked)
        result[order] = stacked
        if len(unique) == len(texts):
            return result
        row_of = {text: i for i, text in enumerate(unique)}
        return result[[row_of[text] for text in texts]]

    def _scores(self, batch: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _embed(self, batch: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _scores_and_embed(self, batch: list[str]) -> np.ndarray:
        """Scores then embedding, side by side; a kind that can share the work overrides this."""
        return np.concatenate([self._scores(batch), self._embed(batch)], axis=1)


def sentences_of(texts: list[str]) -> list[list[Sentence]]:
    """Each text's sentences (the unit the model scores); a text with none found is one sentence."""
    return [split_sentences(text) or [Sentence(text, 0, len(text))] for text in texts]


def _mean_vectors(parts: list[np.ndarray]) -> np.ndarray:
    """One L2-normalised vector per group: the mean of its members' normalised vectors."""
    return _l2_normalised(np.stack([_l2_normalised(part).mean(axis=0) for part in parts]))


def _split_rows(rows: np.ndarray, groups: list[list]) -> list[np.ndarray]:
    """Cut the rows of all groups' members (in order) back into one block per group."""
    ends = np.cumsum([len(g) for g in groups])[:-1]
    return np.split(rows, ends)


def _l2_normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def read_artifact_meta(path: str | Path) -> ArtifactMeta:
    """The artifact's validated description (training.inference.artifact.read_meta)."""
    return read_meta(path)


def load_predictor(path: str | Path, runtime: Runtime = "auto") -> Predictor:
    """The predictor for the artifact directory `path`, whatever its kind. `runtime` forces the engine of a kind
    that has a choice (bert: "onnx" or "torch"); kinds with one way to run ignore it."""
    path = Path(path)
    meta = read_meta(path)
    predictor = get_kind(meta.kind).predictor
    return predictor(path, meta, runtime=runtime) if predictor.runtimes else predictor(path, meta)
