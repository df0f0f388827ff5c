"""The OpenAPI contract holds: schemathesis generates requests from /openapi.json and checks the real app's
answers against it (status codes, response schemas, auth, acceptance of valid and rejection of invalid data),
with an API key configured and without one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.model

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from serving.app import create_app  # noqa: E402
from serving.settings import ServingSettings  # noqa: E402

KEY = "contract-key"
# Schema-valid requests the service must still refuse, because no schema can say why (docs/security.md):
# a plan text with no numbered items, a labelling config that is not valid Label Studio XML, a correction
# giving the fallback category together with another, and an uploaded file that holds no breakdown table.
UNEXPRESSIBLE = {("POST", "/v1/plans"), ("POST", "/setup"), ("POST", "/predict"), ("POST", "/v1/feedback"),
                 ("POST", "/v1/catalogues")}


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    from clausemap.paths import default_dataset
    from training.inference.pipeline import load_pipeline

    return load_pipeline(tiny_model_dir, fallback_annotated=default_dataset())


def _app(loaded, tiny_model_dir, tmp_path_factory, key):
    work = tmp_path_factory.mktemp("contract")
    settings = ServingSettings(model=tiny_model_dir, api_key=key, retrained_models=work / "retrained",
                               feedback_db=work / "feedback.sqlite")
    return create_app(settings, pipeline=loaded)


@pytest.fixture(scope="module", params=[None, KEY], ids=["no-key", "key"])
def contract(request, loaded, tiny_model_dir, tmp_path_factory):
    key = request.param
    app = _app(loaded, tiny_model_dir, tmp_path_factory, key)
    return schemathesis.openapi.from_asgi("/openapi.json", app), key


def test_the_security_scheme_appears_exactly_when_a_key_is_set(loaded, tiny_model_dir, tmp_path_factory):
    from fastapi.testclient import TestClient

    open_spec = TestClient(_app(loaded, tiny_model_dir, tmp_path_factory, None)).get("/openapi.json").json()
    keyed_spec = TestClient(_app(loaded, tiny_model_dir, tmp_path_factory, KEY)).get("/openapi.json").json()
    assert "securitySchemes" not in open_spec.get("components", {})
    assert not any("security" in op for ops in open_spec["paths"].values() for op in ops.values())
    assert set(keyed_spec["components"]["securitySchemes"]) >= {"APIKeyHeader"}
    classify = keyed_spec["paths"]["/v1/classify"]["post"]
    assert classify["security"] and {"401", "413", "415", "422", "503"} <= set(classify["responses"])
    assert classify["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "HTTPValidationError" not in keyed_spec["components"]["schemas"]
    for not_ready in (classify["responses"]["503"], keyed_spec["paths"]["/readyz"]["get"]["responses"]["503"]):
        assert "Retry-After" in not_ready["headers"]


def test_every_operation_keeps_its_contract(contract, subtests):
    schema, key = contract
    headers = {"X-API-Key": key} if key else None
    operations = list(schema.get_all_operations())
    assert len(operations) >= 15
    for result in operations:
        operation = result.ok()
        strategy = operation.as_strategy()

        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case):
            excluded = [positive_data_acceptance] if (operation.method.upper(), operation.path) in UNEXPRESSIBLE \
                else []
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        from hypothesis import given

        with subtests.test(operation=f"{operation.method.upper()} {operation.path}"):
            given(strategy)(check)()
