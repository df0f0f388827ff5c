"""`clausemap segment FILE... [--format jsonl|table]`, `clausemap table read|write` (task-breakdown tables)."""

from __future__ import annotations

import json
import sys
import unicodedata

from clausemap.errors import InputFileError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="split plan documents (.txt/.docx/.pdf/.html/.xlsx) into numbered clauses",
        description="Clean plan documents and print their clauses: one JSON object per line, or a table.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="plan documents: .txt, .docx, .pdf, .html or .xlsx")
    parser.add_argument("--format", choices=["jsonl", "table"], default="jsonl", help="output format (default: jsonl)")
    parser.set_defaults(func=run_segment)

    table = subparsers.add_parser(
        "table", help="read or write task-breakdown tables (任务分解表)",
        description="A breakdown table lists each task with its 牵头单位, 配合单位, 完成时限 and 责任领导.",
    )  # fmt: skip
    commands = table.add_subparsers(dest="table_command", metavar="COMMAND", required=True)
    read = commands.add_parser(
        "read", help="print the tasks of breakdown tables (.xlsx/.csv/.docx/.html) as clauses",
        description="Find each table's header row by its words, then print one clause per task with its lead and "
        "cooperating sections, deadline and leader: one JSON object per line, or a table.",
    )  # fmt: skip
    read.add_argument("files", nargs="+", metavar="TABLE", help="breakdown tables: .xlsx, .csv, .docx or .html")
    read.add_argument("--format", choices=["jsonl", "table"], default="jsonl", help="output format (default: jsonl)")
    read.set_defaults(func=run_table_read)
    write = commands.add_parser(
        "write", help="write a plan's clauses and stated sections as a breakdown table",
        description="Segment a plan and write its items as a breakdown table (序号, 工作任务, 牵头单位, 配合单位, "
        "完成时限), section headings as merged rows. A plan whose items state their sections becomes the "
        "table a bureau keeps as history.",
    )  # fmt: skip
    write.add_argument("plan", metavar="PLAN", help="plan document")
    write.add_argument("--output", "-o", required=True, metavar="FILE", help="table to write: .xlsx, .docx, .html or .csv")
    write.add_argument("--title", default=None, help="title row (default: the plan's title)")
    write.set_defaults(func=run_table_write)


def run_segment(args) -> int:
    from clausemap.clauses import segment_file

    def show(document) -> None:
        print_clauses(document.clauses, args.format, f"{document.doc}  {document.title}")

    return _each_file(args.files, segment_file, show)


def run_table_read(args) -> int:
    from clausemap.clauses.tables import read_table

    def show(table) -> None:
        print_clauses(table.items, args.format, table.source)

    return _each_file(args.files, read_table, show)


def run_table_write(args) -> int:
    from clausemap.clauses import segment_file
    from clausemap.clauses.table_write import write_table

    document = segment_file(args.plan)
    path = write_table(document.clauses, args.output, args.title if args.title is not None else document.title)
    stated = sum(1 for c in document.clauses if c.departments)
    print(f"wrote {path}: {len(document.clauses)} tasks, {stated} with stated sections", file=sys.stderr)
    return 0


def _each_file(paths, read, show) -> int:
    """Read and show each file; one bad file is reported and does not stop the others (exit 2 at the end)."""
    failed = 0
    for path in paths:
        try:
            result = read(path)
        except InputFileError as exc:
            print(f"clausemap: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        show(result)
    return 2 if failed else 0


def print_clauses(clauses, output_format: str, heading: str) -> None:
    if output_format == "jsonl":
        for clause in clauses:
            print(json.dumps(clause.to_dict(), ensure_ascii=False))
    else:
        print(format_table(clauses, heading))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    """Cut `text` to `width` display columns (Chinese characters take two) and pad it."""
    out, used = "", 0
    for ch in text:
        w = _width(ch)
        if used + w > width - (1 if used + w < _width(text) else 0):
            out += "…"
            used += 1
            break
        out += ch
        used += w
    return out + " " * max(0, width - used)


def format_table(clauses, heading: str) -> str:
    columns = [("id", 26), ("number", 10), ("section", 24), ("title", 40), ("departments", 30)]
    lines = [f"# {heading}  ({len(clauses)} clauses)"]
    lines.append("  ".join(_fit(name, width) for name, width in columns).rstrip())
    for c in clauses:
        cells = [c.id, c.number, c.section[-1] if c.section else "", c.title, "、".join(c.departments)]
        lines.append("  ".join(_fit(cell, width) for cell, (_, width) in zip(cells, columns)).rstrip())
    return "\n".join(lines)
