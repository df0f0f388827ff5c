"""Label Studio JSON exports -> dataset rows (data/dataset.jsonl) and leave-one-document-out folds.

`clausemap data build` reads every export in data/annotations/ (written by `clausemap label pull` or by
hand in the same format) and writes the dataset every training stage reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import write_texts_atomic
from labels.rows import UnknownDepartment, checked_categories, resolve_departments, row_from, rows_text, sentence_union
from labels.studio.config import CATEGORIES_NAME, DEPARTMENTS_NAME, SECTION_SEPARATOR


class AnnotationError(ClausemapError):
    """An annotated task that cannot become a dataset row; the message names the task."""


@dataclass
class Conversion:
    rows: list[dict]
    dropped: list[str] = field(default_factory=list)  # tasks with no usable annotation, "task <id> (<clause>)"


def rows_from_export(tasks: list[dict]) -> list[dict]:
    """Dataset rows for the annotated tasks of a Label Studio JSON export (see convert_export)."""
    return convert_export(tasks).rows


def convert_export(tasks: list[dict], taxonomy=None, catalogue=None) -> Conversion:
    """Convert export tasks into dataset rows, sorted by document then clause order.

    Cancelled/skipped annotations are not training data; of several annotations on a task a
    ground-truth one wins, else the latest. Tasks left without a usable annotation are dropped and
    listed in `dropped`. Unknown categories or departments raise AnnotationError.
    """
    if taxonomy is None:
        from labels.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
    if catalogue is None:
        from labels.catalogue import load_catalogue

        catalogue = load_catalogue()
    rows, dropped = [], []
    for task in tasks:
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise AnnotationError("an export entry is not a task object with a 'data' field")
        if "sentence_index" in task["data"]:
            raise AnnotationError(f"{_task_ref(task)} is a sentence task: sentence exports belong in "
                                  f"data/annotations/{SENTENCES_DIR}/ (`clausemap label pull --sentences`)")
        annotation = chosen_annotation(task)
        if annotation is None:
            dropped.append(_task_ref(task))
            continue
        rows.append(_row(task, annotation, taxonomy, catalogue))
    rows.sort(key=clause_order)
    return Conversion(rows, dropped)


def chosen_annotation(task: dict) -> dict | None:
    """The annotation that counts for a task: not cancelled; ground truth first, then the latest."""
    usable = [a for a in task.get("annotations") or [] if not a.get("was_cancelled")]
    if not usable:
        return None
    pool = [a for a in usable if a.get("ground_truth")] or usable
    return max(pool, key=lambda a: (_timestamp(a.get("updated_at") or a.get("created_at")), a.get("id") or 0))


def clause_order(row: dict) -> tuple:
    """Sort key: document, then the clause's position ("<doc>-<n>"), then the id itself."""
    suffix = row["id"].removeprefix(f"{row['doc']}-")
    return (row["doc"], int(suffix) if suffix.isdigit() else float("inf"), row["id"])


def _row(task: dict, annotation: dict, taxonomy, catalogue) -> dict:
    data = task["data"]
    ref = _task_ref(task)
    if not data.get("clause_id") or not data.get("doc"):
        raise AnnotationError(f"{ref}: task data lacks clause_id or doc")
    chosen = _choices(annotation, CATEGORIES_NAME)
    if not chosen:
        raise AnnotationError(f"{ref}: the annotation has no categories")
    try:
        # Departments the annotator chose; without that choice, those stated in the plan (task data).
        departments = resolve_departments(_choices(annotation, DEPARTMENTS_NAME) or data.get("departments") or [],
                                          catalogue, "annotation").names
        lead = [d for d in resolve_departments(data.get("lead_departments") or [], catalogue, "annotation").names
                if d in departments]
        section = data.get("section") or []
        return row_from({
            "id": data["clause_id"],
            "doc": data["doc"],
            "number": str(data.get("number") or ""),
            "section": section.split(SECTION_SEPARATOR) if isinstance(section, str) else list(section),
            "title": data.get("title") or "",
            "text": data.get("text") or "",
            "categories": chosen,
            "departments": departments,
            "lead_departments": lead,
        }, taxonomy).as_dict()
    except (ValueError, UnknownDepartment) as exc:
        raise AnnotationError(f"{ref}: {exc}") from None


def _choices(annotation: dict, from_name: str) -> list[str]:
    values: list[str] = []
    for item in annotation.get("result") or []:
        if item.get("from_name") == from_name:
            for value in (item.get("value") or {}).get("choices") or []:
                if value not in values:
                    values.append(value)
    return values


def _task_ref(task: dict) -> str:
    clause = (task.get("data") or {}).get("clause_id") if isinstance(task, dict) else None
    return f"task {task.get('id', '?')}" + (f" ({clause})" if clause else "")


def _timestamp(value) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=timezone.utc)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# --- clausemap data build ------------------------------------------------------------------------


@dataclass
class BuildReport:
    rows: int
    docs: list[str]
    files: int
    dropped: int
    splits: Path
    sentence_rows: int = 0  # clauses whose every sentence is labelled
    feedback_rows: int = 0  # rows given or changed by staff corrections
    stale_sentences: list[str] = field(default_factory=list)  # clauses whose sentence labels no longer fit
    written: Path | None = None
    written_rows: int = 0


def load_export(path: Path) -> list[dict]:
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"not a Label Studio JSON export ({exc})") from None
    if not isinstance(tasks, list):
        raise InputFileError(path, "not a Label Studio JSON export (expected a list of tasks)")
    return tasks


def build_dataset(
    annotations: Path, out: Path, splits: Path | None = None, taxonomy=None, catalogue=None,
    written_dir: Path | None = None, written_out: Path | None = None, feedback_db: Path | None = None,
) -> BuildReport:
    """Read every *.json export under `annotations` (clause tasks) and under `annotations/sentences/`
    (sentence tasks), and the written rows under `written_dir`; write the dataset rows, the written rows
    (`written_out`, default beside the dataset) and the folds atomically. Folds hold real documents only."""
    annotations, out = Path(annotations), Path(out)
    splits = Path(splits) if splits else out.with_name("splits.json")
    if taxonomy is None:
        from labels.taxonomy import load_taxonomy

        taxonomy = load_taxonomy()
    if not annotations.is_dir():
        raise InputFileError(annotations, "no such annotations folder")
    files = sorted(annotations.glob("*.json"))
    if not files:
        raise InputFileError(annotations, "no *.json Label Studio exports in this folder")
    rows, dropped, seen = [], 0, {}
    for path in files:
        try:
            conversion = convert_export(load_export(path), taxonomy, catalogue)
        except AnnotationError as exc:
            raise InputFileError(path, str(exc)) from None
        for row in conversion.rows:
            if row["id"] in seen:
                raise InputFileError(path, f"clause {row['id']} is also annotated in {seen[row['id']]}")
            seen[row["id"]] = path.name
        rows += conversion.rows
        dropped += len(conversion.dropped)
    if not rows:
        raise InputFileError(annotations, "no usable annotations in any export")
    rows.sort(key=clause_order)
    stale = attach_sentence_labels(rows, sentence_labels(annotations / SENTENCES_DIR, taxonomy), taxonomy)
    feedback_rows = 0
    if feedback_db is not None and Path(feedback_db).is_file():
        from labels.feedback import FeedbackStore, FeedbackUnavailable, apply_corrections

        store = FeedbackStore(feedback_db)
        try:
            feedback_rows = apply_corrections(rows, store.all(), taxonomy)
        except (FeedbackUnavailable, ClausemapError) as exc:
            raise InputFileError(feedback_db, str(exc)) from None
        finally:
            store.close()
        rows.sort(key=clause_order)
    docs = sorted({r["doc"] for r in rows})
    folds = {"folds": [{"name": doc, "test_docs": [doc]} for doc in docs]}
    contents = {
        out: rows_text(rows),
        splits: json.dumps(folds, ensure_ascii=False, indent=2) + "\n",
    }
    written_rows: list[dict] = []
    if written_dir is not None and Path(written_dir).is_dir():
        from labels.written import read_written_dir

        written_rows = read_written_dir(Path(written_dir), taxonomy, known_clauses={r["id"] for r in rows})
        written_out = Path(written_out) if written_out else out.with_name("written.jsonl")
        contents[written_out] = rows_text(written_rows)
    write_texts_atomic(contents)
    return BuildReport(rows=len(rows), docs=docs, files=len(files), dropped=dropped, splits=splits,
                       sentence_rows=sum(bool(r.get("sentences")) for r in rows), stale_sentences=stale,
                       feedback_rows=feedback_rows,
                       written=written_out if written_rows else None, written_rows=len(written_rows))


# --- sentence labels -----------------------------------------------------------------------------

SENTENCES_DIR = "sentences"


def sentence_labels(folder: Path, taxonomy) -> dict[str, dict[int, list[str]]]:
    """{clause id: {sentence index: categories}} from the sentence-task exports in `folder` (none if absent)."""
    labels: dict[str, dict[int, list[str]]] = {}
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        try:
            found = labels_of_sentence_tasks(load_export(path), taxonomy)
        except AnnotationError as exc:
            raise InputFileError(path, str(exc)) from None
        for clause_id, by_index in found.items():
            labels.setdefault(clause_id, {}).update(by_index)
    return labels


def labels_of_sentence_tasks(tasks: list, taxonomy) -> dict[str, dict[int, list[str]]]:
    """{clause id: {sentence index: categories}} of the annotated sentence tasks of one export.

    A sentence task's data holds clause_id, sentence_index and the sentence `text`; its annotation uses the
    same `categories` choices as a clause (the labelling config is the same). Skipped tasks are left out."""
    labels: dict[str, dict[int, list[str]]] = {}
    for task in tasks:
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or "sentence_index" not in data or not data.get("clause_id"):
            raise AnnotationError(f"{_task_ref(task) if isinstance(task, dict) else 'an entry'}: not a sentence "
                                  "task (needs data.clause_id and data.sentence_index)")
        annotation = chosen_annotation(task)
        if annotation is None:
            continue
        chosen = _choices(annotation, CATEGORIES_NAME)
        if not chosen:
            raise AnnotationError(f"{_task_ref(task)}: the annotation has no categories")
        try:
            chosen = checked_categories(chosen, taxonomy)
        except ValueError as exc:
            raise AnnotationError(f"{_task_ref(task)}: {exc}") from None
        labels.setdefault(data["clause_id"], {})[int(data["sentence_index"])] = chosen
    return labels


def attach_sentence_labels(rows: list[dict], labels: dict[str, dict[int, list[str]]], taxonomy) -> list[str]:
    """Give each row whose every sentence is labelled a `sentences` list [{text, start, end, categories}].

    Sentence labels that no longer fit their clause (its text was cut into other sentences, or the union of
    their categories differs from the clause's) are left out and the clause ids returned: re-label them."""
    from clausemap.clauses.sentences import split_sentences

    stale = []
    for row in rows:
        given = labels.get(row["id"])
        if not given:
            continue
        sentences = split_sentences(row["text"])
        fits = sorted(given) == list(range(len(sentences)))
        if not fits or sentence_union(given.values(), taxonomy) != row["categories"]:
            stale.append(row["id"])
            continue
        row["sentences"] = [{"text": s.text, "start": s.start, "end": s.end,
                             "categories": [c for c in taxonomy.ids if c in given[i]]}
                            for i, s in enumerate(sentences)]
    return stale
