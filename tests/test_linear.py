"""training.kinds.linear: the sentence-vector cache shared by the fits of a process stays bounded."""

from collections import OrderedDict

import numpy as np

from training.kinds.linear import SentenceEncoder


def counting_encoder(monkeypatch, limit: int):
    """A SentenceEncoder without a model: each text's vector is its length; it records what it had to encode."""
    monkeypatch.setattr(SentenceEncoder, "_cache", OrderedDict())
    monkeypatch.setattr(SentenceEncoder, "CACHE_VECTORS", limit)
    encoder = SentenceEncoder.__new__(SentenceEncoder)
    encoder.source, encoder.max_length, encoder.encoded = "stub", 8, []

    def encode(texts):
        encoder.encoded.append(list(texts))
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    encoder._encode = encode
    return encoder


def test_the_cache_keeps_at_most_its_limit_and_forgets_the_least_recently_used(monkeypatch):
    encoder = counting_encoder(monkeypatch, limit=3)
    assert encoder.encode(["a", "bb", "ccc"], cache=True).ravel().tolist() == [1, 2, 3]
    assert encoder.encode(["a"], cache=True).ravel().tolist() == [1]  # a hit: "a" is now the most recent
    assert encoder.encode(["dddd", "a"], cache=True).ravel().tolist() == [4, 1]
    assert len(SentenceEncoder._cache) == 3
    assert encoder.encoded == [["a", "bb", "ccc"], ["dddd"]]
    encoder.encode(["bb"], cache=True)  # "bb" was the least recently used: forgotten, encoded again
    assert encoder.encoded[-1] == ["bb"]


def test_a_batch_larger_than_the_cache_still_gets_every_vector(monkeypatch):
    encoder = counting_encoder(monkeypatch, limit=2)
    texts = ["a", "bb", "ccc", "dddd", "bb"]
    assert encoder.encode(texts, cache=True).ravel().tolist() == [1, 2, 3, 4, 2]
    assert len(SentenceEncoder._cache) == 2
