"""training.train: a fit leaves the process as it found it (a retrain runs beside the service in one process)."""

import dataclasses
import json
import sys

import pytest

import training.train
from clausemap.cli import main
from tests.fixtures.models import CONFIGS

pytestmark = pytest.mark.model


def test_training_writes_its_logs_to_stderr_without_replacing_stdout(tmp_path, training_data_path, capsys,
                                                                     monkeypatch):
    stdout_during_fit = []
    real_get_kind = training.train.get_kind

    def spying_get_kind(name):
        kind = real_get_kind(name)
        return dataclasses.replace(kind, fit=lambda job: (stdout_during_fit.append(sys.stdout), kind.fit(job))[1])

    monkeypatch.setattr(training.train, "get_kind", spying_get_kind)
    stdout = sys.stdout
    code = main(["train", "--config", str(CONFIGS / "tiny-test.yaml"), "--output", str(tmp_path / "model"),
                 f"data.path={training_data_path}", "training.max_steps=2", "thresholds.tune=false"])
    assert code == 0
    assert stdout_during_fit == [stdout]  # the process's stdout was never swapped for the fit
    captured = capsys.readouterr()
    # stdout holds the command's result alone (one JSON object); the HF Trainer's logs went to stderr.
    assert json.loads(captured.out)["output"] == str(tmp_path / "model")
    assert "train_runtime" in captured.err
