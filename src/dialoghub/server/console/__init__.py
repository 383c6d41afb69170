"""``/console``: the web console, a page and its assets, served by the server itself.

The console is plain HTML, CSS and JavaScript modules in ``static/``, with no build step and
no third-party library, so nothing is fetched from anywhere but this server and nothing needs
Node.js at run time. It is a client of the public HTTP API and nothing else: it signs in with
an API key (kept in the tab's ``sessionStorage`` only), and every view it shows is what that
key may read, scoped by its tenant and scopes like any other client.

The assets are read once, on first request. The page names them under a digest of them all
(``/console/<version>/app.js``), preloads every module at once, and is itself revalidated on
each visit; the versioned files are cached by the browser for good (``immutable``), so a
second visit asks for the page alone. Everything is served with a strict
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
from pathlib import Path

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


#: The modules the page preloads: the shell and the sessions list, what a first visit shows.
#: Five files with the stylesheet, so they come in one round trip over the browser's six
#: connections to a host (more would queue behind them: measured in benchmarks/README.md).
_PRELOAD = ("api.js", "app.js", "dom.js", "sessions.js")
_assets: dict[str, _Asset] | None = None
#: Another folder to read the files from (benchmarks.console --before serves an older
#: revision's files with it); None: the package's own ``static/``.
_static_dir: Path | None = None
_version = ""  # a digest of every asset: the path segment that makes their URLs immutable


def _load() -> dict[str, _Asset]:
    global _assets, _version
    if _assets is None:
        found: dict[str, _Asset] = {}
        digest = hashlib.sha256()
        root = _static_dir or resources.files(__package__).joinpath("static")
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            match = _NAME.match(entry.name)
            if match is None or not entry.is_file():
                continue
            body = entry.read_bytes()
            digest.update(entry.name.encode() + b"\0" + body)
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            found[entry.name] = _Asset(body, _TYPES[match.group(1)], etag)
        _version = digest.hexdigest()[:12]
        # The page names its files under the version, and preloads the shell and the landing
        # view's modules at once (so the browser does not discover them one import at a
        # time); the other views load when shown, with their imports in parallel (app.js).
        page = found["index.html"].body.decode()
        modules = [n for n in _PRELOAD if n in found]
        preload = "".join(f'<link rel="modulepreload" href="/console/{_version}/{n}">\n'
                          for n in modules)
        page = page.replace("/console/", f"/console/{_version}/").replace(
            "<!-- modulepreload -->\n", preload)
        body = page.encode()
        found["index.html"] = _Asset(body, _TYPES["html"],
                                     '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
        _assets = found
    return _assets


_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _serve(request: Request, name: str, *, immutable: bool) -> Response:
    asset = _load().get(name)
    if asset is None:
        raise NotFound(f"the console has no file {name!r}", path=f"/console/{name}")
    headers = {
        **_HEADERS,
        # A versioned URL never changes content: the browser keeps it without asking again.
        # The page itself (and an unversioned URL) is revalidated each time, so a new
        # server's page names the new files.
        "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
        "ETag": asset.etag,
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


_FILE = Param.path("name", "A file of the console.", min_len=1, max_len=80,
                   pattern=_NAME.pattern)
_VERSION = Param.path("version", "The console's version (a digest of its files).",
                      min_len=1, max_len=40, pattern="^[0-9a-f]{1,40}$")


@endpoint("/console", None, tag="system", produces="text/html")
async def console(service: Service, request: Request, who: Principal) -> Response:
    """The web console (it asks for an API key; every view is what that key may read)."""
    return _serve(request, "index.html", immutable=False)


@endpoint("/console/{name}", None, tag="system", params=[_FILE], produces="text/plain")
async def console_file(service: Service, request: Request, who: Principal) -> Response:
    """A file of the web console, by its name alone (revalidated on each use)."""
    return _serve(request, _FILE.read(request), immutable=False)


@endpoint("/console/{version}/{name}", None, tag="system", params=[_VERSION, _FILE],
          produces="text/plain")
async def console_versioned(service: Service, request: Request, who: Principal) -> Response:
    """A file of the web console under its version: cached for good by the browser. Another
    version's name is a 404 (a page of an older server asks again for the page)."""
    _load()
    if _VERSION.read(request) != _version:
        raise NotFound("this console version is not served here; reload the page",
                       version=_VERSION.read(request))
    return _serve(request, _FILE.read(request), immutable=True)


routes = [
    Route("/console", console, methods=["GET"], include_in_schema=False),
    Route("/console/{name}", console_file, methods=["GET"], include_in_schema=False),
    Route("/console/{version}/{name}", console_versioned, methods=["GET"],
          include_in_schema=False),
]
