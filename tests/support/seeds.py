"""The five seed plans the project starts from."""

from pathlib import Path

from clausemap.paths import PROJECT_ROOT

SEEDS = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))


def seed(prefix: str) -> Path:
    """The seed plan whose file name starts with `prefix` ("000" … "004")."""
    return next(p for p in SEEDS if p.name.startswith(prefix))
