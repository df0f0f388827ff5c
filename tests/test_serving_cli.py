"""`clausemap serve` refuses what it cannot serve with a one-line error (the page test runs it for real)."""

import os
import subprocess
import sys

import pytest

from clausemap.paths import PROJECT_ROOT


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clausemap", *args],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, env={**os.environ, **(env or {})},
    )


def test_serve_without_a_model_explains_how_to_build_one(tmp_path):
    result = run_cli("serve", "--model", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert result.stderr.startswith("clausemap: error: no model at")
    assert "make model" in result.stderr and "Traceback" not in result.stderr


def test_serve_rejects_a_directory_that_is_not_a_model(tmp_path):
    result = run_cli("serve", "--model", str(tmp_path))
    assert result.returncode == 2
    assert str(tmp_path) in result.stderr and "clausemap.json" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.model
def test_serve_rejects_an_unknown_catalogue(tiny_model_dir):
    result = run_cli("serve", "--model", str(tiny_model_dir), "--catalogue", "no-such-bureau")
    assert result.returncode == 2
    assert "no-such-bureau" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.model
def test_serve_rejects_a_bad_limit_setting(tiny_model_dir):
    result = run_cli("serve", "--model", str(tiny_model_dir), env={"CLAUSEMAP_MAX_CLAUSES": "0"})
    assert result.returncode == 2
    assert "CLAUSEMAP_MAX_CLAUSES" in result.stderr and "Traceback" not in result.stderr


def test_serve_rejects_a_bad_port(tmp_path):
    result = run_cli("serve", "--model", str(tmp_path), "--port", "70000")
    assert result.returncode == 2 and "--port" in result.stderr and "Traceback" not in result.stderr


def test_serve_help_lists_its_options():
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for option in ("--model", "--host", "--port"):
        assert option in result.stdout
