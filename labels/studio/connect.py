"""`clausemap label connect`: register the service with a project, as its ML backend and its webhook, with the
service's API key in what Label Studio sends.

The ML backend (predictions, "Start Training") authenticates with Basic auth, the key as password; the webhook
(annotation created or updated → retrain) carries `Authorization: Bearer <key>` in its headers. Connecting
again updates both instead of adding more.
"""

from __future__ import annotations

from dataclasses import dataclass

WEBHOOK_ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"]
BACKEND_TITLE = "clausemap"


@dataclass
class Connection:
    backend_id: int
    webhook_id: int
    backend_created: bool
    webhook_created: bool


def keyless_warning(api_key: str | None) -> str | None:
    """What a connection without a key will meet: the service's webhook refuses training events while the service
    has no API key (serving.ml_backend.webhook), and a service with one refuses every call that lacks it."""
    if api_key:
        return None
    return ("no CLAUSEMAP_API_KEY is set here, so Label Studio will send no key: the service will refuse retraining "
            "from Label Studio (403) unless it runs with CLAUSEMAP_RETRAIN_WITHOUT_API_KEY=true, and if it has an API "
            "key it refuses Label Studio's predictions too (401). Give the service a key (CLAUSEMAP_API_KEY) and run "
            "`label connect` again with the same CLAUSEMAP_API_KEY")


def connect_service(studio, project, service_url: str, api_key: str | None) -> Connection:
    client = studio.client
    service_url = service_url.rstrip("/")
    auth = dict(auth_method="BASIC_AUTH", basic_auth_user="labelstudio", basic_auth_pass=api_key) if api_key \
        else dict(auth_method="NONE")
    with studio.errors(f"registering the ML backend of {project.title!r}"):
        backends = [b for b in client.ml.list(project=project.id) if (b.url or "").rstrip("/") == service_url]
        if backends:
            backend = client.ml.update(backends[0].id, project=project.id, url=service_url, title=BACKEND_TITLE, **auth)
        else:
            backend = client.ml.create(project=project.id, url=service_url, title=BACKEND_TITLE, **auth)
    hook_url = f"{service_url}/webhook"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with studio.errors(f"registering the webhook of {project.title!r}"):
        hooks = [h for h in client.webhooks.list(project=str(project.id)) if h.url == hook_url]
        if hooks:
            hook = client.webhooks.update(hooks[0].id, url=hook_url, headers=headers, actions=WEBHOOK_ACTIONS,
                                          send_payload=True, send_for_all_actions=False, is_active=True)
        else:
            hook = client.webhooks.create(project=project.id, url=hook_url, headers=headers, actions=WEBHOOK_ACTIONS,
                                          send_payload=True, send_for_all_actions=False, is_active=True)
    return Connection(backend.id, hook.id, not backends, not hooks)
