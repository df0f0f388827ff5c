"""Cells of the spreadsheets clausemap writes (XLSX, CSV): text is always written as text, never as a formula.

Clause texts, section names and bureau names come from uploaded documents. A cell opening with `=`, `+`, `-`,
`@`, tab or CR is one a spreadsheet may run as a formula (=HYPERLINK(…) in a section name would run in every
export of that bureau), so: in XLSX every text cell is a string cell (openpyxl makes "=…" a formula otherwise),
marked quote-prefixed when formula-like; in CSV a formula-like field gets a leading `'` (shown, never run), which
`clausemap table read` strips again.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def _csv_guarded(value) -> bool:
    """Formula-like, or formula-like after leading `'`s: text that looks guarded already ('=…) gets a guard too, so
    that `csv_field_text` gives every field back as it was."""
    return isinstance(value, str) and formula_like(value.lstrip("'"))


def csv_row(row: list) -> list:
    """The row's fields, formula-like text prefixed with `'`."""
    return ["'" + value if _csv_guarded(value) else value for value in row]


def csv_field_text(field: str) -> str:
    """A field of a CSV that `csv_row` wrote, as it was: the one guarding `'` before a formula start removed."""
    return field[1:] if field.startswith("'") and _csv_guarded(field[1:]) else field


def append_row(sheet, row: list) -> None:
    """`sheet.append(row)`, with every text cell a string cell; characters XLSX cannot hold are dropped."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # not "f" (formula) or "e" (an error code such as #N/A)
            if formula_like(cell.value):
                cell.quotePrefix = True  # Excel keeps it text even when the cell is edited
