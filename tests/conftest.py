"""Shared pytest setup. Fixtures live in tests/fixtures/, one module per stage."""

pytest_plugins = [
    "tests.fixtures.models",
    "tests.fixtures.label_studio",
]
