"""The baseline: character n-gram TF-IDF + one-vs-rest logistic regression (scikit-learn)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from training.data import label_matrix
from training.inference.predictor import Predictor
from training.kinds import FitJob, ModelKind, ModelSection, register
from training.kinds.pickled import fit_quietly, load_fitted, save_fitted
from training.kinds.projection import NGRAM_BATCH_SIZE, NGRAM_EMBEDDING_DIM, sparse_projection

FITTED_NAME = "tfidf"  # tfidf.pkl (tfidf.joblib in older artifacts)


class TfidfSection(ModelSection):
    kind: Literal["tfidf"]
    ngram_min: int = Field(1, ge=1)
    ngram_max: int = Field(3, ge=1)
    min_df: int = Field(1, ge=1)
    max_features: int | None = Field(None, gt=0)
    sublinear_tf: bool = True
    C: float = Field(4.0, gt=0, description="inverse regularisation strength of the logistic regressions")

    @model_validator(mode="after")
    def _ngram_order(self):
        if self.ngram_max < self.ngram_min:
            raise ValueError("ngram_max must be >= ngram_min")
        return self


def fit(job: FitJob) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    config, train_rows, labels, out_dir = job.config, job.train_units, job.labels, job.out_dir
    spec = config.model
    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=(spec.ngram_min, spec.ngram_max),
        min_df=spec.min_df,
        max_features=spec.max_features,
        sublinear_tf=spec.sublinear_tf,
    )
    features = vectorizer.fit_transform([ex.text for ex in train_rows])
    targets = label_matrix(train_rows, labels).astype(int)
    # class_weight="balanced" is the baseline's answer to class imbalance.
    classifier = OneVsRestClassifier(
        LogisticRegression(C=spec.C, class_weight="balanced", max_iter=2000, random_state=config.training.seed)
    )
    fit_quietly(classifier, features, targets)
    save_fitted({"vectorizer": vectorizer, "classifier": classifier}, out_dir, FITTED_NAME)
    return {"vocabulary_size": len(vectorizer.vocabulary_)}


class TfidfPredictor(Predictor):
    def __init__(self, path: Path, meta):
        super().__init__(path, meta, batch_size=NGRAM_BATCH_SIZE)
        saved = load_fitted(path, FITTED_NAME)  # a pickle: load only artifacts you trained or trust
        self.vectorizer, self.classifier = saved["vectorizer"], saved["classifier"]
        self._projection = sparse_projection(len(self.vectorizer.vocabulary_), NGRAM_EMBEDDING_DIM)

    def _scores(self, batch: list[str]) -> np.ndarray:
        return self.classifier.predict_proba(self.vectorizer.transform(batch))

    def _embed(self, batch: list[str]) -> np.ndarray:
        return (self.vectorizer.transform(batch) @ self._projection).toarray()


KIND = register(ModelKind(name="tfidf", section=TfidfSection, fit=fit, predictor=TfidfPredictor))
