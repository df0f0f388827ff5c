"""Where clausemap finds its shipped files and keeps its caches."""

import os
from pathlib import Path

# The repository (or installed source tree) root: seeds/, data/ and configs/ live here.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """User cache for downloaded encoders and tools (CLAUSEMAP_CACHE or XDG cache)."""
    base = os.environ.get("CLAUSEMAP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "clausemap"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_model_dir() -> Path:
    """The artifact `clausemap serve` uses when no --model is given (CLAUSEMAP_MODEL overrides)."""
    return Path(os.environ.get("CLAUSEMAP_MODEL") or PROJECT_ROOT / "models" / "default")


def default_dataset() -> Path:
    """The annotated dataset `clausemap data build` writes."""
    return PROJECT_ROOT / "data" / "dataset.jsonl"


def catalogues_dir() -> Path:
    """One department catalogue per bureau, <id>.yaml (CLAUSEMAP_CATALOGUES overrides labels/catalogues)."""
    return Path(os.environ.get("CLAUSEMAP_CATALOGUES") or PROJECT_ROOT / "labels" / "catalogues")


def bureau_history_dir() -> Path:
    """Each bureau's own history, <catalogue id>.jsonl: the rows of its breakdown tables (CLAUSEMAP_BUREAU_HISTORY
    overrides data/history)."""
    return Path(os.environ.get("CLAUSEMAP_BUREAU_HISTORY") or PROJECT_ROOT / "data" / "history")
