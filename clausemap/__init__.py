"""clausemap: clauses of Chinese education-bureau work plans, classified and assigned to sections."""

__version__ = "0.1.0"
