"""clausemap: clauses of Chinese education-bureau work plans, classified and assigned to sections."""

from pathlib import Path

__version__ = "0.1.0"

# The repository (or installed source tree) root: seeds/, data/, configs/ and the shipped catalogues live here;
# the default base of relative paths in the settings (CLAUSEMAP_HOME). Defined in the package itself, which
# imports nothing, so clausemap.settings and clausemap.paths (which reads the settings) both build on it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
