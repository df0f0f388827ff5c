"""The plan result as a task-breakdown table (序号, 条款, 类别, 依据, 牵头科室, 配合科室, 完成时限, 置信度): CSV or XLSX.

依据 gives, for each category, the sentence of the clause that decided it ("学前教育: 新增公办幼儿园学位3000个。"),
and for each suggested section why ("总务处: similar to 2023年工作计划 item 4 (总务处, 政教处)"). Collectives the
plan states ("各科室") stand as written after the cooperating sections.
"""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from clausemap.spreadsheet import append_row, csv_row
from serving.schemas import PlanResponse

COLUMNS = ["序号", "条款", "类别", "依据", "牵头科室", "配合科室", "完成时限", "置信度"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def breakdown_rows(plan: PlanResponse) -> list[list]:
    """One row per clause; sections are the plan's stated ones when it names them, else the suggestions."""
    names = {c.id: c.name for c in plan.summary.categories}
    rows = []
    for index, clause in enumerate(plan.clauses, start=1):
        text = f"{clause.number} {clause.text}".strip() if clause.number else clause.text
        rows.append(
            [
                index,
                text,
                "、".join(names.get(label, label) for label in clause.labels),
                evidence_text(clause),
                "、".join(clause.lead_departments),
                "、".join(clause.cooperating_departments + clause.collectives),
                "、".join(clause.deadlines),  # empty when the clause states none
                round(clause.confidence, 2),
            ]
        )
    return rows


def evidence_text(clause) -> str:
    """One line per assigned category (its name and its deciding sentence), then one per suggested section in the
    breakdown (its name and its strongest reason)."""
    lines = [f"{c.name}: {c.evidence[0].text}" for c in clause.categories if c.assigned and c.evidence]
    if clause.departments_source == "suggested":
        reasons = {d.name: d.evidence[0] for d in clause.departments if d.evidence}
        lines += [f"{name}: {reasons[name]}" for name in clause.lead_departments + clause.cooperating_departments
                  if name in reasons]
    return "\n".join(lines)


def to_csv(plan: PlanResponse) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(csv_row(row) for row in breakdown_rows(plan))
    # A BOM makes Excel read the file as UTF-8 instead of the local code page.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(plan: PlanResponse) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = "任务分解"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    low_fill = PatternFill("solid", fgColor="FFF2CC")
    for clause, row in zip(plan.clauses, breakdown_rows(plan), strict=True):
        append_row(sheet, row)
        if clause.low_confidence:
            for cell in sheet[sheet.max_row]:
                cell.fill = low_fill
    for column, width in zip("ABCDEFGH", (6, 70, 18, 50, 22, 30, 14, 8), strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"

    summary = book.create_sheet("汇总")
    summary.append(["类别", "条款数"])
    for category in plan.summary.categories:
        append_row(summary, [category.name, category.clauses])
    summary.append([])
    summary.append(["科室", "牵头", "配合"])
    for dept in plan.summary.departments:
        append_row(summary, [dept.name, dept.lead, dept.cooperating])  # a bureau's own section names
    summary.column_dimensions["A"].width = 24

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def content_disposition(doc: str, extension: str) -> str:
    """attachment with an ASCII fallback name and the real (possibly Chinese) one per RFC 6266."""
    filename = f"{doc}-breakdown.{extension}"
    fallback = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
