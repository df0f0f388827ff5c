"""`clausemap catalogue init|list` and `clausemap history add`: a new bureau from its breakdown tables."""

from __future__ import annotations

import sys
from pathlib import Path

from clausemap.errors import ClausemapError
from clausemap.paths import default_model_dir


def register(subparsers) -> None:
    catalogue = subparsers.add_parser(
        "catalogue", help="department catalogues, one per bureau",
        description="A catalogue lists a bureau's sections (科室), their other names and what they own.",
    )  # fmt: skip
    commands = catalogue.add_subparsers(dest="catalogue_command", metavar="COMMAND", required=True)
    init = commands.add_parser(
        "init", help="write a new bureau's catalogue from its breakdown tables",
        description="Every section the tables name becomes a department (names merged, the categories of the "
        "tasks it leads, a responsibility line from them); the tables become the bureau's history. Edit the "
        "file afterwards.",
    )  # fmt: skip
    init.add_argument("--from", dest="tables", nargs="+", required=True, type=Path, metavar="TABLE",
                      help="breakdown tables (.xlsx/.csv/.docx/.html) of the bureau")
    init.add_argument("--bureau", required=True, help="the bureau's name, e.g. 某某区教育局")
    init.add_argument("--id", help="catalogue id: letters, digits, '-' or '_' (default: made from the name)")
    init.add_argument("--model", type=Path, default=None,
                      help="model whose categories the sections' tasks get (default: models/default)")
    init.add_argument("--output", type=Path, help="catalogue file (default: <catalogues folder>/<id>.yaml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing catalogue")
    init.add_argument("--no-history", action="store_true", help="do not keep the tables as the bureau's history")
    init.set_defaults(func=run_init)
    listing = commands.add_parser("list", help="the catalogues found, with their sections and history")
    listing.set_defaults(func=run_list)

    history = subparsers.add_parser("history", help="a bureau's own history of breakdown tables")
    history_commands = history.add_subparsers(dest="history_command", metavar="COMMAND", required=True)
    add = history_commands.add_parser(
        "add", help="add breakdown tables to a bureau's history",
        description="The department suggestions of a catalogue learn from its own history only.",
    )  # fmt: skip
    add.add_argument("tables", nargs="+", type=Path, metavar="TABLE", help="breakdown tables (.xlsx/.csv/.docx/.html)")
    add.add_argument("--catalogue", required=True, metavar="ID", help="the bureau's catalogue id")
    add.set_defaults(func=run_history_add)


def model_categoriser(model: Path | None):
    """texts -> category ids, from a model artifact (loaded once, on first use)."""
    from clausemap.hooks import load_pipeline

    model = model or default_model_dir()
    if not (Path(model) / "clausemap.json").is_file():
        raise ClausemapError(f"{model}: no model artifact to give the sections' categories; build one with "
                             "`make model` or name one with --model")
    pipeline = load_pipeline(model, annotated=[])
    return lambda texts: [list(r.labels) for r in pipeline.classify(list(texts))]


def run_init(args) -> int:
    from clausemap.clauses.tables import read_table
    from labels.bureaus import create_bureau
    from labels.catalogue_init import describe

    tables = [read_table(path) for path in args.tables]
    catalogue, path, added = create_bureau(tables, args.bureau, args.id, model_categoriser(args.model), args.output,
                                           args.force, not args.no_history)
    print(f"wrote {path}: catalogue {catalogue.id!r} of {catalogue.bureau}, {len(catalogue.departments)} sections "
          f"from {sum(len(t.items) for t in tables)} tasks")
    print("check what was inferred (labels/functions.yaml says what names mean):\n" + describe(catalogue))
    if added is not None:
        print(f"history: {added.added} tasks added")
    return 0


def run_list(args) -> int:
    from labels.bureaus import read_history
    from labels.catalogue import available_catalogues, catalogue_path

    found, broken = available_catalogues()
    for catalogue in found:
        print(f"{catalogue.id}\t{catalogue.bureau}\t{len(catalogue.departments)} sections\t"
              f"{len(read_history(catalogue.id))} tasks of table history\t{catalogue_path(catalogue.id)}")
    for catalogue_id, error in broken.items():  # the others are still listed
        print(f"{catalogue_id}\tunavailable: {error}", file=sys.stderr)
    return ClausemapError.exit_code if broken else 0


def run_history_add(args) -> int:
    from clausemap.clauses.tables import read_table
    from labels.bureaus import add_history, history_path
    from labels.catalogue import find_catalogue

    catalogue = find_catalogue(args.catalogue)
    tables = [read_table(path) for path in args.tables]
    report = add_history(catalogue, [item for table in tables for item in table.items])
    print(f"{history_path(catalogue.id)}: {report.added} tasks added, {report.replaced} replaced"
          + (f", {report.skipped} skipped (no section of the catalogue)" if report.skipped else ""))
    if report.unknown:
        print(f"note: sections not in catalogue {catalogue.id!r} were left out: {'、'.join(report.unknown)}; add them "
              "to the catalogue (or as aliases) and add the table again", file=sys.stderr)
    return 0
