"""The console at scale: ``python -m benchmarks.console [--sessions N] [--events N] [--json]``.

Loads N sessions (default 1,000,000, through :func:`benchmarks.listing.load_sqlite`'s fast
path) into a fresh SQLite file, adds one weather session of ``--events`` events (default
100,000, written as the engine would: each update the fold of the last, 500 events per
update), starts the server's app under uvicorn on a free port, and opens the console in
Debian's headless Chromium (Playwright, ``executable_path``; never a browser download). Then,
``--repeat`` times each (default 5), it measures:

* **sessions list**: from navigating to ``#/sessions`` to the first page's rows in the page;
* **long session**: from navigating to the long session to its last event's row drawn (the
  timeline opens at the end) with its state and diagram;

each as the time to first render (median and worst) and the bytes the browser received for
that view (bodies and headers, from Playwright's ``request.sizes()``): ``cold`` is the first
visit in a fresh browser context (the console's own files included), ``warm`` the later ones
(its files revalidated with ``ETag``: 304s). Targets (issue 14): under 500 ms and under
200 KB each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.listing import load_sqlite
from benchmarks.table import grid
from dialoghub.engine.fold import apply, copy_session
from dialoghub.engine.records import Event
from dialoghub.hub import Hub
from dialoghub.stores import Write

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 500.0
TARGET_BYTES = 200_000


async def long_session(url: str, session_id: str, events: int, *, tenant: str = "default",
                       per_update: int = 500) -> None:
    """Add to the store at ``url`` a weather session whose log holds ``events`` more events
    (``variable_set`` of one counter), ``per_update`` per update, each snapshot the fold of
    the log so far: what the engine would write, without running it 100,000 times."""
    hub = Hub(url, migrate=True)
    hub.load_models(EXAMPLES / "weather")
    async with hub:
        session = (await hub.create_session("weather", session_id=session_id,
                                            tenant=tenant)).session
        for batch in range(events // per_update):
            work = copy_session(session)
            version = session.version + 1
            log = []
            for k in range(per_update):
                event = Event(seq=session.seq + 1 + k, version=version,
                              time=session.updated_at + batch, type="variable_set",
                              data={"name": "counter", "value": session.seq + 1 + k})
                work = apply(work, event)
                log.append(event)
            work.version, work.seq, work.updated_at = version, log[-1].seq, log[-1].time
            await hub.store.write(Write(work, log, session.version))
            session = work


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(store: str, keystore: Any, broadcast: str = "", **more: Any) -> Iterator[str]:
    """The app of ``dialoghub serve`` (the example models, ``keystore``'s keys, ``more``
    settings) under uvicorn in a thread, on a free port; yields its URL. tests/console runs
    its servers with it."""
    import uvicorn

    from dialoghub.server import Settings, create_app

    settings = Settings(store=store, models=(str(EXAMPLES / "*/"),), rate_limit=0,
                        broadcast=broadcast,
                        token_keys=("k1:0123456789abcdef0123456789abcdef",), **more)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, keystore=keystore),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on",
                                           # an open feed never ends by itself: do not wait
                                           # for it at shutdown
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _streaming(url: str) -> bool:
    return url.endswith("/v1/feed") or "/stream" in url


def _visit(page: Any, url: str, ready: str, mark: str) -> tuple[float, int]:
    """Navigate to ``url``; (ms from the navigation's start to the view's performance
    ``mark``, once ``ready`` is in the page; bytes the view received).

    The bytes are those of every request the view made, once all but its live streams
    (``/v1/feed``, ``.../stream``, which stay open by design and carry a few bytes until
    something changes) have finished."""
    started_requests: list[Any] = []
    finished: list[Any] = []

    def on_request(request: Any) -> None:
        if not _streaming(request.url):
            started_requests.append(request)

    def on_finished(request: Any) -> None:
        if not _streaming(request.url):
            finished.append(request)

    page.on("request", on_request)
    page.on("requestfinished", on_finished)
    page.on("requestfailed", on_finished)
    page.goto(url)
    page.wait_for_selector(ready)
    # The view's own mark, in the browser's clock from the navigation's start: what a person
    # waits, without the delay of Playwright's events reaching this process.
    took = float(page.evaluate(
        f"new Promise(done => {{ const look = () => {{ const m = performance.getEntriesByName("
        f"{json.dumps(mark)}); m.length ? done(m[0].startTime) : setTimeout(look, 10); }};"
        f" look(); }})"))
    # What the view waited on: each request's start, first byte and end on the same clock
    # (the page's own entry first), for --breakdown.
    page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " window.__waits = [['page', 0, n.responseStart, n.responseEnd],"
        " ...performance.getEntriesByType('resource').map(e =>"
        " [e.name, e.startTime, e.responseStart, e.responseEnd])]; }")
    deadline = time.monotonic() + 30
    while len(finished) < len(started_requests) and time.monotonic() < deadline:
        page.wait_for_timeout(20)  # let the browser deliver the remaining events
    for name, handler in (("request", on_request), ("requestfinished", on_finished),
                          ("requestfailed", on_finished)):
        page.remove_listener(name, handler)
    received = 0
    for request in finished:
        sizes = request.sizes()
        received += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    return took, received


Waits = dict[str, list[tuple[str, float, float, float]]]


def measure(base: str, key: str, long_id: str, last_seq: int,
            repeat: int) -> tuple[list[dict[str, Any]], Waits]:
    """Each view, cold then warm, in Chromium."""
    from playwright.sync_api import sync_playwright

    views = {
        "sessions list": ("#/sessions", "table.grid tbody tr", "dialoghub:sessions"),
        "long session": (f"#/session/{long_id}",
                         f".timeline .row[data-seq='{last_seq}'][data-ready='1']",
                         "dialoghub:timeline"),
    }
    rows: list[dict[str, Any]] = []
    waits: Waits = {}  # the last cold visit's
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name, (fragment, ready, mark) in views.items():
                cold: list[tuple[float, int]] = []
                warm: list[tuple[float, int]] = []
                for i in range(repeat):
                    context = browser.new_context()
                    # signed in as the sign-in form would leave the tab, before any script
                    context.add_init_script(
                        f"sessionStorage.setItem('dialoghub.key', {json.dumps(key)})")
                    page = context.new_page()
                    # a fresh context's first visit: the console's files come too (cold)
                    cold.append(_visit(page, f"{base}/console{fragment}", ready, mark))
                    waits[name] = [(str(n).replace(base, ""), *t) for n, *t in
                                   page.evaluate("window.__waits")] + [
                                   ("(first render)", cold[-1][0], cold[-1][0], cold[-1][0])]
                    page.goto("about:blank")
                    warm.append(_visit(page, f"{base}/console{fragment}", ready, mark))
                    context.close()
                    del i
                for kind, runs in (("cold", cold), ("warm", warm)):
                    times = [t for t, _ in runs]
                    rows.append({
                        "view": name, "visit": kind, "runs": len(runs),
                        "median_ms": statistics.median(times), "worst_ms": max(times),
                        "bytes": int(statistics.median(b for _, b in runs)),
                    })
        finally:
            browser.close()
    for row in rows:
        row["met"] = row["worst_ms"] < TARGET_MS and row["bytes"] < TARGET_BYTES
    return rows, waits


def breakdown(waits: Waits) -> str:
    """What the last cold visit of each view waited on: each request's start, first byte
    and end (ms from the navigation's start), in the order they started."""
    lines = []
    for view, entries in waits.items():
        lines += ["", f"{view}, last cold visit (ms from navigation start):",
                  f"  {'request':58} {'start':>7} {'1st byte':>9} {'end':>7}"]
        for name, start, first, end in sorted(entries, key=lambda e: e[1]):
            short = name if len(name) <= 58 else name[:55] + "..."
            lines.append(f"  {short:58} {start:7.0f} {first:9.0f} {end:7.0f}")
    return "\n".join(lines)


def table(result: dict[str, Any]) -> str:
    columns = [("view", 14), ("visit", 5), ("runs", 4), ("", 1), ("median ms", 10),
               ("worst ms", 9), ("KB received", 12), ("target met", 10)]
    cells = [[r["view"], r["visit"], str(r["runs"]), "", f"{r['median_ms']:.0f}",
              f"{r['worst_ms']:.0f}", f"{r['bytes'] / 1000:.1f}", "yes" if r["met"] else "NO"]
             for r in result["rows"]]
    head = (f"console: {result['sessions']:,} sessions in the store, a session of "
            f"{result['events']:,} events (SQLite; targets < {TARGET_MS:.0f} ms, "
            f"< {TARGET_BYTES // 1000} KB)")
    return "\n".join([head, "", *grid(columns, cells)])


def run(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which(CHROMIUM) is None:
        raise SystemExit(f"Chromium is needed at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "console.db"
        asyncio.run(load_sqlite(path, args.sessions))
        store = f"sqlite:///{path}"
        asyncio.run(long_session(store, "long-history", args.events))
        from dialoghub.server.auth import create_key
        from dialoghub.server.keystore import MemoryKeyStore

        keystore = MemoryKeyStore()
        key, _ = asyncio.run(create_key(keystore, "default", scopes=("read",)))
        if args.before:
            return {"sessions": args.sessions, "events": args.events,
                    "ab": _ab(store, keystore, key, args)}
        with serving(store, keystore) as base:
            last = _last_seq(base, key)
            rows, waits = measure(base, key, "long-history", last, args.repeat)
    return {"sessions": args.sessions, "events": args.events, "rows": rows, "waits": waits}


def _last_seq(base: str, key: str) -> int:
    import httpx

    seq: int = httpx.get(f"{base}/v1/sessions/long-history",
                         headers={"Authorization": f"Bearer {key}"}).json()["seq"]
    return seq


def _ab(store: str, keystore: Any, key: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Before/after/before/after on the same store: the console's files of ``args.before``
    (a console package folder, e.g. from ``git archive REV src/dialoghub/server/console``)
    and the working tree's, served in turn by this process."""
    import dialoghub.server.console as console

    runs = []
    try:
        for label in ("before", "after", "before", "after"):
            console._assets = None  # read the files again, from the other folder
            console._static_dir = Path(args.before) / "static" if label == "before" else None
            with serving(store, keystore) as base:
                rows, waits = measure(base, key, "long-history", _last_seq(base, key),
                                      args.repeat)
            runs.append({"label": label, "rows": rows, "waits": waits})
    finally:
        console._static_dir = None
        console._assets = None
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="directory for the SQLite file")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--before", default=None, metavar="DIR",
                        help="A/B: a console package folder of another revision, served in "
                        "turn with the working tree's (before, after, before, after)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print what the last cold visit of each view waited on")
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for run_ in result.get("ab", []):
        print(f"== {run_['label']}")
        print(table({**result, "rows": run_["rows"]}))
        if args.breakdown:
            print(breakdown(run_["waits"]))
    if "ab" in result:
        return
    print(table(result))
    if args.breakdown:
        print(breakdown(result["waits"]))


if __name__ == "__main__":
    main()
