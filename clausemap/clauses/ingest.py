"""Read a plan document (.txt, .docx, .pdf, .html, .xlsx) into plain text, or explain in one line why it cannot
be read."""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from pathlib import Path

from clausemap.clauses.budgets import budgets, check, check_table_size, check_zip, over_budget
from clausemap.errors import ClausemapError, InputFileError

MAX_BYTES = 10 * 1024 * 1024
SUFFIXES = (".txt", ".docx", ".pdf", ".html", ".htm", ".xlsx")


def read_plan_file(path: str | Path) -> str:
    """The text of the plan at `path`; raises InputFileError naming the file."""
    return decode_plan(read_file_bytes(path, SUFFIXES), str(path))


def read_file_bytes(path: str | Path, suffixes: tuple[str, ...]) -> bytes:
    """The bytes of a document with one of `suffixes`, at most MAX_BYTES; InputFileError naming the file."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise InputFileError(path, f"unknown extension {path.suffix or '(none)'!r}; expected one of {', '.join(suffixes)}")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputFileError(path, f"file is {size / 1e6:.1f} MB, over the 10 MB limit")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, not a file") from None
    except PermissionError:
        raise InputFileError(path, "permission denied") from None


def check_document(data: bytes, filename: str, suffixes: tuple[str, ...]) -> str:
    """The suffix of a document's name, once it is one of `suffixes` and the bytes are not empty nor over
    MAX_BYTES; InputFileError naming the file otherwise."""
    suffix = Path(filename).suffix.lower()
    if suffix not in suffixes:
        raise InputFileError(filename, f"unknown extension {suffix or '(none)'!r}; expected one of {', '.join(suffixes)}")
    if len(data) > MAX_BYTES:
        raise InputFileError(filename, f"file is {len(data) / 1e6:.1f} MB, over the 10 MB limit")
    if not data.strip():
        raise InputFileError(filename, "file is empty")
    return suffix


def decode_plan(data: bytes, filename: str) -> str:
    """Extract text from the bytes of an uploaded or read file; the suffix of `filename` picks the format."""
    suffix = check_document(data, filename, SUFFIXES)
    reader = {".txt": decode_text, ".docx": _read_docx, ".pdf": _read_pdf, ".html": _read_html,
              ".htm": _read_html, ".xlsx": _read_xlsx}[suffix]
    text = reader(data, filename)
    if not text.strip():
        raise InputFileError(filename, "no text found in the document")
    return text


def decode_text(data: bytes, filename: str) -> str:
    if b"\x00" in data[:8192]:
        raise InputFileError(filename, "binary file, not text")
    # UTF-8 first (with or without BOM); Chinese government sites also publish GB18030/GBK.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_like_text(text):
            return text
    raise InputFileError(filename, "cannot decode: not UTF-8, GB18030 or GBK text")


def _looks_like_text(text: str) -> bool:
    """Reject decodings that are mostly control characters (binary data that happens to decode)."""
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    return controls <= max(2, len(text) // 200)


def open_docx(data: bytes, filename: str):
    """A python-docx Document of the bytes, within max_unzipped_bytes and max_docx_paragraphs; InputFileError
    naming the file when they are not a .docx."""
    import docx  # python-docx
    from docx.oxml.ns import qn

    check_zip(data, filename, ".docx")
    try:
        document = docx.Document(io.BytesIO(data))
    except MemoryError:  # a parser worker's memory cap: the pool names it
        raise
    except Exception as exc:  # PackageNotFoundError, zipfile.BadZipFile, lxml errors: they vary by version
        raise InputFileError(filename, f"not a readable .docx file ({type(exc).__name__})") from None
    paragraphs = sum(1 for _ in document.element.body.iter(qn("w:p")))  # lxml counts them in C
    check(filename, "max_docx_paragraphs", paragraphs, "it has")
    return document


def open_workbook(data: bytes, filename: str):
    """A read-only openpyxl workbook of the bytes (cell values, not formulas: read them with `sheet_rows`);
    InputFileError naming the file when they are not a .xlsx. The full model is never loaded: it makes an object
    for every cell of a merged range (A3:XFD1048576 is 17 billion)."""
    from openpyxl import load_workbook

    check_zip(data, filename, ".xlsx")
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException: they vary by version
        raise InputFileError(filename, f"not a readable .xlsx file ({type(exc).__name__})") from None


def _read_docx(data: bytes, filename: str) -> str:
    document = open_docx(data, filename)
    lines = [p.text for p in document.paragraphs]
    for n, table in enumerate(document.tables, start=1):  # some bureaus publish the plan as a table
        lines += [" ".join(row) for row in docx_table_rows(table, filename, f"table {n}")]
    return "\n".join(lines)


def docx_table_rows(table, filename: str, where: str) -> list[list[str]]:
    """A python-docx table's rows, each the text of every layout-grid cell it covers: a cell spanning columns
    repeats, a cell merged down (w:vMerge) repeats the text of the cell above it.

    One pass over the XML: python-docx's `row.cells` looks a merged cell's text up row by row (quadratic, and a
    RecursionError past ~1,000 rows). Within MAX_TABLE_ROWS and max_table_cells, counted while reading."""
    from docx.table import _Cell

    limits = budgets()
    rows: list[list[str]] = []
    above: list[str] = []  # the previous row's grid
    cells = 0
    for tr in table._tbl.tr_lst:
        row = [""] * max(0, tr.grid_before)
        for tc in tr.tc_lst:
            span = max(1, tc.grid_span)
            cells += span
            if cells > limits.max_table_cells:  # before a huge gridSpan is expanded
                raise over_budget(filename, "max_table_cells", cells, f"{where} has at least", limits)
            if tc.vMerge == "continue":
                start = len(row)
                row += [above[c] if c < len(above) else "" for c in range(start, start + span)]
            else:
                row += [_Cell(tc, table).text] * span
        rows.append(row)
        above = row
        check_table_size(filename, where, len(rows), 0, limits)
    return rows


_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.IGNORECASE)
# Charsets a page may declare; others (Python's "undefined", "punycode", "rot13"…) are not web text encodings.
_WEB_CHARSETS = {"utf-8", "utf-16", "utf-16-le", "utf-16-be", "gb18030", "gbk", "gb2312", "hz", "big5", "big5hkscs",
                 "cp950", "ascii", "iso8859-1", "cp1252", "euc_jp", "shift_jis", "euc_kr"}


def decode_html(data: bytes, filename: str) -> str:
    """A web page's source as text: its declared charset, else UTF-8, else GB18030."""
    declared = _HTML_CHARSET.search(data[:4096])
    encodings = ["utf-8-sig", "gb18030"]
    if declared:
        try:
            name = codecs.lookup(declared.group(1).decode("ascii", "ignore")).name
        except LookupError:
            name = ""
        encodings[:0] = [name] if name in _WEB_CHARSETS else []
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeError:
            continue
    raise InputFileError(filename, "cannot decode the page: not UTF-8, GB18030 or its declared charset")


def _read_html(data: bytes, filename: str) -> str:
    """A web page's text: block elements (p, div, li, br, tr, h1…) end lines; script and style are dropped."""
    from html.parser import HTMLParser

    text = decode_html(data, filename)

    class Text(HTMLParser):
        BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table",
                  "ul", "ol", "td", "th"}

        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.skipping = 0

        def handle_starttag(self, tag, attrs):
            if tag in ("script", "style"):
                self.skipping += 1
            elif tag in self.BLOCKS:
                self.parts.append("\n")

        def handle_endtag(self, tag):
            if tag in ("script", "style"):
                self.skipping = max(0, self.skipping - 1)
            elif tag in self.BLOCKS:
                self.parts.append("\n")

        def handle_data(self, chunk):
            if not self.skipping:
                self.parts.append(chunk.replace("\n", " "))

    parser = Text()
    parser.feed(text)
    parser.close()
    return "\n".join(line.strip() for line in "".join(parser.parts).split("\n") if line.strip())


def _read_xlsx(data: bytes, filename: str) -> str:
    """A workbook's text, a line per row (its non-empty cells joined by a space), sheet after sheet."""
    book = open_workbook(data, filename)
    lines = []
    for sheet in book.worksheets:
        for _, row in sheet_rows(sheet, filename):
            cells = [str(v).strip() for v in row if v is not None and str(v).strip()]
            if cells:
                lines.append(" ".join(cells))
    return "\n".join(lines)


def sheet_rows(sheet, filename: str) -> Iterator[tuple[int, tuple]]:
    """(row number, values up to its last non-empty cell) for each non-empty row of a read-only sheet.

    The sheet's declared size is ignored (a hostile A1:XFD1048576 would pad every row to 16,384 cells); what is
    read stays within MAX_TABLE_ROWS and max_table_cells (rows so far × widest row). A cell openpyxl cannot
    convert (a date past any calendar, a number that is not one) is an InputFileError naming its row."""
    limits = budgets()
    where = f"sheet {sheet.title!r}"
    number, width = 0, 0
    sheet.reset_dimensions()
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            end = next((i + 1 for i in range(len(values) - 1, -1, -1) if values[i] is not None), 0)
            width = max(width, end)
            check_table_size(filename, where, number, width, limits)
            if end:
                yield number, values[:end]
    except (ClausemapError, MemoryError):
        raise
    except Exception as exc:  # openpyxl converts each cell as it reads it; the errors vary by cell type
        raise InputFileError(filename, f"{where} row {number + 1}: a cell cannot be read ({type(exc).__name__})") from None


def _read_pdf(data: bytes, filename: str) -> str:
    """The text of a PDF within max_pdf_pages (counted before any page is read) and max_pdf_chars."""
    import itertools
    import logging

    import pdfplumber
    from pdfminer.pdfpage import PDFPage

    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    limits = budgets()
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            pages = sum(1 for _ in itertools.islice(PDFPage.create_pages(pdf.doc), limits.max_pdf_pages + 1))
            check(filename, "max_pdf_pages", pages, "it has at least", limits)
            lines, chars = [], 0
            for page in pdf.pages:
                page_lines = _page_lines(page)
                page.close()  # pdfplumber keeps every character object of a page until then
                chars += sum(len(text) for text, _ in page_lines)
                check(filename, "max_pdf_chars", chars, "its text reaches at least", limits)
                lines += page_lines
    except (ClausemapError, MemoryError):
        raise
    except Exception as exc:  # pdfminer raises many unrelated types for broken files
        raise InputFileError(filename, f"not a readable .pdf file ({type(exc).__name__})") from None
    return _join_wrapped(lines)


def _page_lines(page) -> list[tuple[str, bool]]:
    """(text, wraps) for each line of a page; `wraps` when the line runs to the right margin."""
    lines = page.extract_text_lines()
    if not lines:
        return []
    right = max(line["x1"] for line in lines)
    return [
        (line["text"], line["x1"] >= right - 1.5 * (line["bottom"] - line["top"]))
        for line in lines
    ]


_ITEM_START = re.compile(r"^(?:[一二三四五六七八九十]+、|[(（][一二三四五六七八九十\d]+[)）]|\d+[.、．](?!\d))")


def _join_wrapped(lines: list[tuple[str, bool]]) -> str:
    """Undo the PDF's line wrapping so each paragraph is one line again, as in the text file.

    A line that runs to the right margin continues on the next line, unless that line starts a new item.
    """
    out: list[str] = []
    joining = False
    for text, wraps in lines:
        if joining and out and not _ITEM_START.match(text.strip()):
            out[-1] += text.strip()
        else:
            out.append(text.strip())
        joining = wraps
    return "\n".join(out)
