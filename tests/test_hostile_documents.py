"""Untrusted documents: parser bombs and malformed files get a one-line 4xx (or a CLI error naming the file),
never a 500, a hang or the service's memory. Each hostile file is built here, small in the test's own memory."""

from __future__ import annotations

import functools
import io
import os
import re
import struct
import time
import zipfile

import pytest
from fastapi.testclient import TestClient

from clausemap.cli import main
from clausemap.clauses import segment_bytes
from clausemap.clauses.budgets import DocumentBudgets, using
from clausemap.clauses.isolation import ParserPool, ParserUnavailable
from clausemap.clauses.tables import decode_table
from clausemap.errors import InputFileError, OverBudgetError
from clausemap.paths import PROJECT_ROOT, default_dataset
from serving.app import create_app
from serving.settings import ServingSettings
from tests.support.markers import needs

SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))
HEADER = ["序号", "工作任务", "牵头单位", "配合单位"]


def _zip_replace(data: bytes, member: str, edit) -> bytes:
    """The zip `data` with `member`'s bytes passed through `edit`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            target.writestr(info.filename, edit(content) if info.filename == member else content)
    return out.getvalue()


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("一、加强党的建设")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@functools.cache  # built once, shared by the reader, CLI and service tests
def zip_bomb_docx(megabytes: int = 200) -> bytes:
    """A .docx whose word/document.xml holds `megabytes` MB of empty paragraphs (<w:p/>: millions of XML
    elements once parsed), streamed into the zip so the test never holds it."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_docx_bytes())) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename != "word/document.xml":
                target.writestr(info.filename, content)
                continue
            head, tail = content.split(b"<w:body>", 1)
            with target.open("word/document.xml", "w") as member:
                member.write(head + b"<w:body>")
                chunk = b"<w:p/>  " * (1024 * 1024 // 8)
                for _ in range(megabytes):
                    member.write(chunk)
                member.write(tail)
    return out.getvalue()


def merge_bomb_xlsx() -> bytes:
    """A small breakdown table whose row-3 merge is rewritten to A3:XFD1048576 (openpyxl would expand it)."""
    from tests.support.documents import make_table_xlsx

    rows = [HEADER, ["1", "加强党的建设", "党建办", "人事科"], ["一、办好教育", None, None, None]]
    data = make_table_xlsx(rows, ["A3:D3"])
    return _zip_replace(data, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b'"A3:D3"', b'"A3:XFD1048576"'))


def span_bomb_html(cells: int = 600, span: int = 500) -> bytes:
    """A breakdown table with `cells` cells of rowspan=colspan=`span`."""
    bomb = "".join(f'<tr><td rowspan="{span}" colspan="{span}">{n}</td></tr>' for n in range(cells))
    page = ("<html><head><meta charset=\"utf-8\"></head><body><table><tr>"
            + "".join(f"<th>{h}</th>" for h in HEADER) + "</tr><tr><td>1</td><td>加强党的建设</td><td>党建办</td>"
            "<td>人事科</td></tr>" + bomb + "</table></body></html>")
    return page.encode()


@functools.cache
def many_page_pdf(pages: int = 1500, lines: int = 1) -> bytes:
    """A PDF of `pages` pages, each with `lines` numbered items."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    sheet = canvas.Canvas(out)
    for n in range(1, pages + 1):
        for k in range(lines):
            sheet.drawString(72, 760 - 16 * k, f"{n}.{k + 1} Item {k + 1} of page {n} of the plan, with some words.")
        sheet.showPage()
    sheet.save()
    return out.getvalue()


def vmerge_docx(rows: int = 1000) -> bytes:
    """A breakdown table in a .docx whose first task cell is merged down over `rows` rows (w:vMerge)."""
    def cell(text: str, merge: str | None = None) -> str:
        props = "" if merge is None else ("<w:tcPr><w:vMerge w:val=\"restart\"/></w:tcPr>" if merge == "restart"
                                          else "<w:tcPr><w:vMerge/></w:tcPr>")
        return f"<w:tc>{props}<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"

    header = "<w:tr>" + "".join(cell(h) for h in HEADER) + "</w:tr>"
    body = "".join(
        "<w:tr>" + cell(str(r)) + cell("加强党的建设", "restart" if r == 1 else "continue") + cell("党建办")
        + cell(f"科室{r}") + "</w:tr>"
        for r in range(1, rows + 1)
    )
    grid = "<w:tblGrid>" + "<w:gridCol w:w=\"2000\"/>" * 4 + "</w:tblGrid>"
    table = f"<w:tbl><w:tblPr/>{grid}{header}{body}</w:tbl>".encode()
    return _zip_replace(_docx_bytes(), "word/document.xml", lambda xml: xml.replace(b"<w:body>", b"<w:body>" + table, 1))


def bad_charset_html() -> bytes:
    return '<html><head><meta charset="undefined"></head><body><p>一、加强党的建设</p></body></html>'.encode()


def bad_cells_xlsx() -> bytes:
    """A plan workbook whose cells claim a date far past any calendar and a number that is not one."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["一、加强党的建设"])
    book.active.append([12345])
    book.active["A2"].number_format = "yyyy-mm-dd"
    book.active.append([678])
    out = io.BytesIO()
    book.save(out)

    def edit(xml: bytes) -> bytes:
        xml = re.sub(rb"<v>12345</v>", b"<v>1e300</v>", xml)
        return re.sub(rb"<v>678</v>", b"<v>not-a-number</v>", xml)

    return _zip_replace(out.getvalue(), "xl/worksheets/sheet1.xml", edit)


def long_field_csv(chars: int = 200_000) -> bytes:
    return (",".join(HEADER) + "\n1," + "教" * chars + ",党建办,人事科\n").encode()


def row_past_the_end_xlsx() -> bytes:
    """A breakdown table with one more task on row 1,048,577, past the last row a sheet can have."""
    from tests.support.documents import make_table_xlsx

    data = make_table_xlsx([HEADER, ["1", "加强党的建设", "党建办", "人事科"], ["2", "办好教育", "基教科", ""]])
    return _zip_replace(data, "xl/worksheets/sheet1.xml",
                        lambda xml: re.sub(rb'(r="[A-Z]*)3"', rb'\g<1>1048577"', xml))


def lying_zip_docx() -> bytes:
    """A .docx whose directory says word/document.xml unzips to 100 bytes while it holds more."""
    data = bytearray(_docx_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("word/document.xml")
    struct.pack_into("<I", data, info.header_offset + 22, 100)  # local header: uncompressed size
    central = data.index(b"PK\x01\x02")
    while True:  # the member's central directory entry: its name follows the 46-byte header
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + name_length] == b"word/document.xml":
            break
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 100)
    return bytes(data)


def grid_span_bomb_docx() -> bytes:
    """A table cell that claims to span a billion grid columns."""
    cell = '<w:tc><w:tcPr><w:gridSpan w:val="1000000000"/></w:tcPr><w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc>'
    table = f"<w:tbl><w:tblPr/><w:tblGrid><w:gridCol/></w:tblGrid><w:tr>{cell}</w:tr></w:tbl>".encode()
    return _zip_replace(_docx_bytes(), "word/document.xml", lambda xml: xml.replace(b"<w:body>", b"<w:body>" + table, 1))


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    return zip_bomb_docx()


# --- the readers, in-process (as the CLI runs them) ------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("build, read, filename, setting", [
    (merge_bomb_xlsx, decode_table, "merge.xlsx", "CLAUSEMAP_MAX_TABLE_CELLS"),
    (span_bomb_html, decode_table, "spans.html", "CLAUSEMAP_MAX_TABLE_CELLS"),
    (many_page_pdf, segment_bytes, "pages.pdf", "CLAUSEMAP_MAX_PDF_PAGES"),
    (grid_span_bomb_docx, decode_table, "span.docx", "CLAUSEMAP_MAX_TABLE_CELLS"),
    (row_past_the_end_xlsx, decode_table, "long.xlsx", "CLAUSEMAP_MAX_TABLE_CELLS"),
])
def test_bombs_are_refused_naming_the_budget(build, read, filename, setting):
    with pytest.raises(OverBudgetError) as error:
        read(build(), filename)
    assert str(error.value).startswith(f"{filename}: ") and setting in str(error.value)


@pytest.mark.timeout(60)
def test_no_table_goes_past_the_last_sheet_row():
    with using(DocumentBudgets(max_table_cells=10 ** 9)), pytest.raises(OverBudgetError) as error:
        decode_table(row_past_the_end_xlsx(), "long.xlsx")
    assert "goes past row 1,048,576" in str(error.value)


@pytest.mark.timeout(120)
def test_zip_bomb_is_refused_by_its_directory(zip_bomb):
    with pytest.raises(OverBudgetError) as error:
        segment_bytes(zip_bomb, "bomb.docx")
    assert "bomb.docx" in str(error.value) and "CLAUSEMAP_MAX_UNZIPPED_BYTES" in str(error.value)


def test_zip_budgets_are_settings():
    data = _docx_bytes()
    members = len(zipfile.ZipFile(io.BytesIO(data)).infolist())
    with using(DocumentBudgets(max_zip_members=members - 1)), pytest.raises(OverBudgetError) as error:
        segment_bytes(data, "plan.docx")
    assert "CLAUSEMAP_MAX_ZIP_MEMBERS" in str(error.value)
    with using(DocumentBudgets(max_zip_members=members)):
        assert segment_bytes(data, "plan.docx").clauses[0].text == "加强党的建设"


def test_docx_paragraphs_budget_counts_table_cells():
    """python-docx takes ~0.1 ms for each paragraph's text: 31 MiB of <w:p/> (4 million) took minutes."""
    data = vmerge_docx(2)  # a paragraph of its own, and one in each of the table's 12 cells
    with using(DocumentBudgets(max_docx_paragraphs=12)), pytest.raises(OverBudgetError) as error:
        decode_table(data, "cells.docx")
    assert "13 paragraphs" in str(error.value) and "CLAUSEMAP_MAX_DOCX_PARAGRAPHS" in str(error.value)
    with using(DocumentBudgets(max_docx_paragraphs=13)):
        assert len(decode_table(data, "cells.docx").items) == 2


def test_pdf_characters_budget():
    with using(DocumentBudgets(max_pdf_chars=500)), pytest.raises(OverBudgetError) as error:
        segment_bytes(many_page_pdf(pages=3, lines=10), "plan.pdf")
    assert "CLAUSEMAP_MAX_PDF_CHARS" in str(error.value)


def test_a_zip_whose_directory_lies_is_not_read():
    with pytest.raises(InputFileError) as error:
        segment_bytes(lying_zip_docx(), "lies.docx")
    assert "lies.docx" in str(error.value) and "not a readable .docx" in str(error.value)


@pytest.mark.timeout(60)
def test_vertical_merges_are_read_in_one_pass():
    """1,000 rows under one merged task cell: python-docx's row.cells took 145 s and ended in a RecursionError."""
    table = decode_table(vmerge_docx(1000), "merged.docx")
    assert len(table.items) == 1000
    assert {item.text for item in table.items} == {"加强党的建设"}  # the merged cell's text on every row
    assert table.items[-1].departments == ["党建办", "科室1000"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("build, read, filename, expected", [
    (bad_cells_xlsx, segment_bytes, "cells.xlsx", "row 3: a cell cannot be read"),
    (long_field_csv, decode_table, "long.csv", "long.csv:2: field larger than field limit"),
])
def test_malformed_documents_are_input_errors(build, read, filename, expected):
    with pytest.raises(InputFileError) as error:
        read(build(), filename)
    assert expected in str(error.value)


def test_an_undefined_charset_is_ignored():
    document = segment_bytes(bad_charset_html(), "page.html")
    assert [c.text for c in document.clauses] == ["加强党的建设"]


@pytest.mark.timeout(30)
def test_long_blank_runs_in_a_department_cell_are_linear():
    """`\\s*\\)` over 100,000 spaces not followed by ')' retried every space: minutes; now one pass."""
    cell = "党建办" + " " * 100_000 + "督导室"
    table = decode_table((",".join(HEADER) + f"\n1,加强党的建设,{cell},人事科\n").encode(), "blank.csv")
    assert table.items[0].lead_departments == ["党建办", "督导室"]


# --- the parser workers ----------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_a_worker_past_its_time_or_memory_is_replaced():
    pool = ParserPool(workers=1, memory_mb=512, timeout_s=3)
    try:
        with pytest.raises(OverBudgetError) as error:
            pool.run(time.sleep, 60, filename="slow.docx")
        assert str(error.value).startswith("slow.docx: ") and "CLAUSEMAP_PARSE_TIMEOUT_S" in str(error.value)
        with pytest.raises(OverBudgetError) as error:
            pool.run(bytearray, 2 * 1024 ** 3, filename="big.xlsx")
        assert "CLAUSEMAP_PARSE_MEMORY_MB" in str(error.value)
        with pytest.raises(OverBudgetError) as error:
            pool.run(os._exit, 3, filename="dies.pdf")
        assert "exit status 3" in str(error.value)
        with pytest.raises(InputFileError) as error:  # a parser bug: a one-line error, the traceback in the log
            pool.run(int, "x", filename="bug.html")
        assert str(error.value) == "bug.html: cannot read the document (the parser failed on it)"
        with pytest.raises(InputFileError) as error:  # the reader's own error comes back as it was raised
            pool.run(segment_bytes, b"  ", "empty.txt", filename="empty.txt")
        assert (error.value.path, error.value.reason) == ("empty.txt", "file is empty")
        assert pool.run(len, b"abc", filename="fine.txt") == 3  # a fresh worker took over
    finally:
        pool.close()



@pytest.mark.timeout(120)
def test_a_worker_that_cannot_start_is_a_503_and_the_next_document_tries_again():
    import resource

    pool = ParserPool(workers=1, memory_mb=512, timeout_s=30)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        # A real resource limit: no file descriptor left for the worker's pipe.
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")), hard))
        try:
            with pytest.raises(ParserUnavailable) as error:
                pool.run(len, b"abc", filename="plan.txt")
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert error.value.http_status == 503 and "cannot read documents right now" in str(error.value)
        assert pool.run(len, b"abc", filename="plan.txt") == 3
    finally:
        pool.close()

# --- the CLI: in-process, the same budgets ---------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_cli_names_the_file_and_the_budget(tmp_path, zip_bomb, capsys):
    bomb, merge = tmp_path / "bomb.docx", tmp_path / "merge.xlsx"
    bomb.write_bytes(zip_bomb)
    merge.write_bytes(merge_bomb_xlsx())
    assert main(["segment", str(bomb)]) == 2
    assert main(["table", "read", str(merge)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith(f"clausemap: error: {bomb}: ") and "CLAUSEMAP_MAX_UNZIPPED_BYTES" in errors[0]
    assert errors[1].startswith(f"clausemap: error: {merge}: ") and "CLAUSEMAP_MAX_TABLE_CELLS" in errors[1]


# --- the service: uploads are read in parser workers -----------------------------------------------------------

@pytest.fixture(scope="module")
@needs("model")
def pipeline(tiny_model_dir):
    from training.inference.pipeline import load_pipeline

    return load_pipeline(tiny_model_dir, fallback_annotated=default_dataset())


@pytest.fixture(scope="module")
@needs("model")
def client(pipeline):
    with TestClient(create_app(ServingSettings(), pipeline=pipeline)) as c:
        yield c


def still_classifies(client) -> None:
    response = client.post("/v1/plans", files={"file": ("plan.txt", SEED_000.read_bytes(), "text/plain")})
    assert response.status_code == 200 and len(response.json()["clauses"]) == 29
    assert client.get("/healthz").status_code == 200


UPLOADS = [
    ("/v1/plans", "pages.pdf", many_page_pdf, 413, "CLAUSEMAP_MAX_PDF_PAGES"),
    ("/v1/plans", "cells.xlsx", bad_cells_xlsx, 422, "row 3"),
    ("/v1/catalogues", "merge.xlsx", merge_bomb_xlsx, 413, "CLAUSEMAP_MAX_TABLE_CELLS"),
    ("/v1/catalogues", "spans.html", span_bomb_html, 413, "CLAUSEMAP_MAX_TABLE_CELLS"),
    ("/v1/catalogues", "long.xlsx", row_past_the_end_xlsx, 413, "CLAUSEMAP_MAX_TABLE_CELLS"),
    ("/v1/catalogues", "long.csv", long_field_csv, 422, "long.csv:2"),
]


@pytest.mark.model
@pytest.mark.timeout(300)
@pytest.mark.parametrize("path, filename, build, status, expected", UPLOADS)
def test_hostile_uploads_get_a_4xx_and_the_service_goes_on(client, path, filename, build, status, expected):
    response = client.post(path, files={"file": (filename, build())}, data={"bureau": "某区教育局"})
    assert response.status_code == status, response.text
    assert filename in response.json()["detail"] and expected in response.json()["detail"]
    still_classifies(client)


@pytest.mark.model
@pytest.mark.timeout(300)
def test_zip_bomb_upload(client, zip_bomb):
    response = client.post("/v1/plans", files={"file": ("bomb.docx", zip_bomb)})
    assert response.status_code == 413 and "CLAUSEMAP_MAX_UNZIPPED_BYTES" in response.json()["detail"]
    page = client.post("/v1/plans", files={"file": ("page.html", bad_charset_html())})
    assert page.status_code == 200 and page.json()["clauses"][0]["text"] == "加强党的建设"
    still_classifies(client)


@pytest.mark.model
@pytest.mark.timeout(300)
def test_vertical_merges_upload(client):
    response = client.post("/v1/catalogues", files={"file": ("merged.docx", vmerge_docx(1000))},
                           data={"bureau": "某县教育局", "id": "vmerge-county"})
    assert response.status_code == 201, response.text
    assert response.json()["tasks"] == 1000


@pytest.mark.model
@pytest.mark.timeout(300)
def test_a_bomb_past_the_budgets_ends_its_worker_not_the_service(pipeline, zip_bomb):
    """With the zip budget lifted, the zip bomb is parsed, and python-docx runs out of the worker's memory."""
    settings = ServingSettings(max_unzipped_bytes=1024 ** 3, parse_workers=1, parse_memory_mb=400)
    with TestClient(create_app(settings, pipeline=pipeline)) as client:
        response = client.post("/v1/plans", files={"file": ("bomb.docx", zip_bomb)})
        assert response.status_code == 413, response.text
        assert "bomb.docx" in response.json()["detail"] and "CLAUSEMAP_PARSE_MEMORY_MB" in response.json()["detail"]
        still_classifies(client)
