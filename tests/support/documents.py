"""Build .docx, .pdf, .html and .xlsx plan documents from text, for tests that feed real files to clausemap."""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape


def make_docx(text: str, path: Path) -> Path:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    document.save(path)
    return path


def make_pdf(text: str, path: Path) -> Path:
    """A real PDF with a CJK font; long paragraphs wrap over several lines, as published plans do."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    style = ParagraphStyle("zh", fontName="STSong-Light", fontSize=10, leading=14, wordWrap="CJK")
    paragraphs = [Paragraph(escape(line), style) for line in text.splitlines() if line.strip()]
    SimpleDocTemplate(str(path), pagesize=A4).build(paragraphs)
    return path


def make_html(text: str, path: Path) -> Path:
    """A web page as bureaus publish plans: a title, script and navigation junk, one <p> per paragraph."""
    body = "".join(f"<p>{escape(line)}</p>\n" for line in text.splitlines() if line.strip())
    page = ("<!DOCTYPE html><html><head><meta charset=\"gb2312\"><title>工作要点</title>"
            "<script>var x = '1.不是条款';</script><style>p {margin: 0}</style></head>"
            f"<body><div class=\"nav\">首页 &gt; 通知公告</div><div class=\"content\">{body}</div></body></html>")
    path.write_bytes(page.encode("gb18030"))
    return path


def make_xlsx(text: str, path: Path) -> Path:
    """A workbook with the plan's paragraphs in column A, one per row."""
    from openpyxl import Workbook

    book = Workbook()
    for line in text.splitlines():
        if line.strip():
            book.active.append([line])
    book.save(path)
    return path


def make_table_xlsx(rows: list[list], merges: list[str] = ()) -> bytes:
    """A one-sheet workbook with these rows and merged ranges ("A1:F1")."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for merge in merges:
        sheet.merge_cells(merge)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
