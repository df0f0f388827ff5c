"""`clausemap label init|push|pull` (Label Studio) and `clausemap data build` (exports -> dataset)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clausemap.paths import default_dataset


def register(subparsers) -> None:
    _register_label(subparsers)
    _register_feedback(subparsers)
    _register_data(subparsers)


def _register_label(subparsers) -> None:
    label = subparsers.add_parser(
        "label",
        help="set up, feed and collect the Label Studio annotation project",
        description="Work with the annotation project in Label Studio. The connection comes from "
        "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (or url:/api_key: in ~/.config/clausemap/label-studio.yaml).",
    )
    commands = label.add_subparsers(dest="label_command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", required=True, metavar="NAME", help="the Label Studio project's title")
    common.add_argument(
        "--catalogue", metavar="PATH_OR_ID", help="department catalogue (default: labels/catalogues/chengde.yaml)"
    )
    common.add_argument("--studio-config", metavar="FILE", help="YAML file with url: and api_key: (env vars win)")

    init = commands.add_parser(
        "init", parents=[common], help="create the project, or update its labelling config",
        description="Create the project, or update it if it exists, with a labelling config generated from "
        "labels/taxonomy.yaml and the department catalogue.",
    )  # fmt: skip
    init.set_defaults(func=run_init)

    push = commands.add_parser(
        "push", parents=[common], help="import clauses as tasks (idempotent, keyed by clause id)",
        description="Import clauses as tasks. Pushing the same clauses again creates nothing twice; a clause "
        "whose text changed is updated in place. With --model, each task carries the model's prediction and "
        "the least certain clauses come first.",
    )  # fmt: skip
    source = push.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--clauses", type=Path, metavar="FILE.jsonl", help="clauses from `clausemap segment --format jsonl`"
    )
    source.add_argument(
        "plans", nargs="*", type=Path, default=[], metavar="PLAN_FILE", help="plan documents to segment"
    )
    source.add_argument("--feedback", action="store_true",
                        help="staff corrections (CLAUSEMAP_FEEDBACK_DB) as completed annotations, author kept in meta")
    push.add_argument("--model", type=Path, metavar="DIR", help="model artifact whose predictions pre-fill the tasks")
    push.add_argument("--sentences", action="store_true",
                      help="one task per sentence of each clause (sentence labels; same labelling config)")
    push.set_defaults(func=run_push)

    pull = commands.add_parser(
        "pull", parents=[common], help="export the project's annotations to data/annotations/",
        description="Export the project (annotations with annotator and time) to a JSON file that "
        "`clausemap data build` turns into dataset rows.",
    )  # fmt: skip
    pull.add_argument("--out", type=Path, metavar="FILE",
                      help="default: data/annotations/<project>.json (--sentences: data/annotations/sentences/)")
    pull.add_argument("--sentences", action="store_true", help="the project holds sentence tasks")
    pull.set_defaults(func=run_pull)

    connect = commands.add_parser(
        "connect", parents=[common], help="register the service as the project's ML backend and webhook",
        description="Register a running `clausemap serve` with the project: as its ML backend (predictions, "
        "Start Training) and as the webhook for new and updated annotations (retraining). With the service's "
        "API key (CLAUSEMAP_API_KEY), both send it. Connecting again updates them.",
    )  # fmt: skip
    connect.add_argument("--service", required=True, metavar="URL", help="the service as Label Studio reaches it")
    connect.set_defaults(func=run_connect)

    load = commands.add_parser(
        "import", parents=[common], help="load a Label Studio export (e.g. data/annotations/seeds.json) into a project",
        description="Create the project if needed and import the export's tasks with their annotations, as the "
        "importing user's (the original annotators are kept in each task's meta). Tasks already in the project "
        "are skipped, so importing twice creates nothing twice.",
    )  # fmt: skip
    load.add_argument("file", type=Path, metavar="FILE", help="a Label Studio JSON export")
    load.set_defaults(func=run_import)


def _register_feedback(subparsers) -> None:
    feedback = subparsers.add_parser("feedback", help="staff corrections kept by the service (/v1/feedback)")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", metavar="COMMAND", required=True)
    export = feedback_commands.add_parser(
        "export", help="write the stored corrections as JSONL or as a Label Studio export",
        description="Read the corrections database (CLAUSEMAP_FEEDBACK_DB, default data/feedback.sqlite) and write "
        "every correction (jsonl), or the latest one per clause as Label Studio tasks with their annotation.",
    )  # fmt: skip
    export.add_argument("--format", choices=["jsonl", "label-studio"], default="jsonl")
    export.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    export.add_argument("--db", type=Path, metavar="FILE", help="default: CLAUSEMAP_FEEDBACK_DB or data/feedback.sqlite")
    export.set_defaults(func=run_feedback_export)


def _register_data(subparsers) -> None:
    data = subparsers.add_parser("data", help="build the training dataset from annotations")
    data_commands = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    build = data_commands.add_parser(
        "build", help="annotation exports -> data/dataset.jsonl + data/splits.json",
        description="Read every Label Studio JSON export in the annotations folder and write the dataset rows "
        "and leave-one-document-out folds (splits.json beside the dataset).",
    )  # fmt: skip
    build.add_argument("--annotations", type=Path, default=Path("data/annotations"), metavar="DIR")
    build.add_argument("--out", type=Path, default=Path("data/dataset.jsonl"), metavar="FILE")
    build.add_argument("--written", type=Path, metavar="DIR",
                       help="rows written for training, *.jsonl (default: written/ beside the annotations folder)")
    build.add_argument("--written-out", type=Path, metavar="FILE", help="default: written.jsonl beside --out")
    build.add_argument("--feedback-db", type=Path, metavar="FILE",
                       help="staff corrections (default: CLAUSEMAP_FEEDBACK_DB, else data/feedback.sqlite)")
    build.add_argument("--no-feedback", action="store_true", help="leave staff corrections out")
    build.add_argument(
        "--catalogue", metavar="PATH_OR_ID", help="department catalogue (default: labels/catalogues/chengde.yaml)"
    )
    build.set_defaults(func=run_build)


def _vocabulary(args):
    from labels.catalogue import find_catalogue
    from labels.taxonomy import load_taxonomy

    return load_taxonomy(), find_catalogue(args.catalogue)


def _connect(args):
    from labels.studio.connection import connect

    return connect(args.studio_config)


def run_init(args) -> int:
    from labels.studio.project import init_project

    taxonomy, catalogue = _vocabulary(args)
    done, project = init_project(_connect(args), args.project, taxonomy, catalogue)
    print(
        f"project {args.project!r} (id {project.id}) {done}: {len(taxonomy.ids)} categories, "
        f"{len(catalogue.departments)} departments"
    )
    return 0


def run_push(args) -> int:
    from clausemap.errors import ClausemapError
    from labels.studio.project import require_current_project
    from labels.studio.push import clauses_from_plans, push, read_clauses_jsonl

    if args.feedback:
        return _push_feedback(args)
    if not args.clauses and not args.plans:
        raise ClausemapError("give --clauses FILE.jsonl or plan files to push")
    taxonomy, catalogue = _vocabulary(args)
    clauses = read_clauses_jsonl(args.clauses) if args.clauses else clauses_from_plans(args.plans)
    studio = _connect(args)  # before loading the model: a wrong URL or project fails at once
    project = require_current_project(studio, args.project, taxonomy, catalogue)
    pipeline = None
    if args.model:
        from clausemap.hooks import load_pipeline

        pipeline = load_pipeline(args.model, catalogue=catalogue, fallback_annotated=default_dataset())
    report = push(studio, project, clauses, catalogue, pipeline, sentences=args.sentences)
    print(
        f"project {args.project!r}: {len(report.created)} tasks created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
        + (f"; model {pipeline.model_version}: {report.predicted} new predictions" if pipeline else "")
    )
    if report.updated_annotated:
        print(
            f"note: the text changed under existing annotations of {', '.join(report.updated_annotated)}; review them"
        )
    if report.unknown_departments:
        print(f"note: departments not in the catalogue were left out: {', '.join(sorted(report.unknown_departments))}")
    return 0


def run_connect(args) -> int:
    from clausemap.settings import Settings
    from labels.studio.connect import connect_service, keyless_warning
    from labels.studio.project import require_current_project

    secret = Settings().api_key
    key = secret.get_secret_value() if secret else None
    warning = keyless_warning(key)
    if warning:  # before connecting: it holds whether or not Label Studio is reachable now
        print(f"clausemap: warning: {warning}", file=sys.stderr)
    taxonomy, catalogue = _vocabulary(args)
    studio = _connect(args)
    project = require_current_project(studio, args.project, taxonomy, catalogue)
    done = connect_service(studio, project, args.service, key)
    print(f"project {args.project!r}: ML backend {done.backend_id} {'added' if done.backend_created else 'updated'}, "
          f"webhook {done.webhook_id} {'added' if done.webhook_created else 'updated'}"
          + (" (both send the service's API key)" if key else " (no CLAUSEMAP_API_KEY: no key sent)"))
    return 0


def run_import(args) -> int:
    from labels.dataset import load_export
    from labels.studio.importer import import_export
    from labels.studio.project import init_project

    tasks = load_export(args.file)
    taxonomy, catalogue = _vocabulary(args)
    studio = _connect(args)
    _, project = init_project(studio, args.project, taxonomy, catalogue)
    report = import_export(studio, project, tasks)
    print(f"project {args.project!r}: {report.created} tasks created with {report.annotations} annotations, "
          f"{report.skipped} already there")
    return 0


def run_pull(args) -> int:
    from labels.studio.project import require_current_project
    from labels.studio.pull import default_export_path, pull

    taxonomy, catalogue = _vocabulary(args)
    studio = _connect(args)
    project = require_current_project(studio, args.project, taxonomy, catalogue)
    out = args.out or default_export_path(args.project, args.sentences)
    conversion = pull(studio, project, out, taxonomy, catalogue, sentences=args.sentences)
    what = "labelled sentences" if args.sentences else "dataset rows"
    print(
        f"wrote {out}: {len(conversion.rows) + len(conversion.dropped)} tasks, {len(conversion.rows)} {what}, "
        f"{len(conversion.dropped)} without a usable annotation; next: clausemap data build"
    )
    return 0


def _stored_corrections(db: Path | None) -> list[dict]:
    """Every correction in the feedback database (default CLAUSEMAP_FEEDBACK_DB, else data/feedback.sqlite)."""
    from clausemap.errors import InputFileError
    from clausemap.paths import feedback_db
    from labels.feedback import FeedbackStore, FeedbackUnavailable

    db = db or feedback_db()
    if not db.is_file():
        raise InputFileError(db, "no feedback database here (the service creates it on start)")
    store = FeedbackStore(db)
    try:
        return store.all()
    except FeedbackUnavailable as exc:
        raise InputFileError(db, str(exc)) from None
    finally:
        store.close()


def _push_feedback(args) -> int:
    from labels.studio.importer import push_corrections
    from labels.studio.project import require_current_project

    corrections = _stored_corrections(None)
    taxonomy, catalogue = _vocabulary(args)
    studio = _connect(args)
    project = require_current_project(studio, args.project, taxonomy, catalogue)
    report = push_corrections(studio, project, corrections)
    print(f"project {args.project!r}: {report.annotations} corrections added as annotations ({report.created} new "
          f"tasks), {report.skipped} already there")
    return 0


def run_feedback_export(args) -> int:
    import json
    import sys

    from clausemap.fileio import write_texts_atomic
    from labels.feedback import as_label_studio_tasks

    corrections = _stored_corrections(args.db)
    if args.format == "jsonl":
        text = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in corrections)
    else:
        text = json.dumps(as_label_studio_tasks(corrections), ensure_ascii=False, indent=1) + "\n"
    if args.out:
        write_texts_atomic({args.out: text})
        print(f"wrote {args.out}: {len(corrections)} corrections", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_build(args) -> int:
    from labels.dataset import build_dataset

    from clausemap.paths import feedback_db

    _, catalogue = _vocabulary(args)
    written = args.written or args.annotations.parent / "written"
    feedback = None if args.no_feedback else (args.feedback_db or feedback_db())
    report = build_dataset(args.annotations, args.out, catalogue=catalogue, written_dir=written,
                           written_out=args.written_out, feedback_db=feedback)
    print(
        f"wrote {args.out} ({report.rows} rows from {report.files} exports, {len(report.docs)} documents, "
        f"{report.sentence_rows} with sentence labels; {report.dropped} tasks without a usable annotation skipped) "
        f"and {report.splits}"
    )
    if report.feedback_rows:
        print(f"{report.feedback_rows} rows from staff corrections ({feedback}; --no-feedback leaves them out)")
    if report.written:
        print(f"wrote {report.written} ({report.written_rows} rows written for training: trained on, never evaluated)")
    if report.stale_sentences:
        print(f"note: sentence labels of {len(report.stale_sentences)} clause(s) no longer fit their clause and were "
              f"left out; re-label them: {', '.join(report.stale_sentences)}")
    return 0
