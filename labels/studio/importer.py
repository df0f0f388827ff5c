"""`clausemap label import FILE --project NAME`: a Label Studio JSON export (e.g. data/annotations/seeds.json)
into a project in one step.

Annotations are imported as the importing user's (Label Studio refuses annotations by users it does not know,
and nobody should have to create them by hand); who originally annotated what, and when, is kept in each task's
`meta.imported_annotations`. Tasks already in the project (same clause, or same sentence) are left alone, so
importing twice creates nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from clausemap.errors import ClausemapError
from labels.studio.push import IMPORT_BATCH, task_key


@dataclass
class ImportReport:
    created: int = 0
    skipped: int = 0  # already in the project
    annotations: int = 0


def _annotator(annotation: dict) -> str | None:
    by = annotation.get("annotator") or annotation.get("completed_by")
    return by.get("email") if isinstance(by, dict) else (str(by) if by is not None else None)


def import_export(studio, project, tasks: list[dict]) -> ImportReport:
    report = ImportReport()
    existing = {task_key(t.data) for t in studio.tasks(project.id) if (t.data or {}).get("clause_id")}
    payload = []
    for task in tasks:
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict) or not data.get("clause_id"):
            raise ClausemapError(f"task {task.get('id', '?') if isinstance(task, dict) else '?'}: no data.clause_id; "
                                 "nothing was imported")
        if task_key(data) in existing:
            report.skipped += 1
            continue
        existing.add(task_key(data))
        annotations = task.get("annotations") or []
        payload.append({
            "data": data,
            "annotations": [{"result": a.get("result") or [], "was_cancelled": bool(a.get("was_cancelled")),
                             "ground_truth": bool(a.get("ground_truth")), "lead_time": a.get("lead_time") or 0}
                            for a in annotations],
            "meta": {"imported_annotations": [{"annotator": _annotator(a), "created_at": a.get("created_at"),
                                               "updated_at": a.get("updated_at")} for a in annotations]},
        })
        report.annotations += len(annotations)
    with studio.errors(f"importing tasks into {project.title!r}"):
        for start in range(0, len(payload), IMPORT_BATCH):
            studio.client.projects.import_tasks(project.id, request=payload[start:start + IMPORT_BATCH])
    report.created = len(payload)
    return report


def push_corrections(studio, project, corrections: list[dict]) -> ImportReport:
    """Staff corrections into the project as completed annotations (the latest per clause text): on the task
    with that text, or on a new task. The staff author, model version and the model's answer go into the task's
    `meta.feedback` (Label Studio annotations have no meta); a correction already pushed is not pushed again."""
    from labels.feedback import as_label_studio_tasks

    report = ImportReport()
    by_text = {t.data.get("text"): t for t in studio.tasks(project.id) if (t.data or {}).get("text")}
    new = []
    with studio.errors(f"adding corrections to {project.title!r}"):
        for task in as_label_studio_tasks(corrections):
            existing = by_text.get(task["data"]["text"])
            record = task["meta"]
            if existing is None:
                new.append({"data": task["data"], "annotations": [_plain(task["annotations"][0])],
                            "meta": {"feedback": [record]}})
                continue
            pushed = (existing.meta or {}).get("feedback") or []
            if any(p.get("feedback_id") == record["feedback_id"] for p in pushed):
                report.skipped += 1
                continue
            studio.client.annotations.create(existing.id, result=task["annotations"][0]["result"])
            studio.client.tasks.update(str(existing.id), meta={**(existing.meta or {}), "feedback": [*pushed, record]})
            report.annotations += 1
        for start in range(0, len(new), IMPORT_BATCH):
            studio.client.projects.import_tasks(project.id, request=new[start:start + IMPORT_BATCH])
    report.created = len(new)
    report.annotations += len(new)
    return report


def _plain(annotation: dict) -> dict:
    return {"result": annotation["result"], "was_cancelled": False, "ground_truth": False}
