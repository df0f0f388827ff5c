"""Connecting to Label Studio (label-studio-sdk 2.x) and turning its failures into one-line errors.

The URL and API key come from LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY, else from a YAML file
(`url:`, `api_key:`) named by CLAUSEMAP_LS_CONFIG, else ~/.config/clausemap/label-studio.yaml (all three read by
clausemap.settings.Settings).
The key is a SecretStr: it never appears in output, logs or error messages. What Label Studio answers to a
failed call is logged, never put in the error: the error may reach a client of the service (a retrain job's status).
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from clausemap.errors import ClausemapError, InputFileError
from clausemap.settings import Settings

REQUEST_TIMEOUT_S = 60.0

log = logging.getLogger("clausemap.studio")


class StudioSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    api_key: SecretStr

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s):// URL")
        return value.rstrip("/")


def load_settings(config_path: str | Path | None = None) -> StudioSettings:
    """Connection settings: environment variables first, then the config file."""
    settings = Settings()
    path = Path(config_path) if config_path else settings.ls_config
    from_file: dict = {}
    if config_path or path.exists():
        try:
            from_file = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise InputFileError(path, f"cannot read Label Studio config: {exc.strerror}") from None
        except yaml.YAMLError:
            raise InputFileError(path, "invalid YAML (expected url: and api_key:)") from None
        if not isinstance(from_file, dict):
            raise InputFileError(path, "expected a mapping with url: and api_key:")
    values = {
        "url": settings.label_studio_url or from_file.get("url"),
        "api_key": (settings.label_studio_api_key.get_secret_value() if settings.label_studio_api_key else None)
        or from_file.get("api_key"),
    }
    missing = [
        env for env, key in (("LABEL_STUDIO_URL", "url"), ("LABEL_STUDIO_API_KEY", "api_key")) if not values[key]
    ]
    if missing:
        raise ClausemapError(f"no Label Studio connection: set {' and '.join(missing)} (or url:/api_key: in {path})")
    try:
        return StudioSettings(url=str(values["url"]), api_key=str(values["api_key"]))
    except ValidationError as exc:
        raise ClausemapError(f"LABEL_STUDIO_URL: {exc.errors()[0]['msg']}") from None


class Studio:
    """The SDK client plus error translation: every call raises ClausemapError on failure."""

    def __init__(self, settings: StudioSettings):
        from label_studio_sdk import LabelStudio

        self.settings = settings
        self.url = settings.url
        with self.errors():
            self.client = LabelStudio(
                base_url=settings.url,
                api_key=settings.api_key.get_secret_value(),
                timeout=REQUEST_TIMEOUT_S,
                max_retries=1,
            )

    @contextmanager
    def errors(self, doing: str = ""):
        """Translate transport and API failures into a one-line ClausemapError (without the key)."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        what = f" while {doing}" if doing else ""
        try:
            yield
        except httpx.TimeoutException:
            raise ClausemapError(f"Label Studio at {self.url} did not answer in time{what}") from None
        except httpx.TransportError as exc:
            reason = self._redact(str(exc) or type(exc).__name__)
            raise ClausemapError(
                f"cannot reach Label Studio at {self.url}{what} ({reason}); is it running, is LABEL_STUDIO_URL right?"
            ) from None
        except ApiError as exc:
            if exc.status_code in (401, 403):
                raise ClausemapError(
                    f"Label Studio at {self.url} rejected the API key (HTTP {exc.status_code}){what}; "
                    "check LABEL_STUDIO_API_KEY (Account & Settings > Access Token)"
                ) from None
            log.warning("Label Studio at %s answered HTTP %s%s: %s", self.url, exc.status_code, what,
                        self._detail(exc.body))
            raise ClausemapError(
                f"Label Studio at {self.url} answered HTTP {exc.status_code}{what} (its answer is in the log)"
            ) from None

    def _redact(self, text: str) -> str:
        key = self.settings.api_key.get_secret_value()
        return text.replace(key, "***") if key else text

    def _detail(self, body) -> str:
        if isinstance(body, dict) and (body.get("detail") or body.get("validation_errors")):
            body = " ".join(str(body[k]) for k in ("detail", "validation_errors") if body.get(k))
        text = " ".join(str(body).split())
        return self._redact(text[:300] + ("…" if len(text) > 300 else ""))

    # --- the calls clausemap makes --------------------------------------------------------------

    def check(self) -> str:
        """The connected user's email; fails on a wrong URL or key."""
        with self.errors("checking the connection"):
            return self.client.users.whoami().email or "?"

    def find_project(self, title: str):
        with self.errors("listing projects"):
            matches = [p for p in self.client.projects.list(page_size=100) if p.title == title]
        if len(matches) > 1:
            ids = ", ".join(str(p.id) for p in matches)
            raise ClausemapError(f"several Label Studio projects are named {title!r} (ids {ids}); rename all but one")
        if not matches:
            return None
        with self.errors(f"reading project {title!r}"):
            return self.client.projects.get(matches[0].id)

    def require_project(self, title: str):
        project = self.find_project(title)
        if project is None:
            raise ClausemapError(
                f"no Label Studio project named {title!r} at {self.url}; "
                f"create it with: clausemap label init --project {title!r}"
            )
        return project

    def tasks(self, project_id: int) -> list:
        with self.errors("listing tasks"):
            return list(self.client.tasks.list(project=project_id, fields="all", page_size=100))

    def export(self, project_id: int) -> list[dict]:
        """Every task of the project with its annotations (Label Studio's JSON export)."""
        import json

        with self.errors("exporting the project"):
            raw = b"".join(
                self.client.projects.exports.download_sync(project_id, export_type="JSON", download_all_tasks=True)
            )
        try:
            tasks = json.loads(raw)
        except ValueError:
            raise ClausemapError(f"Label Studio at {self.url} sent an export that is not JSON") from None
        if not isinstance(tasks, list):
            raise ClausemapError(f"Label Studio at {self.url} sent an export that is not a list of tasks")
        return tasks

    def user_emails(self) -> dict[int, str]:
        with self.errors("listing users"):
            return {u.id: u.email or u.username or str(u.id) for u in self.client.users.list()}


def connect(config_path: str | Path | None = None) -> Studio:
    """A checked connection: unreachable servers and wrong keys fail here, with one line."""
    studio = Studio(load_settings(config_path))
    studio.check()
    return studio
