"""Shared pytest setup. Fixtures live in tests/fixtures/, one module per stage."""

import os
import tempfile

# Services the tests start keep staff corrections in a scratch database, not in the checkout's data/.
os.environ.setdefault("CLAUSEMAP_FEEDBACK_DB", os.path.join(tempfile.mkdtemp(prefix="clausemap-feedback-"),
                                                            "feedback.sqlite"))
# ... and new bureaus' catalogues and table histories in scratch folders (the shipped catalogues stay found).
os.environ.setdefault("CLAUSEMAP_CATALOGUES", tempfile.mkdtemp(prefix="clausemap-catalogues-"))
os.environ.setdefault("CLAUSEMAP_BUREAU_HISTORY", tempfile.mkdtemp(prefix="clausemap-history-"))

pytest_plugins = [
    "tests.fixtures.models",
    "tests.fixtures.label_studio",
]
