"""`clausemap label push`: clauses in, Label Studio tasks out, keyed by clause id and idempotent.

A clause already in the project with the same data is left alone; one whose data changed is updated in
place (its old predictions, made for the old text, are removed). With a model, every new or changed task
gets a prediction, and new tasks are imported least-confident first so annotators meet them first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clausemap.errors import ClausemapError, InputFileError
from clausemap.fileio import read_jsonl_objects
from labels.rows import resolve_departments
from labels.studio.config import CATEGORIES_NAME, DEPARTMENTS_NAME, EVIDENCE_NAME, SECTION_SEPARATOR, config_choices
from labels.studio.predictions import prediction

IMPORT_BATCH = 200


@dataclass
class PushReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    predicted: int = 0
    updated_annotated: list[str] = field(default_factory=list)  # changed text under existing annotations
    unknown_departments: set[str] = field(default_factory=set)


def read_clauses_jsonl(path: Path) -> list[dict]:
    """Clauses as `clausemap segment --format jsonl` writes them (dataset rows work too)."""
    clauses = []
    for number, clause in read_jsonl_objects(path):
        if not all(isinstance(clause.get(k), str) and clause[k] for k in ("id", "doc", "text")):
            raise InputFileError(path, "a clause needs non-empty string fields id, doc and text", number)
        clauses.append(clause)
    if not clauses:
        raise InputFileError(path, "no clauses in this file")
    return clauses


def clauses_from_plans(paths: list[Path]) -> list[dict]:
    from clausemap.clauses import segment_file

    return [clause.to_dict() for path in paths for clause in segment_file(path).clauses]


def task_data(clause: dict, catalogue, unknown: set[str]) -> dict:
    """The task data of one clause (the labelling config's $text, $doc, $section and the key clause_id)."""
    section = clause.get("section") or []
    data = {
        "clause_id": clause["id"],
        "text": clause["text"],
        "doc": clause["doc"],
        "section": section if isinstance(section, str) else SECTION_SEPARATOR.join(section),
        "number": str(clause.get("number") or ""),
        "title": clause.get("title") or "",
    }
    # Departments stated in the plan, as catalogue names; a name the catalogue lacks is left out and reported.
    for key in ("departments", "lead_departments"):
        resolved = resolve_departments(clause.get(key) or [], catalogue, "plan")
        unknown.update(resolved.unknown)
        if resolved.names:
            data[key] = resolved.names
    return data


def sentence_task_data(clause: dict) -> list[dict]:
    """One task per sentence of a clause, for labelling sentences with the same config: `text` is the sentence,
    `clause_text` and `section` its context, `sentence_index`/`start`/`end` where it sits in the clause."""
    from clausemap.clauses.sentences import split_sentences

    section = clause.get("section") or []
    return [
        {
            "clause_id": clause["id"],
            "sentence_id": f"{clause['id']}#s{i}",
            "sentence_index": i,
            "text": sentence.text,
            "start": sentence.start,
            "end": sentence.end,
            "clause_text": clause["text"],
            "doc": clause["doc"],
            "section": section if isinstance(section, str) else SECTION_SEPARATOR.join(section),
        }
        for i, sentence in enumerate(split_sentences(clause["text"]))
    ]


def task_key(data: dict) -> str:
    """What identifies a task in a project: its sentence (sentence tasks) or its clause."""
    return data.get("sentence_id") or data["clause_id"]


def predict(pipeline, config_xml: str, tasks: list[dict]) -> dict[str, dict]:
    """task key -> the pipeline's prediction, limited to the choices the project's config offers."""
    from clausemap.settings import Settings

    offered = config_choices(config_xml)
    results = pipeline.classify([d["text"] for d in tasks]) if tasks else []
    sections = Settings().suggested_sections
    return {
        task_key(data): prediction(
            result, pipeline.model_version, offered.get(CATEGORIES_NAME, []), offered.get(DEPARTMENTS_NAME, []),
            offered.get(EVIDENCE_NAME, []), sections,
        )
        for data, result in zip(tasks, results, strict=True)
    }


@dataclass
class PushPlan:
    """What a push does: tasks to create, tasks whose data changed, and unchanged ones lacking this model's
    prediction."""

    new: list[dict] = field(default_factory=list)
    changed: list[tuple[Any, dict]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unpredicted: list[tuple[Any, dict]] = field(default_factory=list)


def plan_push(existing: dict[str, Any], wanted: list[dict], version: str | None) -> PushPlan:
    """Compare the project's tasks (task key -> task with .data and .predictions) with the wanted task data;
    `version` is the model whose predictions should be there (None: no predictions)."""
    plan = PushPlan()
    for data in wanted:
        task = existing.get(task_key(data))
        if task is None:
            plan.new.append(data)
        elif dict(_field(task, "data") or {}) != data:
            plan.changed.append((task, data))
        else:
            plan.unchanged.append(task_key(data))
            if version is not None and version not in _prediction_versions(task):
                plan.unpredicted.append((task, data))
    return plan


def push(studio, project, clauses: list[dict], catalogue, pipeline=None, sentences: bool = False) -> PushReport:
    """Create or update the project's tasks: one per clause, or (`sentences`) one per sentence of each clause."""
    report = PushReport()
    seen: set[str] = set()
    for clause in clauses:
        if clause["id"] in seen:
            raise ClausemapError(f"clause {clause['id']} appears twice in the input; clause ids must be unique")
        seen.add(clause["id"])
    if sentences:
        wanted = [data for c in clauses for data in sentence_task_data(c)]
    else:
        wanted = [task_data(c, catalogue, report.unknown_departments) for c in clauses]
    existing = {}
    for task in studio.tasks(project.id):
        if (task.data or {}).get("clause_id"):
            existing[task_key(task.data)] = task

    plan = plan_push(existing, wanted, pipeline.model_version if pipeline is not None else None)
    new, changed, unpredicted = plan.new, plan.changed, plan.unpredicted
    report.unchanged += plan.unchanged

    predictions: dict[str, dict] = {}
    if pipeline is not None:
        predictions = predict(pipeline, project.label_config, new + [data for _, data in changed + unpredicted])
        # Least sure first: Label Studio serves tasks in import order.
        new.sort(key=lambda d: predictions[task_key(d)]["score"])
        report.predicted = len(predictions)

    with studio.errors(f"importing tasks into {project.title!r}"):
        for start in range(0, len(new), IMPORT_BATCH):
            batch = new[start : start + IMPORT_BATCH]
            payload = [
                {"data": d, **({"predictions": [predictions[task_key(d)]]} if predictions else {})} for d in batch
            ]
            studio.client.projects.import_tasks(project.id, request=payload)
            report.created += [task_key(d) for d in batch]

    with studio.errors(f"updating tasks in {project.title!r}"):
        for task, data in changed:
            studio.client.tasks.update(str(task.id), data=data)
            for old in task.predictions or []:
                studio.client.predictions.delete(_field(old, "id"))
            if task_key(data) in predictions:
                studio.client.predictions.create(task=task.id, **predictions[task_key(data)])
            report.updated.append(task_key(data))
            if task.annotations:
                report.updated_annotated.append(task_key(data))
        for task, data in unpredicted:
            studio.client.predictions.create(task=task.id, **predictions[task_key(data)])

    if pipeline is not None:
        # The project shows this model's predictions as pre-annotations.
        with studio.errors("setting the project's model version"):
            studio.client.projects.update(project.id, model_version=pipeline.model_version)
    return report


def _field(item, name: str):
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _prediction_versions(task) -> set[str]:
    return {_field(p, "model_version") for p in task.predictions or []}
