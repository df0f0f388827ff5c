"""`clausemap label pull`: a project's export, with annotator names, saved for `clausemap data build`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from clausemap.errors import ClausemapError
from clausemap.fileio import write_texts_atomic
from labels.dataset import (SENTENCES_DIR, AnnotationError, Conversion, chosen_annotation, convert_export,
                            labels_of_sentence_tasks)


def default_export_path(project: str, sentences: bool = False) -> Path:
    folder = Path("data/annotations") / SENTENCES_DIR if sentences else Path("data/annotations")
    return folder / ((re.sub(r"[^\w.-]+", "_", project).strip("._") or "project") + ".json")


def pull(studio, project, out: Path, taxonomy, catalogue, sentences: bool = False) -> Conversion:
    """Export the project, check it converts into dataset rows, then write it atomically to `out`.

    The export keeps Label Studio's provenance (completed_by, created_at, updated_at) and gains each
    annotation's annotator email, so the saved file says who labelled what and when.
    """
    tasks = studio.export(project.id)
    emails = studio.user_emails()
    for task in tasks:
        for annotation in task.get("annotations") or []:
            by = annotation.get("completed_by")
            user_id = by.get("id") if isinstance(by, dict) else by
            annotation["annotator"] = emails.get(user_id, user_id)
    try:
        if sentences:
            labelled = labels_of_sentence_tasks(tasks, taxonomy)
            conversion = Conversion(rows=[{"id": f"{c}#s{i}", "categories": cats}
                                          for c, by in labelled.items() for i, cats in by.items()],
                                    dropped=[f"task {t.get('id')}" for t in tasks if chosen_annotation(t) is None])
        else:
            conversion = convert_export(tasks, taxonomy, catalogue)
    except AnnotationError as exc:
        raise ClausemapError(f"project {project.title!r}: {exc}; nothing was written") from None
    write_texts_atomic({Path(out): json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"})
    return conversion
