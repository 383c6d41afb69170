"""The /docs page: descriptions rendered from Markdown (escaped first), and error rows that
say what each status means for that route."""

from __future__ import annotations

import re

from dialoghub.server import Settings, create_app
from dialoghub.server.docs_page import markdown, render_docs


def _page() -> str:
    app = create_app(Settings(store="memory://", auth=True))
    return render_docs(app.state.openapi)


def _operation(page: str, method: str, path: str) -> str:
    start = page.index(f'<span class="m {method}">{method.upper()}</span> <code>{path}</code>')
    return page[start : page.index("</div>\n", page.index("<table", start))]


def test_markdown_inline_and_escaped() -> None:
    assert markdown("Send `Authorization: Bearer <key>` **now**, *once*.") == (
        "Send <code>Authorization: Bearer &lt;key&gt;</code> <strong>now</strong>, <em>once</em>."
    )
    assert markdown("see [the guide](/docs#x) or [this](https://example.com/a)") == (
        'see <a href="/docs#x">the guide</a> or <a href="https://example.com/a">this</a>'
    )
    # no way to inject markup or a script link
    assert markdown("<b>x</b> [x](javascript:alert(1))") == (
        "&lt;b&gt;x&lt;/b&gt; [x](javascript:alert(1))"
    )
    assert markdown("`**not bold**` and 2 * 3 * 4") == "<code>**not bold**</code> and 2 * 3 * 4"
    assert markdown("one\n\ntwo") == "one</p><p>two"


def test_the_page_shows_no_raw_backticks() -> None:
    page = _page()
    text = re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)  # schemas are JSON, kept as is
    assert "`" not in text
    assert "<code>Authorization: Bearer &lt;API key&gt;</code>" in page


def test_error_rows_are_per_route() -> None:
    page = _page()
    inputs = _operation(page, "post", "/v1/sessions/{session_id}/inputs")
    listing = _operation(page, "get", "/v1/sessions")
    assert "No session <code>{session_id}</code> in the tenant of the API key." in inputs
    assert "The session moved on" in inputs
    assert "the session cannot take it now" in inputs
    assert "No session <code>" not in listing
    assert "A query or path parameter cannot be read." in listing
    rows = lambda op: re.findall(r"<tr><td>(\d{3})</td><td>(.*?)</td>", op)  # noqa: E731
    assert dict(rows(inputs))["404"] != dict(rows(listing)).get("404")
