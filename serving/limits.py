"""Request limits: the body's size, enforced before any route parses the body (JSON or multipart upload), and the
text limits segmentation enforces as it goes (clausemap.clauses.limits)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clausemap.clauses.limits import TextLimits


def text_limits(settings) -> TextLimits:
    """The service's plan and clause limits (ServingSettings max_plan_chars, max_clauses, max_clause_chars)."""
    return TextLimits(settings.max_plan_chars, settings.max_clauses, settings.max_clause_chars)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app `body`, already read, in one message; then the connection's own messages."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class BodySizeLimit:
    """Answer 413 when a request body exceeds `max_bytes`, whether or not it declares a Content-Length.

    A body within the limit is read fully and replayed to the app, so memory per request stays bounded
    by the limit even for chunked uploads.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _reject(self, send: Send) -> None:
        detail = f"request body is larger than the {self.max_bytes} byte limit (CLAUSEMAP_MAX_BODY_BYTES)"
        payload = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
