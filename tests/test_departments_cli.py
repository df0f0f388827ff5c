"""`clausemap evaluate-departments` from the public command: figures, the baseline beside them, and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clausemap.clauses import segment_file
from clausemap.cli import main
from clausemap.paths import PROJECT_ROOT

SEED_000 = next((PROJECT_ROOT / "seeds").glob("000_*.txt"))
KEYS = {"recall_at_1", "recall_at_3", "lead_accuracy", "mrr", "n"}


@pytest.fixture(scope="module")
def seed_dataset(tmp_path_factory):
    """Seed 000's clauses with their stated departments; categories from the catalogue's lead owner of the
    first stated department (a stand-in for annotations, good enough to exercise the category signal)."""
    from labels.catalogue import load_catalogue

    catalogue = load_catalogue()
    path = tmp_path_factory.mktemp("data") / "dataset.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for clause in segment_file(SEED_000).clauses:
            row = clause.to_dict()
            row["categories"] = [catalogue.get(catalogue.resolve(clause.departments[0])).categories[0]]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.mark.model
def test_json_figures_for_suggester_and_baseline(seed_dataset, capsys):
    assert main(["evaluate-departments", "--data", str(seed_dataset), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert KEYS <= set(report)
    assert KEYS <= set(report["baseline"]) and KEYS <= set(report["catalogue_only"])
    assert report["n"] == report["baseline"]["n"] == 29
    for figures in (report, report["baseline"], report["catalogue_only"]):
        for key in KEYS - {"n"}:
            assert 0 <= figures[key] <= 1
        assert figures["recall_at_1"] <= figures["recall_at_3"]
    assert report["categories"] == "annotated in the dataset"


@pytest.mark.model
def test_text_report_from_the_installed_command(seed_dataset):
    done = subprocess.run(
        [sys.executable, "-m", "clausemap", "evaluate-departments", "--data", str(seed_dataset)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "29 clauses" in done.stdout
    for label in ("suggester", "catalogue only", "baseline (category → owner)"):
        assert label in done.stdout
    assert "recall@3" in done.stdout and "MRR" in done.stdout


def _error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("clausemap: error: ") and "\n" not in err
    return err


def test_malformed_dataset_names_file_and_line(tmp_path, capsys):
    data = tmp_path / "dataset.jsonl"
    data.write_text('{"text": "a", "departments": ["基础教育科"]}\n{not json\n', encoding="utf-8")
    assert f"{data}:2: invalid JSON" in _error(["evaluate-departments", "--data", str(data)], capsys)


def test_departments_must_be_a_list(tmp_path, capsys):
    data = tmp_path / "dataset.jsonl"
    data.write_text('{"text": "a", "departments": "基础教育科"}\n', encoding="utf-8")
    assert f"{data}:1: departments: Input should be a valid list" in _error(["evaluate-departments", "--data", str(data)], capsys)


def test_no_annotated_departments(tmp_path, capsys):
    data = tmp_path / "dataset.jsonl"
    data.write_text('{"text": "a", "departments": [], "categories": ["other"]}\n', encoding="utf-8")
    assert "no clause has departments" in _error(["evaluate-departments", "--data", str(data)], capsys)


def test_missing_dataset(tmp_path, capsys):
    assert "cannot read dataset" in _error(["evaluate-departments", "--data", str(tmp_path / "nope.jsonl")], capsys)


def test_categories_needed_without_a_model(tmp_path, capsys):
    data = tmp_path / "dataset.jsonl"
    data.write_text('{"text": "a", "departments": ["基础教育科"]}\n', encoding="utf-8")
    assert "--model" in _error(["evaluate-departments", "--data", str(data)], capsys)


@pytest.mark.model
def test_unknown_department_names_are_reported_not_fatal(seed_dataset, tmp_path, capsys):
    data = tmp_path / "dataset.jsonl"
    rows = seed_dataset.read_text(encoding="utf-8")
    extra = {"text": "新的条目", "departments": ["不存在科"], "categories": ["other"]}
    data.write_text(rows + json.dumps(extra, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["evaluate-departments", "--data", str(data), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n"] == 29
    assert "不存在科" in captured.err
