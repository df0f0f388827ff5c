"""Plan documents in, numbered clauses out."""
