"""Helpers shared by several test files (fixtures stay in tests/fixtures/)."""
