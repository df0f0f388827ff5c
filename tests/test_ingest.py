"""clausemap.clauses.ingest: every plan format reads to the same clauses, and unreadable input is an error
naming the file."""

import pytest

from clausemap.clauses import segment_bytes, segment_file
from clausemap.errors import InputFileError
from tests.support.documents import make_docx, make_html, make_pdf, make_xlsx
from tests.support.seeds import seed


MAKERS = {".docx": make_docx, ".pdf": make_pdf, ".html": make_html, ".xlsx": make_xlsx}


@pytest.mark.parametrize("suffix", list(MAKERS))
@pytest.mark.parametrize("prefix", ["000", "003"])
def test_docx_pdf_html_and_xlsx_give_the_same_clauses_as_txt(tmp_path, suffix, prefix):
    path = seed(prefix)
    expected = [c.to_dict() for c in segment_file(path).clauses]
    made = MAKERS[suffix](path.read_text(encoding="utf-8"), tmp_path / f"{path.stem}{suffix}")
    got = [c.to_dict() for c in segment_file(made).clauses]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "span"} for r in rows]  # noqa: E731
    assert strip(got) == strip(expected)


def test_gb18030_text_is_decoded():
    text = seed("000").read_text(encoding="utf-8")
    document = segment_bytes(text.encode("gb18030"), "plan.txt")
    assert len(document.clauses) == 29 and document.doc == "plan"


def test_segment_bytes_errors_name_the_upload():
    with pytest.raises(InputFileError, match="upload.pdf"):
        segment_bytes(b"%PDF-1.4 garbage", "upload.pdf")
    with pytest.raises(InputFileError, match="unknown extension"):
        segment_bytes(b"1.x", "upload.exe")


def test_a_broken_workbook_or_an_empty_page_is_a_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="plan.xlsx: not a readable .xlsx file"):
        segment_bytes(b"PK\x03\x04 not really a zip", "plan.xlsx")
    with pytest.raises(InputFileError, match="page.html: no text found"):
        segment_bytes(b"<html><script>var a = 1;</script></html>", "page.html")
