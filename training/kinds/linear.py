"""Linear heads on a frozen sentence encoder, beside character n-grams: the `linear` model kind.

m3e is an embedding model: its mean-pooled vectors already place "新增公办幼儿园学位" near "提高学前三年毛入园率".
Trained on annotated sentences (a few hundred real ones and the written ones), one logistic regression per
category on those vectors, and another on character 1–3-gram TF-IDF, are mixed (`encoder_weight`). Nothing in
the encoder is trained, so a fit takes seconds after the sentences are encoded once, which is what lets
thresholds be tuned on out-of-fold scores of the whole training set.

Artifact files: `encoder/` (the encoder's save_pretrained model and tokenizer), `linear.pkl` (the
vectoriser and the two classifiers; training.kinds.pickled: load only artifacts you trust).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from training.data import label_matrix
from training.inference.predictor import Predictor
from training.kinds import FitJob, ModelKind, ModelSection, register
from training.kinds.pickled import fit_quietly, load_fitted, save_fitted
from training.kinds.projection import NGRAM_BATCH_SIZE, NGRAM_EMBEDDING_DIM, sparse_projection

ENCODER_DIR = "encoder"
FITTED_NAME = "linear"  # linear.pkl (linear.joblib in older artifacts)


class NgramFeatures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ngram_min: int = Field(1, ge=1)
    ngram_max: int = Field(3, ge=1)
    min_df: int = Field(1, ge=1)


class LinearSection(ModelSection):
    """Logistic-regression heads on a frozen sentence encoder and on character n-grams, mixed."""

    kind: Literal["linear"]
    # A name from `clausemap models fetch`, a hub name or a local path; null: n-grams only.
    encoder: str | None = "m3e-small"
    max_length: int = Field(128, gt=8, le=512)
    tfidf: NgramFeatures | None = NgramFeatures()  # null: encoder only
    C_encoder: float = Field(1.0, gt=0)
    C_tfidf: float = Field(4.0, gt=0)
    # The mixed score is encoder_weight × encoder head + (1 − encoder_weight) × n-gram head.
    encoder_weight: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _some_features(self):
        if not self.encoder and not self.tfidf:
            raise ValueError("give model.encoder, model.tfidf or both")
        return self

    def pretrained_sources(self) -> list[str]:
        return [self.encoder] if self.encoder else []

    def token_limit(self) -> int | None:
        return self.max_length


class SentenceEncoder:
    """Mean-pooled vectors of a BERT encoder, in length-sorted batches; remembers the texts it has encoded
    (cross-validation encodes the same sentences for every fold), the least recently used forgotten past
    CACHE_VECTORS, so a long-running service that retrains does not grow without end."""

    CACHE_VECTORS = 20_000  # about 40 MB of m3e-small vectors; the seed data and written rows need under 5 000
    _cache: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
    _cache_lock = threading.Lock()

    def __init__(self, source: str, max_length: int, batch_size: int = 32):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.source, self.max_length, self.batch_size = str(source), max_length, batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModel.from_pretrained(source).eval()

    def save(self, directory: Path) -> None:
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)

    def encode(self, texts: list[str], cache: bool = False) -> np.ndarray:
        if not cache:
            return self._encode(texts)
        keys = [(self.source, self.max_length, t) for t in texts]
        with self._cache_lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for key in found:
                self._cache.move_to_end(key)
        missing = list(dict.fromkeys(t for k, t in zip(keys, texts) if k not in found))
        if missing:
            fresh = {(self.source, self.max_length, t): v for t, v in zip(missing, self._encode(missing))}
            found.update(fresh)
            with self._cache_lock:
                self._cache.update(fresh)
                while len(self._cache) > self.CACHE_VECTORS:
                    self._cache.popitem(last=False)
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def _encode(self, texts: list[str]) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = None
        with self._torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                inputs = self.tokenizer([texts[i] for i in idx], truncation=True, max_length=self.max_length,
                                        padding=True, return_tensors="pt")
                states = self.model(**inputs).last_hidden_state
                mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = ((states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).numpy()
                if out is None:
                    out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
                out[idx] = pooled
        return out if out is not None else np.zeros((0, 0), np.float32)


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _one_vs_rest(C: float, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed))


def fit(job: FitJob) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer

    config, train_rows, labels, out_dir = job.config, job.train_units, job.labels, job.out_dir
    spec: LinearSection = config.model
    texts = [ex.text for ex in train_rows]
    targets = label_matrix(train_rows, labels).astype(int)
    saved: dict = {"encoder_weight": spec.encoder_weight if spec.encoder and spec.tfidf else None}
    if spec.encoder:
        from training.kinds.encoders import resolve_pretrained

        encoder = SentenceEncoder(resolve_pretrained(spec.encoder), spec.max_length)
        vectors = _normalised(encoder.encode(texts, cache=True))
        saved["encoder_classifier"] = fit_quietly(_one_vs_rest(spec.C_encoder, config.training.seed), vectors,
                                                  targets)
        encoder.save(out_dir / ENCODER_DIR)
    if spec.tfidf:
        ngrams = spec.tfidf
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(ngrams.ngram_min, ngrams.ngram_max),
                                     min_df=ngrams.min_df, sublinear_tf=True)
        features = vectorizer.fit_transform(texts)
        saved["vectorizer"] = vectorizer
        saved["tfidf_classifier"] = fit_quietly(_one_vs_rest(spec.C_tfidf, config.training.seed), features,
                                                targets)
    save_fitted(saved, out_dir, FITTED_NAME)
    return {"base_model": spec.encoder or "none", "n_units": len(train_rows)}


class LinearPredictor(Predictor):
    def __init__(self, path: Path, meta):
        super().__init__(path, meta, batch_size=NGRAM_BATCH_SIZE)
        self.saved = load_fitted(path, FITTED_NAME)  # a pickle: load only artifacts you trained or trust
        self.encoder = None
        if self.saved.get("encoder_classifier") is not None:
            self.encoder = SentenceEncoder(path / ENCODER_DIR, meta.max_length or LinearSection.model_fields["max_length"].default)
        # Needed only without an encoder; built here, not on first use, so no two threads build it.
        self._projection = sparse_projection(len(self.saved["vectorizer"].vocabulary_), NGRAM_EMBEDDING_DIM) \
            if self.encoder is None else None

    def _features(self, batch: list[str]):
        """(encoder vectors or None, sparse n-gram matrix or None), each computed once per batch."""
        vectors = self.encoder.encode(batch) if self.encoder else None
        ngrams = self.saved["vectorizer"].transform(batch) if self.saved.get("tfidf_classifier") is not None else None
        return vectors, ngrams

    def _head_scores(self, vectors, ngrams) -> np.ndarray:
        parts = []
        if vectors is not None:
            parts.append(self.saved["encoder_classifier"].predict_proba(_normalised(vectors)))
        if ngrams is not None:
            parts.append(self.saved["tfidf_classifier"].predict_proba(ngrams))
        weight = self.saved.get("encoder_weight")
        return weight * parts[0] + (1 - weight) * parts[1] if len(parts) == 2 else parts[0]

    def _embedding(self, vectors, ngrams) -> np.ndarray:
        # Without an encoder the n-gram vector, projected (computed sparse, dense only at NGRAM_EMBEDDING_DIM wide).
        return vectors if vectors is not None else (ngrams @ self._projection).toarray()

    def _scores(self, batch: list[str]) -> np.ndarray:
        return self._head_scores(*self._features(batch))

    def _embed(self, batch: list[str]) -> np.ndarray:
        return self._embedding(*self._features(batch))

    def _scores_and_embed(self, batch: list[str]) -> np.ndarray:
        features = self._features(batch)
        return np.concatenate([self._head_scores(*features), self._embedding(*features)], axis=1)


KIND = register(ModelKind(name="linear", section=LinearSection, fit=fit, predictor=LinearPredictor))
