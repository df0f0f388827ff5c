"""The baseline: character n-gram TF-IDF + one-vs-rest logistic regression (scikit-learn)."""

from __future__ import annotations

import warnings
from pathlib import Path

from training.config import Config
from training.data import Example, label_matrix
from training.inference import TFIDF_FILE


def fit(config: Config, train_rows: list[Example], held_rows: list[Example], labels: list[str], fallback: str,
        out_dir: Path, scratch_dir: Path) -> dict:
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

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
    with warnings.catch_warnings():
        # A label absent from the training rows gets a constant "no"; sklearn warns about it, which is expected.
        warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
        classifier.fit(features, targets)
    joblib.dump({"vectorizer": vectorizer, "classifier": classifier}, out_dir / TFIDF_FILE)
    return {"vocabulary_size": len(vectorizer.vocabulary_)}
