"""Where clausemap finds its shipped files and keeps its caches.

Every configurable location comes from the one settings object (clausemap.settings.Settings), which reads the
environment and resolves relative paths against its documented base; these functions are its short names.
"""

from pathlib import Path

from clausemap import PROJECT_ROOT  # noqa: F401  (its usual name: clausemap.paths.PROJECT_ROOT)


def _settings():
    from clausemap.settings import Settings

    return Settings()


def cache_dir() -> Path:
    """User cache for downloaded encoders and tools (CLAUSEMAP_CACHE or XDG cache), created if missing."""
    path = _settings().cache
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_model_dir() -> Path:
    """The artifact `clausemap serve` uses when no --model is given (CLAUSEMAP_MODEL)."""
    return _settings().model


def default_dataset() -> Path:
    """The annotated dataset `clausemap data build` writes (CLAUSEMAP_DATASET)."""
    return _settings().dataset


def catalogues_dir() -> Path:
    """One department catalogue per bureau, <id>.yaml (CLAUSEMAP_CATALOGUES)."""
    return _settings().catalogues


def bureau_history_dir() -> Path:
    """Each bureau's own history, <catalogue id>.jsonl: the rows of its breakdown tables (CLAUSEMAP_BUREAU_HISTORY)."""
    return _settings().bureau_history


def feedback_db() -> Path:
    """The SQLite database of staff corrections (CLAUSEMAP_FEEDBACK_DB)."""
    return _settings().feedback_db
