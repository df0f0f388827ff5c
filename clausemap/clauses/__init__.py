"""Plan documents in, numbered clauses out."""

from clausemap.clauses.model import Clause, Document
from clausemap.clauses.segment import segment_bytes, segment_file, segment_text

__all__ = ["Clause", "Document", "segment_bytes", "segment_file", "segment_text"]
