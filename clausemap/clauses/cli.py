"""`clausemap segment FILE... [--format jsonl|table]`."""

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


def run_segment(args) -> int:
    from clausemap.clauses import segment_file

    failed = 0
    for path in args.files:
        try:
            document = segment_file(path)
        except InputFileError as exc:
            # One bad file must not stop the others: report it and fail at the end.
            print(f"clausemap: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if args.format == "jsonl":
            for clause in document.clauses:
                print(json.dumps(clause.to_dict(), ensure_ascii=False))
        else:
            print(format_table(document))
    return 2 if failed else 0


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


def format_table(document) -> str:
    columns = [("id", 26), ("number", 10), ("section", 24), ("title", 40), ("departments", 30)]
    lines = [f"# {document.doc}  {document.title}  ({len(document.clauses)} clauses)"]
    lines.append("  ".join(_fit(name, width) for name, width in columns).rstrip())
    for c in document.clauses:
        cells = [c.id, c.number, c.section[-1] if c.section else "", c.title, "、".join(c.departments)]
        lines.append("  ".join(_fit(cell, width) for cell, (_, width) in zip(cells, columns)).rstrip())
    return "\n".join(lines)
