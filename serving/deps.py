"""FastAPI dependencies shared by the API routes and the Label Studio ML backend router."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from serving.runtime import ModelState, SerializedPipeline
from serving.settings import ServingSettings

# Declared for OpenAPI (the "Authorize" button at /docs); read with auto_error=False so a missing key is a 401.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's CLAUSEMAP_API_KEY")
_authorization = HTTPBearer(
    auto_error=False, description="Bearer <key>; Basic auth with the key as password also works"
)


def get_settings(request: Request) -> ServingSettings:
    return request.app.state.settings


def get_model_state(request: Request) -> ModelState:
    return request.app.state.model


def get_pipeline(state: Annotated[ModelState, Depends(get_model_state)]) -> SerializedPipeline:
    """The loaded ClausePipeline (its classify is safe to call from any thread); 503 until it is loaded."""
    if state.pipeline is None:
        raise HTTPException(503, state.error or "the model is still loading; try again shortly (see /readyz)",
                            headers=state.retry_headers)
    return state.pipeline


def require_api_key(
    request: Request,
    header_key: Annotated[str | None, Security(_api_key_header)],
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_authorization)],
    settings: Annotated[ServingSettings, Depends(get_settings)],
) -> None:
    """401 unless the request carries CLAUSEMAP_API_KEY (when one is set).

    Accepted as `X-API-Key: <key>`, `Authorization: Bearer <key>`, or HTTP Basic auth with the key as the
    password (what Label Studio sends to an ML backend).
    """
    if settings.api_key is None:
        return
    expected = settings.api_key.get_secret_value().encode()
    given = header_key or _key_from_authorization(request.headers.get("authorization", ""))
    if given is None or not hmac.compare_digest(given.encode(), expected):
        raise HTTPException(
            401,
            "missing API key" if given is None else "wrong API key",
            headers={"WWW-Authenticate": "Bearer"},
        )


# Route parameter types: `pipeline: Pipeline` gets the loaded pipeline (503 until then), and so on.
Pipeline = Annotated[SerializedPipeline, Depends(get_pipeline)]
Settings = Annotated[ServingSettings, Depends(get_settings)]
State = Annotated[ModelState, Depends(get_model_state)]


def _key_from_authorization(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None
