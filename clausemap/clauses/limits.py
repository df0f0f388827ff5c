"""Size limits on a plan's text, checked while it is cleaned and segmented, not after.

The raw text is measured before cleaning starts, each clause as soon as it is cut out and the clause count as it
grows, so an oversized plan costs at most one limit's worth of work. The service sets them from its settings
(CLAUSEMAP_MAX_PLAN_CHARS, CLAUSEMAP_MAX_CLAUSES, CLAUSEMAP_MAX_CLAUSE_CHARS); the CLI segments without limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from clausemap.errors import ClausemapError


@dataclass(frozen=True)
class TextLimits:
    """None: no limit."""

    max_plan_chars: int | None = None
    max_clauses: int | None = None
    max_clause_chars: int | None = None


class OverLimitError(ClausemapError):
    """Text over one of the TextLimits; the message names the setting. 413 for the plan's size, else 422."""

    def __init__(self, message: str, http_status: int = 422):
        super().__init__(message)
        self.http_status = http_status

    def __reduce__(self):  # rebuilt from its parts when it comes back from a parser worker process
        return type(self), (str(self), self.http_status)


def _setting(field: str) -> str:
    return f"CLAUSEMAP_{field.upper()}"


def check_plan_chars(text: str, limits: TextLimits) -> None:
    if limits.max_plan_chars is not None and len(text) > limits.max_plan_chars:
        raise OverLimitError(f"the plan has {len(text):,} characters, over the limit of {limits.max_plan_chars:,} "
                             f"({_setting('max_plan_chars')})", http_status=413)


def check_clause_count(count: int, limits: TextLimits, what: str = "clauses", exact: bool = True) -> None:
    """`count` clauses so far (`exact`: all of them) within max_clauses."""
    if limits.max_clauses is not None and count > limits.max_clauses:
        amount = f"{count}" if exact else f"more than {limits.max_clauses}"
        raise OverLimitError(f"{amount} {what} is over the limit of {limits.max_clauses} per request "
                             f"({_setting('max_clauses')})")


def check_clause_chars(index: int, text: str, limits: TextLimits) -> None:
    """Clause number `index` (from 0) within max_clause_chars."""
    if limits.max_clause_chars is not None and len(text) > limits.max_clause_chars:
        raise OverLimitError(f"clause {index} has {len(text)} characters, over the limit of "
                             f"{limits.max_clause_chars} ({_setting('max_clause_chars')})")
