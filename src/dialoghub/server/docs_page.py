"""``/docs``: the OpenAPI document rendered as one self-contained HTML page.

Nothing is fetched at run time (no CDN, no script): the page is built once from
:func:`~dialoghub.server.openapi.openapi_document` with the standard library, every value
escaped. Operations are listed by tag, each with its parameters, request body and responses;
schemas follow, as JSON, each with an anchor the operations link to.

Descriptions are Markdown, as OpenAPI says: the page renders the inline part of it (code,
bold, emphasis, links to http(s) or to the page itself), escaped first, so nothing in a
description can inject markup. An error row says what that status means for that route (a
404 of ``/v1/sessions/{session_id}`` is "no session with that id in your tenant"), not the
API's generic sentence.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

__all__ = ["markdown", "render_docs"]

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;margin-top:2em}
.op{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.m{display:inline-block;min-width:4.5em;font-weight:600;font-family:monospace}
.get{color:#1a7f37}.post{color:#0550ae}.delete{color:#cf222e}.put,.patch{color:#9a6700}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f8fa;padding:.8em;overflow:auto;border-radius:6px}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:.2em .6em;
text-align:left;vertical-align:top}.muted{color:#666}
"""


_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_EM = re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\(((?:https?://|/|#)[^)\s\"'<>]*)\)")


def markdown(text: str) -> str:
    """Inline Markdown as HTML: `code`, **bold**, *emphasis*, [text](url); paragraphs at
    blank lines. Everything is escaped first; code spans are kept away from the rest."""
    spans: list[str] = []

    def keep(m: re.Match[str]) -> str:
        spans.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(spans) - 1}\x00"

    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        html = _CODE.sub(keep, escape(" ".join(para.split()), quote=False))
        html = _BOLD.sub(r"<strong>\1</strong>", html)
        html = _EM.sub(r"<em>\1</em>", html)
        html = _LINK.sub(lambda m: f'<a href="{escape(m.group(2))}">{m.group(1)}</a>', html)
        html = re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], html)
        out.append(html)
    return "</p><p>".join(out)


def _error_meaning(status: str, path: str, method: str, op: dict[str, Any], generic: str) -> str:
    """What an error status means for this operation (the generic sentence as a fallback)."""
    names = re.findall(r"{([^}:]+)", path)
    body = bool(op.get("requestBody"))
    write = method in ("post", "put", "patch", "delete")
    what = {"session_id": "session", "key_id": "API key", "model_id": "model"}
    if status == "400":
        return (
            "The body or a parameter cannot be read (malformed JSON, wrong types, unknown fields)."
            if body
            else "A query or path parameter cannot be read."
        )
    if status == "404":
        if not names:
            return "No such route (a path that is not part of the API)."
        things = ", ".join(
            f"{what.get(n, n.removesuffix('_id'))} <code>{{{escape(n)}}}</code>" for n in names
        )
        return f"No {things} in the tenant of the API key."
    if status == "409" and "session_id" in names and write:
        return (
            "The session moved on (expected_version or token is stale), has ended, or the "
            "idempotency key was used for another request."
        )
    if status == "409" and path.endswith("/sessions") and method == "post":
        return "A session with that id exists already, or the idempotency key was reused."
    if status == "413" and body:
        return "The body (or a text, or the variables in it) is over its limit."
    if status == "422" and "session_id" in names:
        return (
            "The input is well formed but the session cannot take it now (waiting for a "
            "command result, not for text; an event its state does not take; ...)."
        )
    if status == "403" and op.get("security"):
        scopes = [s for req in op["security"] for v in req.values() for s in v]
        if scopes:
            return f"The API key lacks the <code>{escape(scopes[0])}</code> scope."
    return escape(generic)


def _schema_link(schema: dict[str, Any] | None) -> str:
    if not schema:
        return ""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}"><code>{escape(name)}</code></a>'
    return f"<code>{escape(json.dumps(schema, sort_keys=True))}</code>"


def _content_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    for media in (body.get("content") or {}).values():
        schema = media.get("schema")
        if isinstance(schema, dict):
            return schema
    return None


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    out = [
        f'<div class="op" id="{escape(op.get("operationId", path + method))}">',
        f'<div><span class="m {method}">{method.upper()}</span> <code>{escape(path)}</code>'
        f" — {markdown(op.get('summary', ''))}</div>",
    ]
    if op.get("description"):
        out.append(f"<p>{markdown(op['description'])}</p>")
    params = op.get("parameters") or []
    if params:
        out.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>")
        for p in params:
            required = " (required)" if p.get("required") else ""
            out.append(
                f"<tr><td><code>{escape(p['name'])}</code>{required}</td>"
                f"<td>{escape(p.get('in', ''))}</td><td>{_schema_link(p.get('schema'))}</td>"
                f"<td>{markdown(p.get('description', ''))}</td></tr>"
            )
        out.append("</table>")
    if op.get("requestBody"):
        out.append(f"<p>body: {_schema_link(_content_schema(op['requestBody']))}</p>")
    security = op.get("security")
    if security == []:
        out.append('<p class="muted">no API key needed</p>')
    out.append("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>")
    for status, response in (op.get("responses") or {}).items():
        said = response.get("description", "")
        meaning = (
            markdown(said)
            if str(status).startswith("2")
            else _error_meaning(str(status), path, method, op, said)
        )
        out.append(
            f"<tr><td>{escape(str(status))}</td><td>{meaning}"
            f"</td><td>{_schema_link(_content_schema(response))}</td></tr>"
        )
    out.append("</table></div>")
    return "\n".join(out)


def render_docs(doc: dict[str, Any]) -> str:
    """The HTML page of an OpenAPI document."""
    info = doc.get("info", {})
    by_tag: dict[str, list[str]] = {}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or method.startswith("x-"):
                continue
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(path, method, op))
    parts = [
        '<!doctype html><html><head><meta charset="utf-8">',
        f"<title>{escape(info.get('title', 'API'))} API</title><style>{_STYLE}</style>",
        "</head><body>",
        f'<h1>{escape(info.get("title", "API"))} <span class="muted">'
        f"{escape(str(info.get('version', '')))}</span></h1>",
        f"<p>{markdown(info.get('description', ''))}</p>",
        '<p>The machine-readable document: <a href="/openapi.json">/openapi.json</a>.</p>',
        "<p>"
        + " · ".join(f'<a href="#tag-{escape(t)}">{escape(t)}</a>' for t in by_tag)
        + ' · <a href="#schemas">schemas</a></p>',
    ]
    for tag, ops in by_tag.items():
        parts.append(f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>')
        parts.extend(ops)
    parts.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in sorted(doc.get("components", {}).get("schemas", {}).items()):
        parts.append(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>')
        parts.append(f"<pre>{escape(json.dumps(schema, indent=2, sort_keys=True))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
