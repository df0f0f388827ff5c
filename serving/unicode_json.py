"""JSON bodies must be valid Unicode: a lone surrogate ("\\ud800") is refused with 422 before any route sees it.

Python's json module accepts lone surrogates (escaped, or UTF-8-encoded) and hands them on as str; they then
fail wherever text is encoded (the tokenizer, SQLite, the JSON response) and the request ends in a 500. I-JSON
(RFC 7493) forbids them; pydantic's own JSON parser already refuses them (/v1/plans), and this does the same for
the routes FastAPI parses. Only bodies that contain a surrogate escape or its UTF-8 bytes are parsed here.
"""

from __future__ import annotations

import json
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.limits import replay_body

_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(body: bytes) -> str | None:
    """The first lone surrogate of the JSON text's strings (keys included), escaped; None when there is none or
    the body is not JSON (the route reports that)."""
    if not _MAYBE_SURROGATE.search(body):
        return None
    try:
        stack = [json.loads(body)]
    except (ValueError, RecursionError):
        return None
    while stack:  # iterative: nesting depth costs no recursion
        value = stack.pop()
        if isinstance(value, dict):
            stack += value.keys()
            stack += value.values()
        elif isinstance(value, list):
            stack += value
        elif isinstance(value, str) and (found := _SURROGATE.search(value)):
            return found.group().encode("unicode_escape").decode()
    return None


class ValidUnicodeJson:
    """422 for a JSON request body holding a lone surrogate; other bodies pass unchanged (read once, replayed)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        content_type = dict(scope.get("headers", ())).get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["type"] != "http" or not (content_type == b"application/json" or content_type.endswith(b"+json")):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        found = lone_surrogate(body)
        if found:
            detail = f"request body is not valid JSON: a string holds the lone surrogate {found}; send valid Unicode"
            errors = [{"type": "json_invalid", "loc": ["body"], "msg": detail}]
            await JSONResponse({"detail": detail, "errors": errors}, status_code=422)(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)
