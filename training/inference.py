"""Load a trained artifact and classify clause texts: the one inference path for evaluate, cv and the service.

    predictor = load_predictor("models/default")
    predictor.predict(["加强教师队伍建设……"])[0].labels   # -> ["teachers"]

Every artifact kind (fine-tuned BERT, TF-IDF baseline) answers the same interface; all methods are
thread-safe.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clausemap.errors import InputFileError
from training.metrics import decide

ARTIFACT_FILE = "clausemap.json"
TFIDF_FILE = "tfidf.joblib"


@dataclass
class Prediction:
    scores: dict[str, float]  # every label id -> sigmoid probability
    labels: list[str]  # specific ids at or above their threshold, else [fallback id]


@dataclass
class Predictor:
    """Common part of every artifact kind; subclasses implement `_scores` and `_embed`."""

    path: Path
    meta: dict
    batch_size: int = 32
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"])

    @property
    def fallback_id(self) -> str:
        return self.meta["fallback"]

    @property
    def thresholds(self) -> dict[str, float]:
        return {label: float(self.meta["thresholds"][label]) for label in self.labels}

    @property
    def model_version(self) -> str:
        return self.meta["model_version"]

    @property
    def info(self) -> dict:
        keys = ("kind", "config_name", "data_hash", "metrics", "trained_at", "model_version")
        return {key: self.meta.get(key) for key in keys}

    def predict_scores(self, texts: list[str]) -> np.ndarray:
        """(n × labels) sigmoid probabilities, rows in input order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self._in_length_batches(texts, self._scores)

    def predict(self, texts: list[str]) -> list[Prediction]:
        return self._decide(self.predict_scores(texts))

    def predict_and_embed(self, texts: list[str]) -> tuple[list[Prediction], np.ndarray]:
        """`predict` and `embed` from one pass over the model (the service needs both for every clause)."""
        texts = list(texts)
        if not texts:
            return [], np.zeros((0, 0), dtype=np.float32)
        both = self._in_length_batches(texts, self._scores_and_embed)
        n_labels = len(self.labels)
        return self._decide(both[:, :n_labels]), _l2_normalised(both[:, n_labels:])

    def _decide(self, scores: np.ndarray) -> list[Prediction]:
        labels = self.labels
        thresholds = np.array([self.thresholds[label] for label in labels])
        chosen = decide(scores, thresholds, labels.index(self.fallback_id))
        return [
            Prediction(
                scores={label: float(s) for label, s in zip(labels, row)},
                labels=[label for label, keep in zip(labels, picked) if keep],
            )
            for row, picked in zip(scores, chosen)
        ]

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised sentence vectors, rows in input order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return _l2_normalised(self._in_length_batches(texts, self._embed))

    def _in_length_batches(self, texts: list[str], fn) -> np.ndarray:
        # Similar lengths share a batch, so little padding is computed; results go back to input order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                batch = [texts[i] for i in order[start:start + self.batch_size]]
                parts.append(np.asarray(fn(batch), dtype=np.float32))
        stacked = np.concatenate(parts, axis=0)
        result = np.empty_like(stacked)
        result[order] = stacked
        return result

    def _scores(self, batch: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _embed(self, batch: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _scores_and_embed(self, batch: list[str]) -> np.ndarray:
        """Scores then embedding, side by side; a kind that can share the work overrides this."""
        return np.concatenate([self._scores(batch), self._embed(batch)], axis=1)


class BertPredictor(Predictor):
    def __init__(self, path: Path, meta: dict):
        super().__init__(path, meta)
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForSequenceClassification.from_pretrained(path).eval()
        model_labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]
        if model_labels != self.labels:
            raise InputFileError(path, f"model labels {model_labels} differ from {ARTIFACT_FILE} {self.labels}")
        self.max_length = int(meta.get("max_length", 256))

    def _encode(self, batch: list[str]):
        return self.tokenizer(batch, truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")

    def _scores(self, batch: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            logits = self.model(**self._encode(batch)).logits
            return self._torch.sigmoid(logits).numpy()

    def _embed(self, batch: list[str]) -> np.ndarray:
        with self._torch.inference_mode():
            inputs = self._encode(batch)
            return self._mean_pooled(self.model.base_model(**inputs).last_hidden_state, inputs)

    def _scores_and_embed(self, batch: list[str]) -> np.ndarray:
        # One forward pass: the classifier's logits and the encoder's last hidden states together.
        with self._torch.inference_mode():
            inputs = self._encode(batch)
            output = self.model(**inputs, output_hidden_states=True)
            scores = self._torch.sigmoid(output.logits).numpy()
            return np.concatenate([scores, self._mean_pooled(output.hidden_states[-1], inputs)], axis=1)

    def _mean_pooled(self, states, inputs) -> np.ndarray:
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        return ((states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).numpy()


class TfidfPredictor(Predictor):
    def __init__(self, path: Path, meta: dict):
        super().__init__(path, meta)
        import joblib

        # A pickle: load only artifacts you trained or trust.
        saved = joblib.load(path / TFIDF_FILE)
        self.vectorizer, self.classifier = saved["vectorizer"], saved["classifier"]

    def _scores(self, batch: list[str]) -> np.ndarray:
        return self.classifier.predict_proba(self.vectorizer.transform(batch))

    def _embed(self, batch: list[str]) -> np.ndarray:
        return self.vectorizer.transform(batch).toarray()


PREDICTORS = {"bert": BertPredictor, "tfidf": TfidfPredictor}


def _l2_normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def read_artifact_meta(path: str | Path) -> dict:
    path = Path(path)
    meta_file = path / ARTIFACT_FILE
    if not meta_file.is_file():
        raise InputFileError(path, f"not a clausemap model (no {ARTIFACT_FILE}); train one with `clausemap train`")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(meta_file, f"unreadable: {exc}") from None
    if meta.get("kind") not in PREDICTORS:
        raise InputFileError(meta_file, f"unknown model kind {meta.get('kind')!r}")
    return meta


def load_predictor(path: str | Path) -> Predictor:
    """The predictor for the artifact directory `path`, whatever its kind."""
    path = Path(path)
    meta = read_artifact_meta(path)
    return PREDICTORS[meta["kind"]](path, meta)
