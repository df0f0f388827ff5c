"""Staff corrections of the breakdown table, kept in an embedded SQLite database (CLAUSEMAP_FEEDBACK_DB).

Corrections are never updated in place: a later correction of the same clause is a new row, and the latest wins
when data is built. The schema is versioned (`schema_version`) and upgraded by `MIGRATIONS` at startup; the
database runs in WAL mode and every write is one transaction. A database that cannot be opened (corrupted,
read-only, a directory) leaves the store unavailable with the reason, naming the file: the service still
classifies, and the feedback endpoints answer 503 with that reason. So does a write that finds the database
locked by another process past the busy timeout. Reads have a connection of their own (WAL readers never wait
for a writer), so a write waiting for the lock never holds up reads such as /v1/plans' corrections.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clausemap.errors import ClausemapError
from labels.rows import lead_first, row_from

log = logging.getLogger("clausemap.feedback")

# Each entry upgrades the schema by one version; the database records the last one applied.
MIGRATIONS = [
    """CREATE TABLE corrections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        text TEXT NOT NULL,
        categories TEXT NOT NULL,
        lead_departments TEXT NOT NULL,
        cooperating_departments TEXT NOT NULL,
        doc TEXT, number TEXT, model_version TEXT, predicted TEXT, author TEXT, comment TEXT
    )""",
    # 2: the bureau (catalogue id) whose sections a correction names; NULL: the service's default catalogue
    "ALTER TABLE corrections ADD COLUMN catalogue TEXT",
]
JSON_FIELDS = ("categories", "lead_departments", "cooperating_departments", "predicted")
FIELDS = ("text", "categories", "lead_departments", "cooperating_departments", "doc", "number", "model_version",
          "predicted", "author", "comment", "catalogue")


class FeedbackUnavailable(Exception):
    """The store could not be opened or is locked; the message names the file and says why."""


class FeedbackStore:
    def __init__(self, path: str | Path, busy_timeout_s: float = 5.0):
        self.path = Path(path)
        self.error: str | None = None
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()  # the writing connection's
        self._read_lock = threading.Lock()  # the reading connection's
        self._db: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        try:
            self._db = self._open()
            self._reader = self._connect()
            self._reader.execute("PRAGMA query_only=ON")
        except (sqlite3.Error, OSError) as exc:
            self.error = f"feedback database {self.path} cannot be used: {exc}"
            log.error(self.error)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        return db

    def _open(self) -> sqlite3.Connection:
        if self.path.exists() and not self.path.is_file():
            raise OSError("not a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connect()
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT version FROM schema_version").fetchone()
        version = row[0] if row else 0
        if version > len(MIGRATIONS):
            raise sqlite3.DatabaseError(f"schema version {version} is newer than this clausemap ({len(MIGRATIONS)})")
        for number, statement in enumerate(MIGRATIONS[version:], start=version + 1):
            with db:  # one transaction per migration step
                db.execute("BEGIN IMMEDIATE")
                db.execute(statement)
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))
        # A write probe: a read-only file fails here, at startup, not on the first correction.
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE schema_version SET version = version")
        return db

    def _require(self) -> sqlite3.Connection:
        if self._db is None:
            raise FeedbackUnavailable(self.error or "feedback store is not open")
        return self._db

    def _unavailable(self, exc: sqlite3.Error) -> FeedbackUnavailable:
        reason = f"feedback database {self.path} cannot be used now: {exc}"
        log.error(reason)
        return FeedbackUnavailable(reason + ("; try again shortly" if "locked" in str(exc) else ""))

    def _read(self, sql: str, parameters) -> list[tuple]:
        self._require()
        with self._read_lock:
            try:
                return self._reader.execute(sql, parameters).fetchall()
            except sqlite3.OperationalError as exc:
                raise self._unavailable(exc) from None

    def add(self, corrections: list[dict[str, Any]]) -> list[int]:
        """Store the corrections in one transaction; their new ids, in order."""
        db = self._require()
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        ids = []
        with self._lock:
            try:
                db.execute("BEGIN IMMEDIATE")  # waits up to busy_timeout_s for another process's lock
                for item in corrections:
                    values = [json.dumps(item.get(k), ensure_ascii=False) if k in JSON_FIELDS else item.get(k)
                              for k in FIELDS]
                    cursor = db.execute(f"INSERT INTO corrections (created_at, {', '.join(FIELDS)}) "
                                        f"VALUES (?, {', '.join('?' for _ in FIELDS)})", [now, *values])
                    ids.append(cursor.lastrowid)
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:  # a BEGIN that failed on the lock left none to roll back
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise self._unavailable(exc) from None
                raise
        return ids

    def list(self, since: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Corrections with id > since, oldest first."""
        rows = self._read(f"SELECT id, created_at, {', '.join(FIELDS)} FROM corrections WHERE id > ? "
                          "ORDER BY id LIMIT ?", (since, limit))
        result = []
        for row in rows:
            item = dict(zip(("id", "created_at", *FIELDS), row))
            for key in JSON_FIELDS:
                item[key] = json.loads(item[key]) if item[key] is not None else None
            result.append(item)
        return result

    def latest_for(self, texts: list[str]) -> dict[str, dict[str, Any]]:
        """{clause text: its latest correction} for those of `texts` that staff corrected."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(texts))
        for start in range(0, len(unique), 500):  # SQLite limits the number of bound parameters
            chunk = unique[start:start + 500]
            rows = self._read(f"SELECT id, created_at, {', '.join(FIELDS)} FROM corrections WHERE text IN "
                              f"({', '.join('?' for _ in chunk)}) ORDER BY id", chunk)
            for row in rows:
                item = dict(zip(("id", "created_at", *FIELDS), row))
                for key in JSON_FIELDS:
                    item[key] = json.loads(item[key]) if item[key] is not None else None
                found[item["text"]] = item  # ordered by id: the latest stays
        return found

    def all(self) -> list[dict[str, Any]]:
        out, since = [], 0
        while batch := self.list(since, 1000):
            out += batch
            since = batch[-1]["id"]
        return out

    def close(self) -> None:
        for db in (self._reader, self._db):
            if db is not None:
                db.close()
        self._db = self._reader = None


def latest_by_text(corrections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One correction per clause text: the latest (corrections are never updated in place)."""
    latest: dict[str, dict[str, Any]] = {}
    for item in sorted(corrections, key=lambda c: c["id"]):
        latest[item["text"]] = item
    return list(latest.values())


FEEDBACK_DOC = "feedback"


def apply_corrections(rows: list[dict[str, Any]], corrections: list[dict[str, Any]], taxonomy=None) -> int:
    """Fold staff corrections into dataset rows (in place); returns how many rows they gave or changed.

    The latest correction of a clause text wins. A clause already in the dataset takes the corrected labels
    (its sentence labels are dropped: they may no longer add up to them); a new clause becomes a row of its own.
    Either way the row is marked `source: "feedback"` with the correction's id, author and model version, and
    checked as every row is (labels.rows.Row: ClausemapError names the correction)."""
    by_text = {row["text"]: i for i, row in enumerate(rows)}
    for item in latest_by_text(corrections):
        fields = {"categories": list(item["categories"]),
                  "departments": lead_first(item["lead_departments"], item["cooperating_departments"]),
                  "lead_departments": list(item["lead_departments"]), "source": "feedback", "feedback_id": item["id"],
                  "corrected_by": item.get("author"), "model_version": item.get("model_version")}
        if item.get("catalogue"):  # its sections are that bureau's: labels.bureaus.belongs keeps it there
            fields["bureau"] = item["catalogue"]
        index = by_text.get(item["text"])
        if index is not None:
            row = {k: v for k, v in rows[index].items() if k != "sentences"}
            row.update(fields)
        else:
            row = {"id": f"{FEEDBACK_DOC}-{item['id']}", "doc": item.get("doc") or FEEDBACK_DOC,
                   "number": item.get("number") or "", "section": [], "title": "", "text": item["text"], **fields}
        try:
            row = row_from(row, taxonomy).as_dict()
        except ValueError as exc:
            raise ClausemapError(f"correction {item['id']}: {exc}") from None
        if index is not None:
            rows[index] = row
        else:
            by_text[item["text"]] = len(rows)
            rows.append(row)
    return len(latest_by_text(corrections))


def as_label_studio_tasks(corrections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest correction of each clause as a Label Studio task with a completed annotation (the labelling
    config's `categories` and `departments` choices); the staff author and the model version in its meta."""
    from labels.studio.config import CATEGORIES_NAME, DEPARTMENTS_NAME, TEXT_NAME

    tasks = []
    for item in latest_by_text(corrections):
        lead = list(item["lead_departments"])
        departments = lead_first(lead, item["cooperating_departments"])
        result = [{"from_name": CATEGORIES_NAME, "to_name": TEXT_NAME, "type": "choices",
                   "value": {"choices": list(item["categories"])}}]
        if departments:
            result.append({"from_name": DEPARTMENTS_NAME, "to_name": TEXT_NAME, "type": "choices",
                           "value": {"choices": departments}})
        tasks.append({
            "id": item["id"],
            "data": {"clause_id": f"{FEEDBACK_DOC}-{item['id']}", "doc": item.get("doc") or FEEDBACK_DOC,
                     "number": item.get("number") or "", "text": item["text"], "lead_departments": lead},
            "meta": {"feedback_id": item["id"], "author": item.get("author"), "model_version": item.get("model_version"),
                     "predicted": item.get("predicted"), "comment": item.get("comment")},
            "annotations": [{"result": result, "was_cancelled": False, "ground_truth": False,
                             "created_at": item["created_at"], "updated_at": item["created_at"],
                             "completed_by": {"email": item.get("author")}}],
        })
    return tasks
