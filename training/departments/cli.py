"""`clausemap evaluate-departments`: leave-one-clause-out evaluation of the department suggester.

Each clause with annotated departments is held out in turn; the suggester is fitted on the others and ranks the
catalogue for it. The same run scores two references: the catalogue alone (a bureau with no history) and the
baseline that ranks by category → catalogue owner only.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from clausemap.errors import InputFileError
from clausemap.paths import default_dataset


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate-departments",
        help="leave-one-clause-out evaluation of the department suggester",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--data", type=Path, default=default_dataset(), help="dataset JSONL (default: %(default)s)"
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="model artifact: its encoder gives the similarity embeddings and its classifier the categories "
        "(default: character n-gram similarity and the dataset's annotated categories)",
    )
    parser.add_argument("--catalogue", help="department catalogue file or id (default: labels/catalogues/chengde.yaml)")
    parser.add_argument("--table", type=Path, metavar="TABLE",
                        help="evaluate on a bureau's breakdown table instead (.xlsx/.csv/.docx/.html): leave-one-item-"
                        "out and a cold-start curve over 0, 5, 10, 20, 40… items of history; categories from --model "
                        "(default: models/default); without --catalogue, catalogues are made from the history items")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(func=run_evaluate)


def run_evaluate(args) -> int:
    from labels.catalogue import find_catalogue
    from training.departments.evaluation import (BASELINE_WEIGHTS, annotated_rows, evaluate_leave_one_out,
                                                 evaluate_without_history)
    from labels.rows import read_rows

    if args.table is not None:
        return run_evaluate_table(args)
    catalogue = find_catalogue(args.catalogue)
    rows = [row.as_dict() for row in read_rows(args.data, "dataset")]
    annotated, unknown = annotated_rows(rows, catalogue)
    if unknown:
        print(f"note: department names not in catalogue {catalogue.id} ignored: {', '.join(unknown)}", file=sys.stderr)
    if not annotated:
        raise InputFileError(args.data, f"no clause has departments from catalogue {catalogue.id!r}")

    texts = [r["text"] for r in annotated]
    if args.model is not None:
        from training.inference.predictor import load_predictor

        predictor = load_predictor(args.model)
        category_scores = [dict(p.scores) for p in predictor.predict(texts)]
        embed, embeddings = predictor.embed, predictor.embed(texts)
        sources = {"categories": f"predicted by {predictor.model_version}", "similarity": "model encoder"}
    else:
        if not any("categories" in r for r in annotated):
            raise InputFileError(args.data, "rows have no 'categories'; annotate them or give --model to predict them")
        category_scores = [{c: 1.0 for c in r.get("categories") or []} for r in annotated]
        embed, embeddings = None, None
        sources = {"categories": "annotated in the dataset", "similarity": "character n-grams"}

    report = {
        **asdict(evaluate_leave_one_out(annotated, catalogue, category_scores, embed, embeddings)),
        "catalogue_only": asdict(evaluate_without_history(annotated, catalogue, category_scores)),
        "baseline": asdict(evaluate_without_history(annotated, catalogue, category_scores, BASELINE_WEIGHTS)),
        "catalogue": catalogue.id,
        **sources,
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_report(report, args.data))
    return 0


def run_evaluate_table(args) -> int:
    from clausemap.clauses.tables import read_table
    from clausemap.paths import default_model_dir
    from labels.bureaus import task_rows
    from labels.catalogue import find_catalogue
    from labels.catalogue_init import init_catalogue
    from training.inference.predictor import load_predictor
    from training.departments.evaluation import evaluate_table

    table = read_table(args.table)
    model = args.model or default_model_dir()
    predictor = load_predictor(model)
    texts = [item.text for item in table.items]
    predictions = predictor.predict(texts)
    labels = {t: list(p.labels) for t, p in zip(texts, predictions, strict=True)}
    given = find_catalogue(args.catalogue) if args.catalogue else None
    names = given or init_catalogue([table], "evaluation", "evaluation", lambda ts: [labels[t] for t in ts])
    rows, added = task_rows(names, table.items)
    if added.unknown:
        print(f"note: sections not in catalogue {names.id} ignored: {'、'.join(added.unknown)}", file=sys.stderr)
    if len(rows) < 2:
        raise InputFileError(args.table, f"{len(rows)} task(s) name a section of the catalogue; need at least 2")
    scores = {t: dict(p.scores) for t, p in zip(texts, predictions, strict=True)}
    embeddings = predictor.embed([r["text"] for r in rows]) if args.model else None
    report = evaluate_table(rows, [scores[r["text"]] for r in rows], labels, names, given,
                            predictor.embed if args.model else None, embeddings)
    report.update(table=str(args.table), categories=f"predicted by {predictor.model_version}",
                  similarity="model encoder" if args.model else "character n-grams")
    print(json.dumps(report, ensure_ascii=False) if args.json else format_curve(report, args.table))
    return 0


def format_report(report: dict, data: Path) -> str:
    lines = [
        f"{report['n']} clauses with annotated departments in {data}, leave-one-clause-out; "
        f"catalogue {report['catalogue']}",
        f"categories: {report['categories']}; similarity: {report['similarity']}",
        "",
        f"{'':34}{'recall@1':>10}{'recall@3':>10}{'lead acc':>10}{'MRR':>8}",
    ]
    for label, m in [
        ("suggester (history + catalogue)", report),
        ("catalogue only (no history)", report["catalogue_only"]),
        ("baseline (category → owner)", report["baseline"]),
    ]:
        lines.append(
            f"{label:34}{m['recall_at_1']:>10.3f}{m['recall_at_3']:>10.3f}{m['lead_accuracy']:>10.3f}{m['mrr']:>8.3f}"
        )
    return "\n".join(lines)


def format_curve(report: dict, source: str) -> str:
    from training.departments.evaluation import DRAWS

    lines = [f"{report['n']} tasks of {source}; catalogue: {report['catalogue']}",
             "", f"{'history tasks':>14}{'recall@1':>10}{'recall@3':>10}{'lead acc':>10}{'MRR':>8}"]
    for point in report["curve"]:
        lines.append(f"{point['history']:>14}{point['recall_at_1']:>10.3f}{point['recall_at_3']:>10.3f}"
                     f"{point['lead_accuracy']:>10.3f}{point['mrr']:>8.3f}")
    lines.append(f"(the last line is leave-one-item-out; the others average {DRAWS} random draws of the history)")
    return "\n".join(lines)
