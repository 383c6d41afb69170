"""``/console``: the web console, a page and its assets, served by the server itself.

The console is plain HTML, CSS and JavaScript modules in ``static/``, with no build step and
no third-party library, so nothing is fetched from anywhere but this server and nothing needs
Node.js at run time. It is a client of the public HTTP API and nothing else: it signs in with
an API key (kept in the tab's ``sessionStorage`` only), and every view it shows is what that
key may read, scoped by its tenant and scopes like any other client.

The assets are read once, on first request, and served with an ``ETag`` and a strict
Content-Security-Policy: scripts, styles and connections to this origin only, no inline
script or style, no frames, no forms posting elsewhere. Only the files present in
``static/`` at start-up can be named (a name is looked up in that list, never joined to a
path), so a request cannot reach any other file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dialoghub.server.auth import Principal
from dialoghub.server.endpoint import Param, endpoint
from dialoghub.server.errors import NotFound
from dialoghub.server.service import Service

__all__ = ["CSP", "routes"]

#: What the console's pages may load and run: this origin only, nothing inline.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(html|js|css|svg)$")


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


_assets: dict[str, _Asset] | None = None


def _load() -> dict[str, _Asset]:
    global _assets
    if _assets is None:
        found: dict[str, _Asset] = {}
        for entry in resources.files(__package__).joinpath("static").iterdir():
            match = _NAME.match(entry.name)
            if match is None or not entry.is_file():
                continue
            body = entry.read_bytes()
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            found[entry.name] = _Asset(body, _TYPES[match.group(1)], etag)
        _assets = found
    return _assets


def _serve(request: Request, name: str) -> Response:
    asset = _load().get(name)
    if asset is None:
        raise NotFound(f"the console has no file {name!r}", path=f"/console/{name}")
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # revalidated each time: a new server version's assets are never mixed with old ones
        "Cache-Control": "no-cache",
        "ETag": asset.etag,
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


_FILE = Param.path("name", "A file of the console.", min_len=1, max_len=80, pattern=_NAME.pattern)


@endpoint("/console", None, tag="system", produces="text/html")
async def console(service: Service, request: Request, who: Principal) -> Response:
    """The web console (it asks for an API key; every view is what that key may read)."""
    return _serve(request, "index.html")


@endpoint("/console/{name}", None, tag="system", params=[_FILE], produces="text/plain")
async def console_file(service: Service, request: Request, who: Principal) -> Response:
    """A file of the web console."""
    return _serve(request, _FILE.read(request))


routes = [
    Route("/console", console, methods=["GET"], include_in_schema=False),
    Route("/console/{name}", console_file, methods=["GET"], include_in_schema=False),
]
