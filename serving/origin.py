"""Same-origin writes: a browser may change state only from a page of this service (or an origin allowed).

A form post (multipart, urlencoded, text/plain) needs no CORS preflight, so any web page a staff member opens
could create bureaus or plans here. Browsers say where a request comes from: `Sec-Fetch-Site` and `Origin`.
A POST/PUT/PATCH/DELETE is refused with 403 when `Sec-Fetch-Site` is cross-site, or when it carries an `Origin`
that is neither this service's host (the Host header, or X-Forwarded-Host behind a proxy: a cross-site form
cannot set it) nor one of CLAUSEMAP_ALLOWED_ORIGINS. Requests without these headers (curl, scripts, Label
Studio's server-to-server webhook calls) are not browser requests of another site and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_host(origin: str) -> str | None:
    """"https://host:port" -> "host:port" as header_host writes it; None for "null" or anything not http(s)."""
    try:
        parts = urlsplit(origin)
        parts.port  # a malformed port raises
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return header_host(parts.netloc)


def header_host(value: str) -> str:
    """A Host header (or an origin's host part): lower case, default ports dropped ([::1] keeps its brackets)."""
    value = value.strip().lower()
    for port in DEFAULT_PORTS.values():
        value = value.removesuffix(f":{port}")
    return value


class SameOriginWrites:
    def __init__(self, app: ASGIApp, allowed_origins: list[str] = ()):
        self.app = app
        self.allowed = {origin_host(o) for o in allowed_origins} - {None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            refusal = self.refusal({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]})
            if refusal:
                await JSONResponse({"detail": refusal}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: dict[str, str]) -> str | None:
        """Why the request is refused, or None."""
        origin = headers.get("origin")
        host = origin_host(origin) if origin is not None else None
        if host in self.allowed:
            return None
        advice = "send it from the service's own page, or list the origin in CLAUSEMAP_ALLOWED_ORIGINS"
        if headers.get("sec-fetch-site") == "cross-site":
            return f"cross-site request refused (Sec-Fetch-Site: cross-site); {advice}"
        if origin is not None:
            ours = {header_host(headers[h].split(",")[0]) for h in ("host", "x-forwarded-host") if headers.get(h)}
            if host is None or host not in ours:
                return f"cross-site request refused: Origin {origin[:100]!r} is not this service; {advice}"
        return None

