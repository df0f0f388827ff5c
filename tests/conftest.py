"""Shared pytest setup. Fixtures live in tests/fixtures/, one module per stage."""

import atexit
import os
import shutil
import tempfile

import pytest

from tests.support.markers import dynamically_used, missing_markers, statically_used


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


def pytest_collection_modifyitems(config, items):
    """Stop the run when a test uses a slow fixture without its marker: it would slip into `make test-fast`."""
    problems = [f"{item.nodeid}: {', '.join(missing)}" for item in items
                if (missing := missing_markers(item, statically_used(item)))]
    if problems:
        raise pytest.UsageError("tests missing a marker (see CONTRIBUTING.md, Markers):\n  " + "\n  ".join(problems))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item):
    """The same check for fixtures asked for by name at run time (request.getfixturevalue)."""
    missing = missing_markers(item, dynamically_used(item))
    if missing:
        pytest.fail(f"{item.nodeid} is missing a marker: {', '.join(sorted(set(missing)))}", pytrace=False)
