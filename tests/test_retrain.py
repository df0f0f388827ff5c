"""serving.retrain: the retrain queue (requests join a queued job, failures are reported on their job) and
pruning of older retrained models."""

import threading
import time
from types import SimpleNamespace

from serving.retrain import Retrainer, prune_retrained
from training.inference.artifact import ARTIFACT_FILE


def test_retrain_requests_for_a_queued_project_join_its_job():
    started, release = threading.Event(), threading.Event()
    trained = []

    def retrain(project):
        started.set()
        release.wait(5)
        return SimpleNamespace(model_version=f"v-{project}")

    retrainer = Retrainer(retrain, trained.append)
    running = retrainer.request(1)
    assert started.wait(5)
    queued = retrainer.request(1)  # the first is running: a new job queues ...
    assert queued.id != running.id
    assert retrainer.request(1).id == queued.id  # ... and later requests join the queued one
    other = retrainer.request(2)
    assert other.id != queued.id
    release.set()
    for _ in range(100):
        if all(retrainer.get(j.id).status == "done" for j in (running, queued, other)):
            break
        time.sleep(0.05)
    assert [retrainer.get(j.id).status for j in (running, queued, other)] == ["done"] * 3
    assert [p.model_version for p in trained] == ["v-1", "v-1", "v-2"]


def test_a_failing_or_empty_retrain_is_reported_on_its_job():
    def retrain(project):
        if project == 1:
            raise RuntimeError("no connection\nmore detail")
        return None

    retrainer = Retrainer(retrain, lambda pipeline: None)
    failing, empty = retrainer.request(1), retrainer.request(2)
    for _ in range(100):
        if failing.finished_at and empty.finished_at:
            break
        time.sleep(0.05)
    assert (failing.status, failing.detail) == ("failed", "no connection")
    assert empty.status == "skipped"


def test_only_the_newest_retrained_models_are_kept_and_never_the_served_one(tmp_path):
    import os

    models = []
    for n in range(5):
        model = tmp_path / f"project1-{n}"
        model.mkdir()
        (model / ARTIFACT_FILE).write_text("{}", encoding="utf-8")
        os.utime(model, (1000 + n, 1000 + n))
        models.append(model)
    (tmp_path / "not-a-model").mkdir()
    removed = prune_retrained(tmp_path, keep=2, protect={models[0]})
    assert sorted(p.name for p in removed) == ["project1-1", "project1-2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-model", "project1-0", "project1-3", "project1-4"]


def test_a_bad_base_dataset_fails_the_retrain_naming_file_and_line_before_training(tmp_path):
    """serving.retrain reads its base dataset through labels.rows.read_rows: a row breaking a rule stops the job
    with the file and line (it used to train on whatever the file held)."""
    import json

    import pytest

    from clausemap.errors import InputFileError
    from labels.catalogue import load_catalogue
    from labels.taxonomy import load_taxonomy
    from serving.retrain import retrain_from_studio

    taxonomy = load_taxonomy()
    a = taxonomy.specific_ids[0]
    task = {"id": 1, "data": {"clause_id": "d-1", "doc": "d", "text": "加强党建。"}, "annotations": [
        {"id": 1, "result": [{"from_name": "categories", "to_name": "text", "type": "choices",
                              "value": {"choices": [a]}}], "was_cancelled": False}]}
    studio = SimpleNamespace(export=lambda project: [task])
    pipeline = SimpleNamespace(taxonomy=taxonomy, catalogue=load_catalogue(), config={}, model_version="m")
    dataset = tmp_path / "dataset.jsonl"
    bad = {"id": "d-2", "doc": "d", "text": "其他。", "categories": [a, taxonomy.fallback_id]}
    dataset.write_text(json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"dataset.jsonl:1: categories: .* only when no other category applies"):
        retrain_from_studio(studio, 7, pipeline, dataset=dataset, output_root=tmp_path / "models")
    assert not (tmp_path / "models").exists()
