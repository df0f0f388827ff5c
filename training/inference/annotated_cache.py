"""The model's scores and embeddings of the annotated rows, kept on disk between service starts.

The department suggester compares every new clause with the annotated rows (data/dataset.jsonl: 135 seed clauses,
about 670 sentences), so each start ran the model over all of them first: seconds of BERT time on two cores,
most of the ensemble service's time to ready. They depend only on the model (and the engine that runs it) and on
the texts, so they are saved under the user cache as `annotated/<sha256>.npz`, the hash taken over the model
version, the engine and the texts, and reused while all three are the same. An unreadable or mismatched file is
recomputed and replaced; files of earlier models are left for the user to clear (a few hundred KB each).
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np

from clausemap.fileio import write_bytes_atomic
from training.inference.predictor import Predictor

log = logging.getLogger(__name__)
CACHE_FOLDER = "annotated"


def scores_and_embeddings(predictor: Predictor, texts: list[str], cache_dir: Path | None
                          ) -> tuple[list[dict[str, float]], np.ndarray]:
    """Each text's category scores and its embedding, from `cache_dir` when saved there for this model and texts."""
    path = None if cache_dir is None else Path(cache_dir) / CACHE_FOLDER / f"{_key(predictor, texts)}.npz"
    saved = _read(path, len(texts), len(predictor.labels)) if path is not None else None
    if saved is None:
        predictions, embeddings = predictor.predict_and_embed(texts)
        scores = np.array([[p.scores[label] for label in predictor.labels] for p in predictions], dtype=np.float32)
        if path is not None:
            _write(path, scores, np.asarray(embeddings, dtype=np.float32))
    else:
        scores, embeddings = saved
    return [dict(zip(predictor.labels, map(float, row))) for row in scores], embeddings


def _key(predictor: Predictor, texts: list[str]) -> str:
    digest = hashlib.sha256()
    for part in (predictor.model_version, str(predictor.info.get("runtime", "")), *texts):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _read(path: Path, n_texts: int, n_labels: int) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            scores, embeddings = saved["scores"], saved["embeddings"]
    except (OSError, ValueError, KeyError) as exc:
        log.warning("recomputing the annotated rows' scores: %s is unreadable (%s)", path, exc)
        return None
    if scores.shape != (n_texts, n_labels) or len(embeddings) != n_texts:
        log.warning("recomputing the annotated rows' scores: %s does not fit them", path)
        return None
    return scores, embeddings


def _write(path: Path, scores: np.ndarray, embeddings: np.ndarray) -> None:
    saved = io.BytesIO()
    np.savez(saved, scores=scores, embeddings=embeddings)
    try:
        write_bytes_atomic(path, saved.getvalue())
    except OSError as exc:  # a read-only or full cache costs the next start time, nothing else
        log.warning("could not cache the annotated rows' scores in %s: %s", path, exc)
