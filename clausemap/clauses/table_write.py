"""Write a plan's clauses as a task-breakdown table (.xlsx, .docx, .html or .csv), the shape `read_table` reads.

A plan whose items state their sections (承德's "(责任科室:…)" notes) becomes the table a bureau keeps as
its history: 序号, 工作任务, 牵头单位, 配合单位, 完成时限, with each section heading as a merged row above its items.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from clausemap.clauses.deadlines import deadline_text
from clausemap.clauses.model import Clause
from clausemap.errors import InputFileError
from clausemap.spreadsheet import append_row, csv_row

HEADER = ["序号", "工作任务", "牵头单位", "配合单位", "完成时限"]
WRITE_SUFFIXES = (".xlsx", ".docx", ".html", ".csv")


def table_rows(clauses: list[Clause]) -> list[list[str] | str]:
    """Task rows (lists) with the section headings (str) above the items they head."""
    rows: list[list[str] | str] = []
    heading = None
    for clause in clauses:
        top = clause.section[0] if clause.section else None
        if top and top != heading:
            rows.append(top)
            heading = top
        lead = clause.lead_departments or clause.departments[:1]
        cooperating = [d for d in clause.departments if d not in lead]
        rows.append([clause.number, clause.text, "、".join(lead), "、".join(cooperating), deadline_text(clause.text)])
    return rows


def write_table(clauses: list[Clause], path: str | Path, title: str = "") -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise InputFileError(path, f"cannot write a table as {suffix or '(no extension)'}; use one of "
                                   f"{', '.join(WRITE_SUFFIXES)}")
    rows = table_rows(clauses)
    data = {".xlsx": _xlsx, ".docx": _docx, ".html": _html, ".csv": _csv}[suffix](rows, title)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputFileError(path, f"cannot write: {exc.strerror}") from None
    return path


def _xlsx(rows, title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "任务分解"
    if title:
        append_row(sheet, [title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    for row in rows:
        append_row(sheet, [row] if isinstance(row, str) else row)
        if isinstance(row, str):
            sheet.merge_cells(start_row=sheet.max_row, start_column=1, end_row=sheet.max_row, end_column=len(HEADER))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _docx(rows, title: str) -> bytes:
    import docx

    document = docx.Document()
    if title:
        document.add_heading(title, level=1)
    table = document.add_table(rows=1, cols=len(HEADER))
    for cell, text in zip(table.rows[0].cells, HEADER, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        if isinstance(row, str):
            merged = cells[0].merge(cells[-1])
            merged.text = row
        else:
            for cell, text in zip(cells, row, strict=True):
                cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _html(rows, title: str) -> bytes:
    parts = ["<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>", html.escape(title), "</title></head><body>"]
    if title:
        parts += ["<h1>", html.escape(title), "</h1>"]
    parts.append("<table border=\"1\"><tr>" + "".join(f"<th>{h}</th>" for h in HEADER) + "</tr>")
    for row in rows:
        if isinstance(row, str):
            parts.append(f"<tr><td colspan=\"{len(HEADER)}\">{html.escape(row)}</td></tr>")
        else:
            parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    parts.append("</table></body></html>")
    return "".join(parts).encode("utf-8")


def _csv(rows, title: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow(csv_row([row] + [""] * (len(HEADER) - 1) if isinstance(row, str) else row))
    return ("\ufeff" + out.getvalue()).encode("utf-8")
