"""Shared pytest setup. Fixtures live in tests/fixtures/, one module per stage."""

import atexit
import os
import shutil
import tempfile


def _scratch(variable: str, prefix: str, filename: str = "") -> None:
    """Point `variable` at a scratch folder (or a file in it) removed when the test run ends, unless it is set."""
    if variable in os.environ:
        return
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ[variable] = os.path.join(folder, filename) if filename else folder


# Services the tests start keep staff corrections in a scratch database, not in the checkout's data/, and new
# bureaus' catalogues and table histories in scratch folders (the shipped catalogues stay found).
_scratch("CLAUSEMAP_FEEDBACK_DB", "clausemap-feedback-", "feedback.sqlite")
_scratch("CLAUSEMAP_CATALOGUES", "clausemap-catalogues-")
_scratch("CLAUSEMAP_BUREAU_HISTORY", "clausemap-history-")

pytest_plugins = [
    "tests.fixtures.models",
    "tests.fixtures.label_studio",
]
