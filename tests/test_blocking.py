"""The blocking faces (``dialoghub.blocking``): SyncHub, SyncClient and SyncAttachment have a
declared twin for every public name of Hub, Client and Attachment, with the same signature,
raise what the async side raised, iterate, run calls from many threads at once and leave no
loop thread behind; mypy sees the real signatures (tests/typing/faces.py)."""

from __future__ import annotations

import asyncio
import gc
import inspect
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from dialoghub import SyncHub, Text, errors
from dialoghub.blocking import BlockingFace
from dialoghub.client import APIError, Attachment, Client, SyncAttachment, SyncClient
from dialoghub.hub import Hub

from .conftest import EXAMPLES, ROOT

WEATHER = EXAMPLES / "weather"

# The lifecycle methods a face declares by hand: same parameters, its own return.
OWN_RETURN = {"open", "export_sessions", "attach", "audio", "round_events"}


def _public(cls: type, instance: object | None = None) -> set[str]:
    names = {n for n in dir(cls) if not n.startswith("_")}
    if instance is not None:
        names |= {n for n in vars(instance) if not n.startswith("_")}
    return names


def missing_twins(face: type, source: type, instance: object | None = None) -> list[str]:
    """The public names of ``source`` (its class and ``instance``) that ``face`` does not
    declare itself (nothing is looked up dynamically: a face has no ``__getattr__``)."""
    declared = {n for klass in face.__mro__ if klass is not object for n in vars(klass)}
    return sorted(_public(source, instance) - declared)


def _is_async(source: type, name: str) -> bool:
    member = inspect.getattr_static(source, name)
    if inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member):
        return True
    returns = inspect.signature(member).return_annotation if callable(member) else None
    return isinstance(returns, str) and returns.startswith("Async")


def _hub() -> Hub:
    return Hub("memory://")


def _client() -> Client:
    return Client("http://127.0.0.1:9")


PAIRS: list[tuple[type[BlockingFace[Any]], type, Any]] = [
    (SyncHub, Hub, _hub),
    (SyncClient, Client, _client),
    (SyncAttachment, Attachment, None),
]


@pytest.mark.parametrize(("face", "source", "make"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_every_public_name_has_a_declared_twin(face: type, source: type, make: Any) -> None:
    instance = make() if make else None
    assert missing_twins(face, source, instance) == []
    assert "__getattr__" not in {n for k in face.__mro__ for n in vars(k)}
    for name in _public(source):
        twin = inspect.getattr_static(face, name)
        if _is_async(source, name):
            assert callable(twin) and not inspect.iscoroutinefunction(twin), name


def test_the_check_fails_when_the_hub_or_the_client_grows() -> None:
    class BiggerHub(Hub):
        async def summarize(self, session_id: str) -> str:
            return session_id

    class BiggerClient(Client):
        async def summarize(self, session_id: str) -> str:
            return session_id

    assert missing_twins(SyncHub, BiggerHub, _hub()) == ["summarize"]
    assert missing_twins(SyncClient, BiggerClient, _client()) == ["summarize"]


@pytest.mark.parametrize(("face", "source", "make"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_twins_have_the_signatures_of_the_async_methods(face: type, source: type, make: Any) -> None:
    for name in sorted(_public(source)):
        member = inspect.getattr_static(source, name)
        if not callable(member):
            continue  # a property: its value is checked by the faces tests below
        theirs = inspect.signature(getattr(source, name))
        ours = inspect.signature(getattr(face, name))
        assert list(ours.parameters.values()) == list(theirs.parameters.values()), name
        if name not in OWN_RETURN:
            assert ours.return_annotation == theirs.return_annotation, name
        assert getattr(face, name).__doc__, name
    if face is not SyncAttachment:  # the constructors take what the async ones take
        theirs = inspect.signature(source.__init__)
        assert inspect.signature(face.__init__) == theirs


def test_a_bound_twin_shows_the_parameters_without_self() -> None:
    with SyncHub("memory://") as hub:
        assert str(inspect.signature(hub.create_session)) == str(
            inspect.signature(Hub("memory://").create_session)
        )
        assert hub.create_session.__doc__ == Hub.create_session.__doc__
        returns = inspect.signature(hub.export_sessions).return_annotation
        assert returns == "Iterator[tuple[Session, list[Event]]]"
        assert inspect.signature(SyncClient.attach).return_annotation == "SyncAttachment"
        assert inspect.signature(SyncClient.audio).return_annotation == "SyncAudioSocket"
        assert inspect.signature(SyncClient.round_events).return_annotation == (
            "Iterator[dict[str, Any]]")


def test_the_sync_face_keeps_the_hubs_attributes_and_plain_methods(tmp_path: Path) -> None:
    with SyncHub("memory://", idempotency_retention=60.0) as hub:
        assert hub.load_models(WEATHER)[0].id == "weather"
        assert list(hub.models) == ["weather"] and hub.model("weather").id == "weather"
        assert hub.default_model == "weather" and hub.idempotency_retention == 60.0
        assert hub.store is hub.hub.store
        hub.default_model = None
        assert hub.hub.default_model is None
        with pytest.raises(AttributeError, match="read-only"):
            hub.models = {}  # type: ignore[assignment]
        assert isinstance(hub.now(), float)
        view = hub.start_detached("weather")
        assert view.replies and hub.step_detached(view.session, Text(text="hello")).replies
        assert "process_text" in dir(hub)


# --- exceptions ---------------------------------------------------------------------------


def test_exceptions_come_through_with_their_class_and_attributes() -> None:
    with SyncHub("memory://") as hub:
        hub.load_models(WEATHER)
        hub.create_session("weather", session_id="s")
        with pytest.raises(errors.SessionNotFound) as missing:
            hub.process_text("ghost", "hello")
        assert missing.value.session_id == "ghost"
        hub.process_text("s", "hello")
        with pytest.raises(errors.VersionConflict) as conflict:
            hub.process_text("s", "hello", expected_version=1)
        assert type(conflict.value) is errors.VersionConflict
        assert (conflict.value.expected, conflict.value.actual) == (1, 2)
        with pytest.raises(errors.InvalidInput, match="limit"):
            hub.list_sessions(limit=0)

        boom = errors.IdempotencyKeyReused("s", "k")

        async def fails(*args: Any, **kwargs: Any) -> None:
            raise boom

        hub.hub.purge = fails  # type: ignore[method-assign]  # a twin calls by name
        with pytest.raises(errors.IdempotencyKeyReused) as same:
            hub.purge(older_than=0)
        assert same.value is boom


def test_client_errors_come_through_as_api_errors() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(404, json={"code": "session_not_found", "message": "no s",
                                         "details": {"session_id": "s"}})

    with SyncClient("http://test", api_key="k", transport=httpx.MockTransport(answer)) as c:
        assert c.health() is True and c.base_url == "http://test" and c.api_key == "k"
        with pytest.raises(APIError) as info:
            c.get_session("s", at=3)
        assert (info.value.status, info.value.code) == (404, "session_not_found")
        assert info.value.details == {"session_id": "s"}


# --- iterators ----------------------------------------------------------------------------


def test_export_sessions_is_a_blocking_iterator() -> None:
    with SyncHub("memory://") as hub:
        hub.load_models(WEATHER)
        for n in range(5):
            hub.create_session("weather", session_id=f"s{n}")
        hub.process_text("s1", "hello")
        exported = {s.id: len(events) for s, events in hub.export_sessions(page_size=2)}
        assert list(exported) == [f"s{n}" for n in range(5)]
        assert exported["s1"] > exported["s0"]
        with pytest.raises(errors.InvalidInput):  # checked when called, like the Hub's
            hub.export_sessions(page_size=0)
        partial = hub.export_sessions(page_size=1)
        assert isinstance(partial, Iterator)
        assert next(partial)[0].id == "s0"
        partial.close()  # closes the async generator on the loop
        assert list(partial) == []
        assert [s.id for s, _ in hub.export_sessions(model="nothing")] == []


# --- threads and closing ------------------------------------------------------------------


def _portal_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_close_stops_the_portal_thread() -> None:
    before = len(_portal_threads("dialoghub-sync"))
    hub = SyncHub("memory://")
    assert len(_portal_threads("dialoghub-sync")) == before + 1
    hub.open()
    hub.close()
    assert len(_portal_threads("dialoghub-sync")) == before
    assert hub.closed
    hub.close()  # again: nothing
    with pytest.raises(RuntimeError, match="stopped"):
        hub.get_session("s")

    with SyncHub("memory://") as other:
        assert len(_portal_threads("dialoghub-sync")) == before + 1
    assert other.closed and len(_portal_threads("dialoghub-sync")) == before


def test_a_failed_constructor_leaves_no_thread() -> None:
    before = len(_portal_threads("dialoghub-sync"))
    with pytest.raises(errors.StoreConfigError):
        SyncHub("nope://x")
    with pytest.raises(errors.InvalidInput):
        SyncHub("memory://", idempotency_retention=-1)
    assert len(_portal_threads("dialoghub-sync")) == before


def test_an_unclosed_face_is_closed_when_collected() -> None:
    closed: list[bool] = []
    before = len(_portal_threads("dialoghub-sync"))
    hub = SyncHub("memory://")
    hub.open()
    store = hub.store
    original = store.close

    async def close() -> None:
        closed.append(True)
        await original()

    store.close = close  # type: ignore[method-assign]
    del hub
    gc.collect()
    assert closed == [True]
    assert len(_portal_threads("dialoghub-sync")) == before


def test_no_thread_is_left_at_interpreter_exit(tmp_path: Path) -> None:
    script = (
        "from dialoghub import SyncHub\n"
        "from dialoghub.client import SyncClient\n"
        f"hub = SyncHub('sqlite:///{tmp_path / 'exit.db'}').open()\n"
        f"hub.load_models({str(WEATHER)!r})\n"
        "hub.create_session('weather', session_id='kept')\n"
        "store = hub.store\n"
        "original = store.close\n"
        "async def close():\n"
        "    print('store closed', flush=True)\n"
        "    await original()\n"
        "store.close = close\n"
        "client = SyncClient('http://127.0.0.1:9')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "store closed\n" and done.stderr == ""
    with SyncHub(f"sqlite:///{tmp_path / 'exit.db'}") as hub:
        assert hub.get_session("kept").version == 1


def test_many_threads_share_one_face() -> None:
    with SyncHub("memory://") as hub:
        hub.load_models(WEATHER)

        def converse(n: int) -> list[str]:
            hub.create_session("weather", session_id=f"t{n}")
            return hub.process_text(f"t{n}", "hello").replies

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(converse, range(40)))
        assert answers == [["Hello! Ask me about the weather in any city."]] * 40
        assert len(hub.list_sessions(limit=100).sessions) == 40

        # The calls of different threads run at once on the loop, not one after the other.
        # Counted, not timed: the most calls in flight on the loop at one moment.
        in_flight, most = 0, 0

        async def slow(*args: Any, **kwargs: Any) -> int:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            try:
                await asyncio.sleep(0.3)
            finally:
                in_flight -= 1
            return 0

        hub.hub.purge = slow  # type: ignore[method-assign]
        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(lambda _: hub.purge(older_than=0), range(6))) == [0] * 6
        assert most >= 2, "the calls of different threads ran one after the other"


def test_close_lets_calls_under_way_finish_and_cancels_the_stuck_ones() -> None:
    async def slow(*args: Any, **kwargs: Any) -> int:
        await asyncio.sleep(0.3)
        return 7

    async def stuck(*args: Any, **kwargs: Any) -> int:
        await asyncio.sleep(3600)
        return 0

    def purge(hub: SyncHub) -> object:
        try:
            return hub.purge(older_than=0)
        except RuntimeError as exc:
            return str(exc)

    stopped = "the 'dialoghub-sync' loop was stopped before this call finished"
    for method, grace, outcome in ((slow, 5.0, 7), (stuck, 0.2, stopped)):
        hub = SyncHub("memory://")
        hub.open()
        hub.hub.purge = method  # type: ignore[method-assign]
        hub._portal.stop_grace = grace
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(purge, hub)
            time.sleep(0.1)
            hub.close()
            assert result.result(timeout=10) == outcome


def test_an_attachment_shares_its_clients_loop() -> None:
    before = len(_portal_threads("dialoghub-client"))
    with SyncClient("http://127.0.0.1:9") as c:
        attachment = SyncAttachment(c, _FakeAttachment())  # type: ignore[arg-type]
        assert attachment.receive() == {"type": "attached"}
        with attachment:
            pass
        assert attachment.closed and len(_portal_threads("dialoghub-client")) == before + 1
    assert len(_portal_threads("dialoghub-client")) == before


class _FakeAttachment:
    async def receive(self) -> dict[str, Any]:
        return {"type": "attached"}

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> _FakeAttachment:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# --- what mypy sees -----------------------------------------------------------------------


def test_mypy_sees_the_real_signatures() -> None:
    """tests/typing/faces.py: every ``# E: code`` line gets that error, no other line any."""
    path = Path(__file__).parent / "typing" / "faces.py"
    expected = {
        (n, m.group(1))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (m := re.search(r"# E: ([a-z-]+)$", line))
    }
    # The project's config (strict) and its incremental cache: a few seconds once warm.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes",
         str(path.relative_to(ROOT))],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    found = {
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"^[^:]+:(\d+): error: .*\[([a-z-]+)\]$", done.stdout, re.M)
    }
    assert found == expected, done.stdout + done.stderr
    revealed = {
        n: m.group(1)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.lstrip().startswith("reveal_type(") and (m := re.search(r"# R: (.+)$", line))
    }
    assert revealed
    for n, text in revealed.items():
        note = re.search(rf"^[^:]+:{n}: note: Revealed type is \"(.+)\"$", done.stdout, re.M)
        assert note and note.group(1).startswith(text), done.stdout
