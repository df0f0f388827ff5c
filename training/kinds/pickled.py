"""The fitted scikit-learn objects of a kind (vectoriser, classifiers): fitted quietly, saved as one pickle in the
artifact.

    save_fitted({"vectorizer": v, "classifier": c}, out_dir, "tfidf")   # writes tfidf.pkl
    fitted = load_fitted(path, "tfidf")                                  # tfidf.pkl, or an older tfidf.joblib

Written with the standard library's pickle (protocol 5: numpy arrays inline) because its C unpickler loads the
n-gram default's 58,000-entry vocabulary in 0.08 s, where joblib's pure-Python one took 4.4 s (the larger part
of the service's start). Artifacts written before this change hold `<name>.joblib` and still load through joblib.
Either is a pickle: load only artifacts you trained or trust.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

from clausemap.errors import InputFileError

PICKLE_SUFFIX = ".pkl"
OLD_SUFFIX = ".joblib"


def fit_quietly(classifier, features, targets):
    """`classifier.fit(features, targets)`, returned. A category absent from the training units gets a constant "no";
    scikit-learn warns about it, which is expected here and would only bury the warnings that matter."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
        classifier.fit(features, targets)
    return classifier


def save_fitted(objects: dict[str, Any], out_dir: Path, name: str) -> Path:
    path = Path(out_dir) / f"{name}{PICKLE_SUFFIX}"
    with path.open("wb") as out:
        pickle.dump(objects, out, protocol=5)
    return path


def load_fitted(path: Path, name: str) -> dict[str, Any]:
    current, old = Path(path) / f"{name}{PICKLE_SUFFIX}", Path(path) / f"{name}{OLD_SUFFIX}"
    if current.is_file():
        with current.open("rb") as saved:
            return pickle.load(saved)
    if old.is_file():
        import joblib

        return joblib.load(old)
    raise InputFileError(current, f"the artifact lacks its fitted objects ({current.name})")
