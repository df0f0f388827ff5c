"""A toy model kind, all in one file, as a new kind would be written: its config section, fit, saved file and
predictor. Registered from the test that uses it (training.kinds.register)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Literal

import numpy as np

from training.inference.predictor import Predictor
from training.kinds import FitJob, ModelKind, ModelSection, register

WORDS_FILE = "toy-words.json"


class ToySection(ModelSection):
    """A keyword model: a label's score is the share of its typical characters found in the text."""

    kind: Literal["toy"]
    top_chars: int = 12


def fit(job: FitJob) -> dict:
    words = {}
    for j, label in enumerate(job.labels):
        counts = Counter(ch for ex in job.train_units if label in ex.categories for ch in ex.text)
        words[label] = [ch for ch, _ in counts.most_common(job.config.model.top_chars)]
    (job.out_dir / WORDS_FILE).write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    return {"chars": sum(len(w) for w in words.values())}


class ToyPredictor(Predictor):
    def __init__(self, path, meta):
        super().__init__(path, meta)
        self.words = json.loads((path / WORDS_FILE).read_text(encoding="utf-8"))

    def _scores(self, batch: list[str]) -> np.ndarray:
        return np.array([[sum(ch in text for ch in self.words[label]) / max(len(self.words[label]), 1)
                          for label in self.labels] for text in batch], dtype=np.float32)

    def _embed(self, batch: list[str]) -> np.ndarray:
        return self._scores(batch)


def register_toy() -> ModelKind:
    return register(ModelKind(name="toy", section=ToySection, fit=fit, predictor=ToyPredictor))
