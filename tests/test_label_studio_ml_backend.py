"""The serving app as a Label Studio ML backend: the protocol itself, then connected to a real Label Studio."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from clausemap.clauses import segment_file
from clausemap.paths import PROJECT_ROOT
from labels.catalogue import load_catalogue
from labels.studio.config import CATEGORIES_NAME, DEPARTMENTS_NAME, EVIDENCE_NAME, TEXT_NAME, label_config
from labels.taxonomy import load_taxonomy
from serving.launch import running_service
from tests.support.jobs import wait_for_job
from tests.support.markers import needs

pytestmark = [pytest.mark.model, pytest.mark.server]

TAXONOMY = load_taxonomy()
CATALOGUE = load_catalogue()
SEED = PROJECT_ROOT / "seeds" / "000_ae45951577d4b07b.txt"
API_KEY = "ml-backend-test-key"
STARTUP_S = 120
RETRAIN_S = 300


def serve(model_dir, work, studio_url: str | None = None, studio_key: str | None = None):
    """`clausemap serve` on the model, behind an API key, retraining from the Label Studio given (else none)."""
    env = {
        "CLAUSEMAP_API_KEY": API_KEY,
        "CLAUSEMAP_CACHE": str(work / "cache"),
        "CLAUSEMAP_LS_CONFIG": str(work / "no-label-studio.yaml"),
        "LABEL_STUDIO_URL": studio_url,
        "LABEL_STUDIO_API_KEY": studio_key,
        "CLAUSEMAP_MODEL": None,
    }
    return running_service(model_dir, env=env, log_path=work / "serve.log", ready_timeout_s=STARTUP_S)


@pytest.fixture(scope="module")
@needs("model", "server")
def service(tiny_model_dir, tmp_path_factory):
    """The service with no Label Studio settings of its own."""
    with serve(tiny_model_dir, tmp_path_factory.mktemp("ml-backend")) as url:
        yield httpx.Client(base_url=url, auth=("labelstudio", API_KEY), timeout=60)


def served_version(service) -> str:
    return service.get("/health").json()["model_version"]


def test_health_and_setup_report_the_model_version_behind_the_api_key(service, tiny_model_dir):
    version = json.loads((tiny_model_dir / "clausemap.json").read_text(encoding="utf-8"))["model_version"]
    assert httpx.get(service.base_url.join("/health")).status_code == 401
    health = service.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "UP"
    setup = service.post("/setup", json={"project": "7.1700000000", "schema": label_config(TAXONOMY, CATALOGUE)})
    assert setup.status_code == 200 and setup.json() == {"model_version": version}


def test_setup_refuses_a_labelling_config_that_does_not_fit(service):
    foreign = (
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text"><Choice value="positive"/></Choices></View>'
    )
    response = service.post("/setup", json={"project": "7.1", "schema": foreign})
    assert response.status_code == 422 and 'no <Choices name="categories">' in response.json()["detail"]


def test_predict_answers_in_the_configs_names_one_result_per_task(service):
    clauses = segment_file(SEED).clauses[:3]
    tasks = [{"id": n, "data": {"text": c.text, "clause_id": c.id}} for n, c in enumerate(clauses, 1)]
    response = service.post("/predict", json={"tasks": tasks, "label_config": label_config(TAXONOMY, CATALOGUE)})
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 3 and body["model_version"] == served_version(service)
    for prediction in body["results"]:
        assert prediction["model_version"] == body["model_version"] and 0.5 <= prediction["score"] <= 1
        names = {item["from_name"]: item for item in prediction["result"]}
        assert names[CATEGORIES_NAME]["to_name"] == TEXT_NAME and names[CATEGORIES_NAME]["type"] == "choices"
        assert set(names[CATEGORIES_NAME]["value"]["choices"]) <= set(TAXONOMY.ids)
        if DEPARTMENTS_NAME in names:
            assert set(names[DEPARTMENTS_NAME]["value"]["choices"]) <= set(CATALOGUE.names)
        # Each specific category given comes with its deciding sentence(s), as highlighted spans of the text.
        text = tasks[body["results"].index(prediction)]["data"]["text"]
        spans = [item for item in prediction["result"] if item["from_name"] == EVIDENCE_NAME]
        given = set(names[CATEGORIES_NAME]["value"]["choices"]) - {TAXONOMY.fallback_id}
        assert {label for span in spans for label in span["value"]["labels"]} == given
        for span in spans:
            assert span["type"] == "labels" and span["to_name"] == TEXT_NAME
            assert text[span["value"]["start"]:span["value"]["end"]] == span["value"]["text"]


def test_predict_offers_only_the_departments_the_project_has(service):
    clause = segment_file(SEED).clauses[0]
    narrow = label_config(TAXONOMY, CATALOGUE.model_copy(update={"departments": CATALOGUE.departments[:1]}))
    body = service.post(
        "/predict", json={"tasks": [{"id": 1, "data": {"text": clause.text}}], "label_config": narrow}
    ).json()
    for item in body["results"][0]["result"]:
        if item["from_name"] == DEPARTMENTS_NAME:
            assert item["value"]["choices"] == [CATALOGUE.names[0]]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"tasks": [{"id": 4, "data": {"title": "no text"}}]}, "tasks.0.data.text: Field required"),
        ({"tasks": []}, "tasks"),
        ({"tasks": [{"id": 1, "data": {"text": "x"}}], "label_config": "<View>"}, "not valid XML"),
    ],
)
def test_predict_rejects_bad_requests_with_a_message(service, body, fragment):
    response = service.post("/predict", json=body)
    assert response.status_code == 422 and fragment in response.json()["detail"]


def test_webhook_ignores_other_events_and_a_training_request_without_a_connection_fails_cleanly(service):
    assert (
        service.post("/webhook", json={"action": "TASKS_CREATED", "project": {"id": 1}}).json()["status"] == "ignored"
    )
    before = served_version(service)
    # Start Training carries no `annotation`; without a known Label Studio connection the job fails and says why.
    queued = service.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 999}})
    assert queued.status_code == 200 and queued.json()["status"] in ("queued", "running")
    job = wait_for_job(service, queued.json()["job"], 60)
    assert job["status"] == "failed" and "LABEL_STUDIO_URL" in job["detail"]
    assert served_version(service) == before
    assert service.post("/webhook", json={"action": "START_TRAINING"}).status_code == 422


def wait_for_new_version(service, old: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        version = served_version(service)
        if version != old:
            return version
        time.sleep(1)
    pytest.fail(f"the model version stayed {old} for {timeout_s}s after a retrain was requested")


# --- connected to a real Label Studio ---------------------------------------------------------------


@pytest.fixture(scope="module")
@needs("model", "server", "label_studio")
def studio_service(tiny_model_dir, tmp_path_factory, label_studio):
    """The service as a deployment runs it: LABEL_STUDIO_URL / _API_KEY name the Label Studio it retrains from."""
    work = tmp_path_factory.mktemp("ml-backend-connected")
    with serve(tiny_model_dir, work, label_studio.url, label_studio.api_key) as url:
        yield httpx.Client(base_url=url, auth=("labelstudio", API_KEY), timeout=60)


@pytest.fixture(scope="module")
def connected(label_studio, studio_service):
    """A project with three seed clauses (no predictions yet) and the service connected as its ML backend."""
    from labels.studio.connection import Studio, StudioSettings
    from labels.studio.project import init_project
    from labels.studio.push import clauses_from_plans, push

    studio = Studio(StudioSettings(url=label_studio.url, api_key=label_studio.api_key))
    _, project = init_project(studio, "clausemap ml backend", TAXONOMY, CATALOGUE)
    push(studio, project, clauses_from_plans([SEED])[:3], CATALOGUE)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LABEL_STUDIO_URL", label_studio.url)
        env.setenv("LABEL_STUDIO_API_KEY", label_studio.api_key)
        env.setenv("CLAUSEMAP_API_KEY", API_KEY)
        from clausemap.cli import main

        service_url = str(studio_service.base_url).rstrip("/")
        argv = ["label", "connect", "--project", "clausemap ml backend", "--service", service_url]
        assert main(argv) == 0
        assert main(argv) == 0  # connecting again updates, adds nothing
    [backend] = studio.client.ml.list(project=project.id)
    [hook] = studio.client.webhooks.list(project=str(project.id))
    assert hook.headers == {"Authorization": f"Bearer {API_KEY}"}
    return studio, project, backend


@pytest.mark.label_studio
def test_label_studio_connects_and_receives_predictions_for_a_task(connected, studio_service):
    studio, project, backend = connected
    client = studio.client
    assert client.ml.get(backend.id).state == "CO", client.ml.get(backend.id).error_message  # connected
    [task] = [t for t in studio.tasks(project.id)][:1]
    assert not task.predictions
    client.actions.create(
        id="retrieve_tasks_predictions", project=project.id, selected_items={"all": False, "included": [task.id]}
    )
    predictions = client.tasks.get(str(task.id)).predictions
    assert len(predictions) == 1
    assert predictions[0].model_version == served_version(studio_service)
    names = {item["from_name"]: item for item in predictions[0].result}
    assert set(names[CATEGORIES_NAME]["value"]["choices"]) <= set(TAXONOMY.ids)
    # Label Studio kept the evidence spans of every specific category given.
    spans = [item for item in predictions[0].result if item["from_name"] == EVIDENCE_NAME]
    given = set(names[CATEGORIES_NAME]["value"]["choices"]) - {TAXONOMY.fallback_id}
    assert {label for span in spans for label in span["value"]["labels"]} == given


@pytest.mark.label_studio
def test_start_training_retrains_in_the_background_and_changes_the_model_version(connected, studio_service):
    studio, project, backend = connected
    client = studio.client
    tasks = studio.tasks(project.id)
    for task, category in zip(tasks, TAXONOMY.specific_ids):
        client.annotations.create(
            task.id,
            result=[
                {
                    "from_name": CATEGORIES_NAME,
                    "to_name": TEXT_NAME,
                    "type": "choices",
                    "value": {"choices": [category]},
                }
            ],
        )
    before = served_version(studio_service)
    client.ml.train(backend.id)  # Label Studio sends START_TRAINING (no annotation) to /webhook
    after = wait_for_new_version(studio_service, before, RETRAIN_S)
    assert after != before
    assert studio_service.post("/setup", json={"project": f"{project.id}.1"}).json()["model_version"] == after
    clause = tasks[0].data["text"]
    predicted = studio_service.post("/predict", json={"tasks": [{"id": 1, "data": {"text": clause}}]})
    assert predicted.json()["model_version"] == after


@pytest.mark.label_studio
def test_an_annotation_reaches_the_service_through_the_keyed_webhook_and_retrains(connected, studio_service):
    """With the key set, Label Studio's annotation webhook carries it: the service accepts it, retrains, and the
    new model version answers /predict."""
    studio, project, backend = connected
    task = studio.tasks(project.id)[-1]
    before = served_version(studio_service)
    studio.client.annotations.create(task.id, result=[{"from_name": CATEGORIES_NAME, "to_name": TEXT_NAME,
                                                       "type": "choices", "value": {"choices": ["teachers"]}}])
    after = wait_for_new_version(studio_service, before, RETRAIN_S)
    clause = task.data["text"]
    predicted = studio_service.post("/predict", json={"tasks": [{"id": 1, "data": {"text": clause}}]})
    assert predicted.json()["model_version"] == after
