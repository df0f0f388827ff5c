"""Read a task-breakdown table (任务分解表: .xlsx, .csv, .docx or .html) into clauses with their departments.

A bureau's table lists each task with its 牵头单位 (lead sections), 配合单位 (cooperating sections), often a
完成时限 and a 责任领导. Tables differ in their words and shapes, so the reader
- finds the header row by its words (HEADER_WORDS), including a two-row header whose second row splits
  "责任单位" into 牵头/配合;
- fills merged cells with their value (xlsx merged ranges, html rowspan/colspan; python-docx repeats them);
- reads full-width rows without sections ("一、党建引领") as headings, and an item whose number repeats over
  several rows ("1" merged down, or "1—1", "1—2" under a row "1") as a group of numbered sub-items;
- merges rows that repeat the same task (a task cell merged down beside several department rows).

    table = read_table("承德2022任务分解.xlsx")
    table.items[0].lead_departments   # ["党建办"]
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from clausemap.clauses.budgets import budgets, check_table_size, over_budget
from clausemap.clauses.clean import normalise, to_simplified
from clausemap.clauses.ingest import (check_document, decode_html, decode_text, docx_table_rows, open_docx,
                                      open_workbook, read_file_bytes, sheet_rows)
from clausemap.clauses.model import Clause, lead_first
from clausemap.clauses.notes import extract_departments
from clausemap.clauses.section_names import split_cell, tidy_sections
from clausemap.clauses.segment import first_sentence
from clausemap.errors import InputFileError
from clausemap.spreadsheet import csv_field_text

TABLE_SUFFIXES = (".xlsx", ".csv", ".docx", ".html", ".htm")

# Header words per column role, checked in this order (責任领导 before 责任单位, 序号 before 任务).
HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "number": ("序号", "编号", "序"),
    "leader": ("责任领导", "分管领导", "牵头领导", "包联领导", "负责人", "责任人"),
    "deadline": ("完成时限", "完成时间", "时间节点", "完成期限", "进度安排", "时限"),
    "cooperating": ("协同配合单位", "配合单位", "配合科室", "配合处室", "配合部门", "协办单位", "协同单位",
                    "参与单位", "配合"),
    "lead": ("主要责任单位", "牵头单位", "牵头科室", "牵头处室", "牵头部门", "责任科室", "责任单位", "负责处室",
             "负责科室", "责任处室", "责任部门", "主责单位", "承办单位", "牵头"),
    "task": ("工作任务", "重点任务", "主要任务", "任务内容", "工作内容", "具体措施", "工作措施", "工作要点",
             "重点工作", "主要内容", "任务", "条款", "事项"),
}
_EXACT_ROLES = {"number"}  # "序号" must be the whole cell; the others may carry more words ("工作任务及目标")
_MAX_HEADER_CHARS = 14  # a longer cell is data, not a header
_HEADER_SEARCH_ROWS = 15

# "党建办(牵头)": a role marker inside a department cell.
_MARKER = re.compile(r"\((牵头|主责|负责|配合|协办|参与)\)")
_LEADING_NUMBER = re.compile(r"^(?P<number>\d+(?:[—\-–－]\d+)?|[(（][一二三四五六七八九十\d]+[)）])[.、．\s]?(?=\S)")
_SUB_NUMBER = re.compile(r"^(?P<group>\d+)[—\-–－](?P<sub>\d+)$")
_TOP_HEADING = re.compile(r"^[一二三四五六七八九十]+、")


@dataclass
class TableItem(Clause):
    """A task row of a breakdown table: a clause with the table's own 完成时限, 责任领导 and source row."""

    deadline: str = ""
    leader: str = ""
    row: int = 0  # 1-based row in its sheet or table, for messages
    collectives: list[str] = field(default_factory=list)  # "各处室", "相关科室" as written: all units, no section


@dataclass
class BreakdownTable:
    doc: str  # the file stem
    source: str  # the file (and sheet or table) the items came from
    columns: dict[str, str]  # role -> the header the table writes for it
    items: list[TableItem] = field(default_factory=list)


def read_table(path: str | Path) -> BreakdownTable:
    """The breakdown table in a file; InputFileError naming the file when it has none."""
    return decode_table(read_file_bytes(path, TABLE_SUFFIXES), str(path))


def decode_table(data: bytes, filename: str, doc: str | None = None) -> BreakdownTable:
    """The first table in the file's bytes whose header names a task and a department column."""
    suffix = check_document(data, filename, TABLE_SUFFIXES)
    reader = {".xlsx": _xlsx_grids, ".csv": _csv_grids, ".docx": _docx_grids, ".html": _html_grids,
              ".htm": _html_grids}[suffix]
    grids = reader(data, filename)
    doc = doc or Path(filename).stem
    seen: list[str] = []
    for where, raw in grids:
        raw = [[_raw_text(c) for c in row] for row in raw]
        grid = [[_cell_text(c) for c in row] for row in raw]
        header = _find_header(grid)
        if header is None:
            seen += [f"{where} row {r + 1}: " + " | ".join(row) for r, row in enumerate(grid[:_HEADER_SEARCH_ROWS])
                     if any(row)][:2]
            continue
        roles, data_start = header
        items = _items(grid, raw, roles, data_start, doc)
        if not items:
            raise InputFileError(filename, f"{where}: the header ends on row {data_start} but no task rows follow it")
        columns = {role: grid[data_start - 1][cols[0]] or grid[data_start - 2][cols[0]] for role, cols in roles.items()}
        return BreakdownTable(doc=doc, source=f"{filename} ({where})" if len(grids) > 1 else filename,
                              columns=columns, items=items)
    shown = "; ".join(seen) or "no table with any text"
    raise InputFileError(
        filename,
        "no breakdown-table header found: it needs a task column (" + "/".join(HEADER_WORDS["task"][:5])
        + "…) and a department column (" + "/".join(HEADER_WORDS["lead"][1:5]) + "…); "
        + f"it read {shown[:400]}",
    )


# --- reading the grid ------------------------------------------------------------------------------------------

def _raw_text(value) -> str:
    """A cell as written (spaces and line breaks kept: they separate names in a department cell)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _cell_text(raw: str) -> str:
    """A cell as clean text: NFKC, simplified script, lines joined (a wrapped cell is one text)."""
    text = to_simplified(normalise(raw))
    return "".join(part.strip() for part in text.split("\n"))


def _xlsx_grids(data: bytes, filename: str) -> list[tuple[str, list[list]]]:
    book = open_workbook(data, filename)
    grids = []
    for sheet in book.worksheets:
        where = f"sheet {sheet.title}"
        rows = dict(sheet_rows(sheet, filename))
        height, width = max(rows, default=0), max(map(len, rows.values()), default=0)
        grid = [[*rows.get(r, ()), *[None] * (width - len(rows.get(r, ())))] for r in range(1, height + 1)]
        for min_col, min_row, max_col, max_row in _merged_ranges(data, sheet, filename, where):
            value = grid[min_row - 1][min_col - 1] if min_row <= height and min_col <= width else None
            for r in range(min_row, min(max_row, height) + 1):  # a range past the last value fills up to it
                for c in range(min_col, min(max_col, width) + 1):
                    grid[r - 1][c - 1] = value
        grids.append((where, grid))
    return grids


def _merged_ranges(data: bytes, sheet, filename: str, where: str) -> list[tuple[int, int, int, int]]:
    """(min_col, min_row, max_col, max_row) of each merged range of a read-only sheet, read from its XML (the
    read-only model does not know them); the cells they cover together within max_table_cells."""
    import zipfile

    from defusedxml.ElementTree import iterparse
    from openpyxl.utils.cell import range_boundaries

    limits = budgets()
    ranges, covered = [], 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(sheet._worksheet_path.lstrip("/")) as xml:
        sheet_data = None
        for event, element in iterparse(xml, events=("start", "end")):
            tag = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                sheet_data = element if tag == "sheetData" else sheet_data
            elif tag == "row" and sheet_data is not None:
                sheet_data.clear()  # the cells were read by sheet_rows: keep the tree small
            elif tag == "mergeCell":
                try:
                    bounds = range_boundaries(element.get("ref", ""))
                except (ValueError, TypeError):
                    raise InputFileError(filename, f"{where}: merged range {element.get('ref')!r} is not a range") from None
                if None in bounds:
                    continue  # whole-row or whole-column refs ("A:A") are not merges Excel writes
                min_col, min_row, max_col, max_row = bounds
                covered += (max_row - min_row + 1) * (max_col - min_col + 1)
                if covered > limits.max_table_cells:
                    raise over_budget(filename, "max_table_cells", covered,
                                      f"{where}: its merged ranges (up to {element.get('ref')}) cover", limits)
                ranges.append(bounds)
    return ranges


def _csv_grids(data: bytes, filename: str) -> list[tuple[str, list[list]]]:
    text = decode_text(data, filename)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    limits = budgets()
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows, cells = [], 0
    try:
        for row in reader:
            rows.append([csv_field_text(cell) for cell in row])  # our own exports' formula guards removed
            cells += max(1, len(row))  # a blank line costs a row
            if cells > limits.max_table_cells:
                raise over_budget(filename, "max_table_cells", cells, "the table has at least", limits)
            check_table_size(filename, "the table", len(rows), 0, limits)
    except csv.Error as exc:  # a field over csv.field_size_limit(), a NUL byte, an unclosed quote
        raise InputFileError(filename, str(exc), reader.line_num) from None
    return [("csv", rows)]


def _docx_grids(data: bytes, filename: str) -> list[tuple[str, list[list]]]:
    document = open_docx(data, filename)
    return [(f"table {i}", docx_table_rows(table, filename, f"table {i}"))
            for i, table in enumerate(document.tables, start=1)]


class _HtmlTables(HTMLParser):
    """Every <table> as rows of (text, rowspan, colspan) cells; nested tables are read as their own."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[tuple[str, int, int]]]] = []
        self._open: list[list[list[tuple[str, int, int]]]] = []
        self._cell: list[str] | None = None
        self._spans = (1, 1)
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skipping += 1
        elif tag == "table":
            self._open.append([])
        elif tag == "tr" and self._open:
            self._open[-1].append([])
        elif tag in ("td", "th") and self._open:
            if not self._open[-1]:
                self._open[-1].append([])
            self._cell, self._spans = [], (_span(attrs.get("rowspan")), _span(attrs.get("colspan")))
        elif tag in ("br", "p", "div") and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skipping = max(0, self._skipping - 1)
        elif tag in ("td", "th") and self._cell is not None and self._open:
            self._open[-1][-1].append(("".join(self._cell).strip(), *self._spans))
            self._cell = None
        elif tag == "table" and self._open:
            self.tables.append(self._open.pop())

    def handle_data(self, chunk):
        if self._cell is not None and not self._skipping:
            self._cell.append(chunk)


def _span(value) -> int:
    try:
        return max(1, min(int(value), 500))
    except (TypeError, ValueError):
        return 1


def _html_grids(data: bytes, filename: str) -> list[tuple[str, list[list]]]:
    parser = _HtmlTables()
    parser.feed(decode_html(data, filename))
    parser.close()
    return [(f"table {i}", _expand_spans(rows, filename, f"table {i}")) for i, rows in enumerate(parser.tables, start=1)]


def _expand_spans(rows: list[list[tuple[str, int, int]]], filename: str, where: str) -> list[list[str]]:
    """Place each cell in every grid position its rowspan and colspan cover (a rowspan stops at the last row),
    within max_table_cells: the rowspan×colspan areas are counted before they are filled."""
    limits = budgets()
    grid: dict[tuple[int, int], str] = {}
    width, filled = 0, 0
    for r, row in enumerate(rows):
        c = 0
        for text, rowspan, colspan in row:
            while (r, c) in grid:
                c += 1
            rowspan = min(rowspan, len(rows) - r)
            filled += rowspan * colspan
            if filled > limits.max_table_cells:
                raise over_budget(filename, "max_table_cells", filled,
                                  f"{where}: its cells' rowspan×colspan (up to row {r + 1}) cover at least", limits)
            for dr in range(rowspan):
                for dc in range(colspan):
                    grid.setdefault((r + dr, c + dc), text)
            c += colspan
            width = max(width, c)
        check_table_size(filename, where, len(rows), width, limits)
    return [[grid.get((r, c), "") for c in range(width)] for r in range(len(rows))]


# --- header and rows -------------------------------------------------------------------------------------------

def _role(cell: str) -> str | None:
    key = "".join(cell.split())
    if not key or len(key) > _MAX_HEADER_CHARS:
        return None
    for role, words in HEADER_WORDS.items():
        if any(key == w if role in _EXACT_ROLES else w in key for w in words):
            return role
    return None


def _find_header(grid: list[list[str]]) -> tuple[dict[str, list[int]], int] | None:
    """(role -> column indexes, index of the first data row), or None when no row in the first rows qualifies."""
    for r, row in enumerate(grid[:_HEADER_SEARCH_ROWS]):
        roles = [_role(c) for c in row]
        if "task" not in roles or not {"lead", "cooperating"} & set(roles):
            continue
        first_data = r + 1
        # A second header row may split a merged "责任单位" into 牵头单位 / 配合单位.
        if r + 1 < len(grid):
            below = [_role(c) for c in grid[r + 1]]
            long_cells = any(len(c) > _MAX_HEADER_CHARS for c in grid[r + 1])
            if any(below) and not long_cells:
                roles = [b or a for a, b in zip(roles, below + [None] * len(roles), strict=False)]
                first_data = r + 2
        columns: dict[str, list[int]] = {}
        for c, role in enumerate(roles):
            if role is not None:
                columns.setdefault(role, []).append(c)
        # A merged header cell repeats over several columns; the first one holds the data.
        for role in ("number", "task", "deadline", "leader"):
            if role in columns:
                columns[role] = columns[role][:1]
        return columns, first_data
    return None


def _names(cells: list[str]) -> tuple[list[str], list[str]]:
    """(marked lead names, other names) written in department cells, in order, each once."""
    lead, other = [], []
    for cell in cells:
        cell = to_simplified(unicodedata.normalize("NFKC", cell))
        cell = _tight_brackets(cell)
        for name in split_cell(cell.strip()):
            marker = _MARKER.search(name)
            name = _MARKER.sub("", name).strip()
            if name in ("", "无", "/", "-", "—"):
                continue
            (lead if marker and marker.group(1) in ("牵头", "主责", "负责") else other).append(name)
    return _unique(lead), _unique(other)


def _tight_brackets(cell: str) -> str:
    """"党建办 ( 牵头 )" -> "党建办(牵头)", without a regex: `\\s*\\)` would retry every space of a long blank run
    (quadratic)."""
    parts = cell.split("(")
    parts = [part.rstrip() for part in parts[:-1]] + parts[-1:]
    parts = parts[:1] + [part.lstrip() for part in parts[1:]]
    cell = "(".join(parts)
    parts = cell.split(")")
    return ")".join([part.rstrip() for part in parts[:-1]] + parts[-1:])


def _items(grid: list[list[str]], raw: list[list[str]], roles: dict[str, list[int]], data_start: int,
           doc: str) -> list[TableItem]:
    """The task rows below the header. `grid` holds clean cell texts, `raw` the same cells as written."""
    def cell(row: list[str], role: str) -> str:
        return row[roles[role][0]] if role in roles and roles[role][0] < len(row) else ""

    def cells(r: int, role: str) -> list[str]:
        return _unique(raw[r][c] for c in roles.get(role, []) if c < len(raw[r]))

    items: list[TableItem] = []
    section: list[str] = []
    for r in range(data_start, len(grid)):
        row = grid[r]
        values = _unique(v for v in row if v)
        if not values:
            continue
        text, number = cell(row, "task"), cell(row, "number")
        lead, other = _names(cells(r, "lead"))
        cooperating_lead, cooperating = _names(cells(r, "cooperating"))
        merged_across = len(values) == 1 and sum(v == values[0] for v in row) > 1
        if merged_across or (len(values) == 1 and not text and not (lead or other or cooperating_lead or cooperating)):
            section = _heading(section, values[0])  # a row merged across the table, or a heading in column A
            continue
        if "cooperating" in roles:  # the lead column's names all lead
            lead, other = _unique(lead + other), []
        elif not lead and other:  # a single department column: its first name leads unless one is marked
            lead, other = other[:1], other[1:]
        cooperating = _unique(other + cooperating_lead + cooperating)
        if not text:
            if items and (lead or cooperating):  # the task cell was merged down (lost in CSV): more sections
                if "cooperating" not in roles:  # a single department column names the lead first, once
                    lead, cooperating = [], lead + cooperating
                _add_departments(items[-1], lead, cooperating)
            continue
        if items and text == items[-1].text and number in ("", items[-1].number):
            _add_departments(items[-1], lead, cooperating)
            continue
        if not number:
            match = _LEADING_NUMBER.match(text)
            if match:
                number, text = match.group("number"), text[match.end():].strip()
        sub = _SUB_NUMBER.match(number)
        if sub and items and items[-1].number == sub.group("group") and not items[-1].departments:
            group = items.pop()  # "1 党建引领" above "1—1", "1—2": the group is a heading of its sub-items
            section = [*section, f"{group.number} {group.text}"]
        note = extract_departments(text)  # a task cell may also carry a "(责任科室:…)" note
        lead = _unique(lead + note.lead_departments)
        departments = lead_first(lead, cooperating + note.departments)
        if not lead and departments:
            lead = departments[:1]
        items.append(TableItem(
            id="", doc=doc, number=number, section=list(section), title=first_sentence(note.text), text=note.text,
            departments=departments, lead_departments=lead, deadline=cell(row, "deadline"),
            leader=cell(row, "leader"), row=r + 1,
        ))
    _number_groups(items)
    tidy_sections(items)  # collectives set apart, glued names split by the names the table uses alone
    for n, item in enumerate(items, start=1):
        item.id = f"{doc}-{n}"
    return items


def _heading(section: list[str], text: str) -> list[str]:
    """The section path after a heading row: "一、…" starts a new top-level section, others nest under it."""
    if _TOP_HEADING.match(text) or not section:
        return [text]
    return [section[0], text]


def _add_departments(item: TableItem, lead: list[str], cooperating: list[str]) -> None:
    item.lead_departments = _unique(item.lead_departments + lead)
    item.departments = _unique(item.lead_departments + item.departments + cooperating)


def _number_groups(items: list[TableItem]) -> None:
    """Items sharing one number cell (merged down over several tasks) become "1—1", "1—2", …"""
    start = 0
    while start < len(items):
        end = start
        while end + 1 < len(items) and items[end + 1].number and items[end + 1].number == items[start].number:
            end += 1
        if end > start:
            for k, item in enumerate(items[start:end + 1], start=1):
                item.number = f"{item.number}—{k}"
        start = end + 1


def _unique(values) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))

