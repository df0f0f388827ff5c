"""Budgets for reading untrusted documents: what a file may unpack into before and while it is parsed.

A 10 MB upload can hold 200 MB of XML, a merged range of 17 billion cells or 1,500 PDF pages; each reader checks
its budget before it expands anything and counts while it reads. Every budget is a CLAUSEMAP_* setting, and an
over-budget document raises OverBudgetError naming the setting (the service answers 413, the CLI names the file).

The readers use `budgets()`: the budgets `using(...)` put in effect (a parser worker, a test), else the
environment's.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from clausemap.errors import InputFileError, OverBudgetError

# The last row of an Excel sheet; a longer table is not a breakdown table whatever its format.
MAX_TABLE_ROWS = 1_048_576


class DocumentBudgets(BaseSettings):
    """Every field can be set as CLAUSEMAP_<NAME>, e.g. CLAUSEMAP_MAX_PDF_PAGES=500."""

    model_config = SettingsConfigDict(env_prefix="CLAUSEMAP_", extra="ignore")

    max_unzipped_bytes: int = Field(
        32 * 1024 * 1024, gt=0,
        description=".docx/.xlsx: total size of the zip's members once decompressed (declared and actually read)")
    max_zip_members: int = Field(1000, gt=0, description=".docx/.xlsx: most files inside the zip")
    max_pdf_pages: int = Field(200, gt=0, description=".pdf: most pages")
    max_pdf_chars: int = Field(2_000_000, gt=0, description=".pdf: most characters of extracted text")
    max_docx_paragraphs: int = Field(
        100_000, gt=0, description=".docx: most paragraphs, table cells' included (python-docx reads each one's "
        "text in ~0.1 ms: 32 MiB of empty paragraphs would take minutes)")
    max_table_cells: int = Field(
        200_000, gt=0,
        description="tables (.xlsx, .docx, .html, .csv): most cells of a table once merged ranges, rowspan×colspan "
        "and vertical merges are filled in; also the most cells all merged ranges of a sheet may cover")


def setting_name(field: str) -> str:
    """The environment variable of a budget field: CLAUSEMAP_MAX_PDF_PAGES."""
    return f"CLAUSEMAP_{field.upper()}"


_in_effect: ContextVar[DocumentBudgets | None] = ContextVar("document_budgets", default=None)


def budgets() -> DocumentBudgets:
    """The budgets in effect: those `using` set, else the environment's."""
    return _in_effect.get() or DocumentBudgets()


@contextmanager
def using(limits: DocumentBudgets) -> Iterator[DocumentBudgets]:
    token = _in_effect.set(limits)
    try:
        yield limits
    finally:
        _in_effect.reset(token)


_UNITS = {"max_unzipped_bytes": "bytes", "max_zip_members": "files", "max_pdf_pages": "pages",
          "max_pdf_chars": "characters", "max_docx_paragraphs": "paragraphs", "max_table_cells": "cells"}


def over_budget(filename: str, field: str, amount: int, what: str, limits: DocumentBudgets | None = None):
    """The OverBudgetError for `amount` over the budget `field`: "<what> <amount> <unit>, over the limit …"."""
    limit = getattr(limits or budgets(), field)
    return OverBudgetError(filename, f"{what} {amount:,} {_UNITS[field]}, over the limit of {limit:,} "
                                     f"({setting_name(field)})")


def check(filename: str, field: str, amount: int, what: str, limits: DocumentBudgets | None = None) -> None:
    """OverBudgetError when `amount` is over the budget `field` (of `limits`, default: those in effect)."""
    limits = limits or budgets()
    if amount > getattr(limits, field):
        raise over_budget(filename, field, amount, what, limits)


def check_table_size(filename: str, where: str, rows: int, columns: int, limits: DocumentBudgets | None = None):
    """A table's grid (rows × columns, merged cells filled in) within MAX_TABLE_ROWS and max_table_cells."""
    limits = limits or budgets()
    if rows > MAX_TABLE_ROWS:
        raise OverBudgetError(filename, f"{where} goes past row {MAX_TABLE_ROWS:,}, the last row a table may have")
    if rows * columns > limits.max_table_cells:  # (called once a row: the message is made only when it fails)
        raise over_budget(filename, "max_table_cells", rows * columns,
                          f"{where} spans {rows:,} rows × {columns:,} columns:", limits)


def check_zip(data: bytes, filename: str, kind: str) -> None:
    """An OOXML (`kind` ".docx"/".xlsx") zip within max_zip_members and max_unzipped_bytes: first by its
    directory, before anything is decompressed, then by the bytes its members actually unzip to."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            limits = budgets()
            members = archive.infolist()
            check(filename, "max_zip_members", len(members), f"the {kind} zip holds", limits)
            declared = sum(member.file_size for member in members)
            check(filename, "max_unzipped_bytes", declared, f"the {kind} zip's files unzip to", limits)
            read = 0
            for member in members:  # the sizes in the directory are the sender's word: count what comes out
                with archive.open(member) as stream:
                    while chunk := stream.read(1024 * 1024):
                        read += len(chunk)
                        check(filename, "max_unzipped_bytes", read, f"the {kind} zip's files unzip to", limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
            ValueError) as exc:  # not a zip, a bad CRC, an unknown compression or an encrypted member
        raise InputFileError(filename, f"not a readable {kind} file ({type(exc).__name__})") from None
