"""Blocking faces of async objects: one mechanism under :class:`~dialoghub.SyncHub` and
:class:`~dialoghub.client.SyncClient`.

A face owns a :class:`Portal`, an event loop running in a daemon thread of its own (anyio's
blocking portal), builds its async object there and touches it only there: every call from
a plain thread (or from several at once) is sent to the loop and waited for. The face
declares each public name of the async object once, so editors and mypy see the real
signatures and there is no ``__getattr__`` guessing::

    class SyncHub(BlockingFace[Hub]):
        create_session = blocking(Hub.create_session)        # async method -> blocking
        export_sessions = blocking_iter(Hub.export_sessions)  # async iterator -> iterator
        load_models = on_loop(Hub.load_models)                # plain method, on the loop
        store: attribute[Store] = attribute()                 # attribute, read and set there
        models: readonly[dict[str, Model]] = readonly()       # read-only property

``blocking(Hub.create_session)`` is typed ``Callable[Concatenate[Any, P], Awaitable[T]] ->
Callable[Concatenate[Any, P], T]``: ``SyncHub(...).create_session`` has the parameters of
``Hub.create_session`` and returns what it returns; ``inspect.signature`` agrees (the twin
carries ``__wrapped__``, its docstring is the async method's). A twin calls the method by
name on the object, so an override or a patched instance is honoured.

Exceptions come through unchanged: the very exception object the coroutine raised (same
class, same attributes), its traceback continued by the caller's frames.

The async object is an async context manager: ``with face`` runs its ``__aenter__`` and
``__aexit__``; :meth:`BlockingFace.close` runs ``__aexit__(None, None, None)`` (the Hub and
the Client close there, whether or not they were entered) and then stops the portal's
thread. A face that is never closed is closed the same way when it is garbage collected or
at interpreter exit, so no loop thread is left behind; at exit this runs before Python joins
its threads and before ``concurrent.futures`` stops taking work, so that a store can still
close through its threads. A face may share the portal of another (an attachment of a
client): closing it closes its object only.

An async iterator becomes a blocking one that fetches each item when asked (no read-ahead)
and closes the async iterator (``aclose``) when dropped early; each step runs as a task of
its own, so the iterator must not hold a task-bound resource (a cancel scope) across yields,
which async generators over a store do not.
"""

from __future__ import annotations

import atexit
import concurrent.futures.thread  # noqa: F401  (see _close_all)
import functools
import inspect
import itertools
import threading
import traceback
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import (
    Any,
    Concatenate,
    Generic,
    Never,
    ParamSpec,
    Protocol,
    Self,
    TypeVar,
    cast,
    overload,
)

from anyio import CancelScope, from_thread
from anyio.from_thread import start_blocking_portal
from anyio.lowlevel import current_token

__all__ = [
    "BlockingFace",
    "Portal",
    "attribute",
    "blocking",
    "blocking_iter",
    "on_loop",
    "readonly",
]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
T_co = TypeVar("T_co", covariant=True)
A = TypeVar("A")

_Exc = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
_NO_EXC: _Exc = (None, None, None)


class Portal:
    """An event loop in a daemon thread named ``name``, and the calls sent to it.

    anyio's blocking portal owns the thread and the loop; each call goes to that loop with
    ``anyio.from_thread.run`` (or ``run_sync``) and the loop's token, one hop each way."""

    #: Seconds :meth:`stop` waits for the calls under way (a receive on a socket that
    #: nobody closes would wait forever).
    stop_grace = 5.0

    def __init__(self, name: str) -> None:
        self.name = name
        self._cm = start_blocking_portal(name=name)
        portal = self._cm.__enter__()
        self._token = portal.call(current_token)
        #: The loop's thread (alive until :meth:`stop`).
        self.thread: threading.Thread = portal.call(threading.current_thread)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0  # calls under way, which stop() lets finish
        self._scopes: set[CancelScope] = set()  # those awaiting on the loop
        self._stopped = False

    @property
    def running(self) -> bool:
        """True until :meth:`stop`."""
        return not self._stopped

    def in_loop(self) -> bool:
        """True when called from the loop's own thread (where waiting would deadlock)."""
        return threading.current_thread() is self.thread

    def call(self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``func(*args, **kwargs)`` as a task of the loop; its result, or its
        exception (the very object raised)."""
        self._enter()
        try:
            return from_thread.run(
                self._awaited, functools.partial(func, *args, **kwargs), token=self._token
            )
        finally:
            self._leave()

    def run_sync(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the plain function ``func(*args, **kwargs)`` on the loop's thread."""
        self._enter()
        try:
            return from_thread.run_sync(
                functools.partial(func, *args, **kwargs), token=self._token
            )
        finally:
            self._leave()

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        """A blocking iterator over ``iterator``: one loop call per item, ``aclose`` at the
        end (or when the blocking iterator is closed or dropped early)."""
        try:
            while True:
                more, item = self.call(_step, iterator)
                if not more:
                    return
                yield cast(T, item)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None and self.running and not self.in_loop():
                self.call(aclose)

    def stop(self) -> None:
        """Refuse new calls, give those under way :attr:`stop_grace` seconds to finish (the
        ones still running then are cancelled: their callers get a RuntimeError), stop the
        loop and join its thread; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            if not self._idle.wait_for(lambda: self._busy == 0, timeout=self.stop_grace):
                from_thread.run_sync(self._cancel_all, token=self._token)
                self._idle.wait_for(lambda: self._busy == 0, timeout=self.stop_grace)
        self._cm.__exit__(None, None, None)

    async def _awaited(self, func: Callable[[], Awaitable[T]]) -> T:
        with CancelScope() as scope:  # the loop thread only touches _scopes
            self._scopes.add(scope)
            try:
                return await func()
            finally:
                self._scopes.discard(scope)
        raise RuntimeError(f"the {self.name!r} loop was stopped before this call finished")

    def _cancel_all(self) -> None:
        for scope in self._scopes:
            scope.cancel()

    def _enter(self) -> None:
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"the {self.name!r} loop is stopped (the face was closed)")
            self._busy += 1

    def _leave(self) -> None:
        with self._lock:
            self._busy -= 1
            if not self._busy:
                self._idle.notify_all()


async def _step(iterator: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return True, await anext(iterator)
    except StopAsyncIteration:
        return False, None


#: The faces not closed yet, by creation: closed at exit, newest first.
_live: dict[int, weakref.finalize[Any, Any]] = {}
_keys = itertools.count()


def _close_all() -> None:
    for key in reversed(list(_live)):
        finalizer = _live.pop(key, None)
        try:
            if finalizer is not None:
                finalizer()
        except Exception:  # one that fails to close does not keep the others open
            traceback.print_exc()


# Before threading joins its threads and before concurrent.futures (imported above so that
# its own hook, registered first, runs after this one) shuts its pools: a Hub's store may
# still need them to close. atexit, the fallback, runs after both.
getattr(threading, "_register_atexit", atexit.register)(_close_all)


def _finish(portal: Portal, target: Any, owned: bool, key: int, exc: _Exc = _NO_EXC) -> bool:
    """Exit ``target``'s async context on ``portal``; stop the portal if the face owns it."""
    _live.pop(key, None)
    if portal.in_loop():  # collected on the loop thread itself: it cannot wait for itself
        threading.Thread(target=_finish, args=(portal, target, owned, key, exc)).start()
        return False
    try:
        if portal.running:
            return bool(portal.call(target.__aexit__, exc[0], exc[1], exc[2]))
        return False
    finally:
        if owned:
            portal.stop()


class BlockingFace(Generic[A]):
    """The blocking face of one async object ``A`` (an async context manager) built by
    ``build`` on a portal of its own named ``name``, or on the shared ``portal``."""

    _portal: Portal
    _target: A

    def __init__(
        self, build: Callable[[], A], *, name: str | None = None, portal: Portal | None = None
    ) -> None:
        owned = portal is None
        if portal is None:
            portal = Portal(name or type(self).__name__)
        try:
            target = portal.run_sync(build)  # built on the loop: what it creates is the loop's
        except BaseException:
            if owned:
                portal.stop()
            raise
        self._portal = portal
        self._target = target
        key = next(_keys)
        self._finalizer = weakref.finalize(self, _finish, portal, target, owned, key)
        _live[key] = self._finalizer

    @property
    def closed(self) -> bool:
        """True once :meth:`close` (or ``with``) has closed the object."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Close the async object (its ``__aexit__``) and stop the portal if it is ours."""
        self._exit(_NO_EXC)

    def __enter__(self) -> Self:
        self._portal.call(self._target.__aenter__)  # type: ignore[attr-defined]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self._exit((exc_type, exc, tb))

    def _exit(self, exc: _Exc) -> bool:
        detached = self._finalizer.detach()  # at most once, whichever thread comes first
        if detached is None:
            return False
        portal, target, owned, key = detached[2]
        return _finish(portal, target, owned, key, exc)

    def __repr__(self) -> str:
        closed = " (closed)" if self.closed else ""
        return f"<{type(self).__name__} of {self._target!r}{closed}>"


def _dress(twin: Callable[..., Any], method: Callable[..., Any], returns: Any = None) -> None:
    """Give ``twin`` the name, docstring and signature of ``method`` (``returns`` replacing
    its return annotation if given)."""
    functools.update_wrapper(twin, method)
    if returns is not None:
        signature = inspect.signature(method)
        twin.__signature__ = signature.replace(  # type: ignore[attr-defined]
            return_annotation=returns
        )
        twin.__annotations__ = {**twin.__annotations__, "return": returns}


# Each decorator takes a method in one of two shapes: ``Concatenate[Any, P]`` (the first
# parameter positional-only, or no ``**kwargs``) or a protocol whose first parameter is named
# ``self``: mypy refuses a method with ``**kwargs`` and a plain ``self`` as the first shape
# (python/mypy#19051: ``self=`` could then come through the kwargs), and the second shape
# takes those. Either way the twin is ``Callable[Concatenate[Any, P], ...]``, bound by mypy
# like a method, so ``face.method`` shows the parameters of the async one.


class _AsyncMethod(Protocol[P, T_co]):
    def __call__(_, self: Any, *args: P.args, **kwargs: P.kwargs) -> Awaitable[T_co]: ...


class _IterMethod(Protocol[P, T_co]):
    def __call__(_, self: Any, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T_co]: ...


class _PlainMethod(Protocol[P, T_co]):
    def __call__(_, self: Any, *args: P.args, **kwargs: P.kwargs) -> T_co: ...


@overload
def blocking(
    method: Callable[Concatenate[Any, P], Awaitable[T]], /
) -> Callable[Concatenate[Any, P], T]: ...


@overload
def blocking(method: _AsyncMethod[P, T], /) -> Callable[Concatenate[Any, P], T]: ...


@overload
def blocking(
    method: Callable[Concatenate[Any, P], Awaitable[T]], /, *, wrap: Callable[[Any, T], R]
) -> Callable[Concatenate[Any, P], R]: ...


@overload
def blocking(
    method: _AsyncMethod[P, T], /, *, wrap: Callable[[Any, T], R]
) -> Callable[Concatenate[Any, P], R]: ...


def blocking(
    method: Callable[..., Awaitable[Any]],
    /,
    *,
    wrap: Callable[[Any, Any], Any] | None = None,
) -> Callable[..., Any]:
    """The blocking twin of the async ``method``: same parameters, its awaited result (or
    ``wrap(face, result)``, e.g. a blocking face of an object the method returns)."""
    name = method.__name__

    def twin(self: BlockingFace[Any], /, *args: Any, **kwargs: Any) -> Any:
        result = self._portal.call(getattr(self._target, name), *args, **kwargs)
        return result if wrap is None else wrap(self, result)

    _dress(twin, method, None if wrap is None else _annotation_of(wrap))
    return twin


@overload
def blocking_iter(
    method: Callable[Concatenate[Any, P], AsyncIterator[T]], /
) -> Callable[Concatenate[Any, P], Iterator[T]]: ...


@overload
def blocking_iter(method: _IterMethod[P, T], /) -> Callable[Concatenate[Any, P], Iterator[T]]: ...


def blocking_iter(method: Callable[..., AsyncIterator[Any]], /) -> Callable[..., Iterator[Any]]:
    """The blocking twin of ``method`` returning an async iterator: same parameters (checked
    when called, as the method checks them), a blocking iterator (see :meth:`Portal.iterate`)."""
    name = method.__name__

    def twin(self: BlockingFace[Any], /, *args: Any, **kwargs: Any) -> Iterator[Any]:
        iterator = self._portal.run_sync(getattr(self._target, name), *args, **kwargs)
        return self._portal.iterate(iterator)

    _dress(twin, method, _sync_iterator(inspect.signature(method).return_annotation))
    return twin


@overload
def on_loop(method: Callable[Concatenate[Any, P], T], /) -> Callable[Concatenate[Any, P], T]: ...


@overload
def on_loop(method: _PlainMethod[P, T], /) -> Callable[Concatenate[Any, P], T]: ...


def on_loop(method: Callable[..., Any], /) -> Callable[..., Any]:
    """A plain method of the object, run on the loop's thread (where the object lives)."""
    name = method.__name__

    def twin(self: BlockingFace[Any], /, *args: Any, **kwargs: Any) -> Any:
        return self._portal.run_sync(getattr(self._target, name), *args, **kwargs)

    _dress(twin, method)
    return twin


class _Forwarded(Generic[T]):
    name: str

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, face: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, face: BlockingFace[Any], owner: type | None = None) -> T: ...

    def __get__(self, face: BlockingFace[Any] | None, owner: type | None = None) -> Any:
        if face is None:
            return self
        return face._portal.run_sync(getattr, face._target, self.name)


class readonly(_Forwarded[T]):
    """A read-only attribute (or property) of the object, read on the loop's thread:
    ``models: readonly[dict[str, Model]] = readonly()``."""

    def __set__(self, face: BlockingFace[Any], value: Never) -> None:
        raise AttributeError(f"{type(face).__name__}.{self.name} is read-only")


class attribute(_Forwarded[T]):
    """An attribute of the object, read and set on the loop's thread:
    ``store: attribute[Store] = attribute()``."""

    def __set__(self, face: BlockingFace[Any], value: T) -> None:
        face._portal.run_sync(setattr, face._target, self.name, value)


def _annotation_of(wrap: Callable[..., Any]) -> Any:
    if isinstance(wrap, type):
        return wrap.__name__
    return inspect.signature(wrap).return_annotation


def _sync_iterator(annotation: Any) -> Any:
    """``AsyncIterator[X]`` -> ``Iterator[X]`` (also as a string annotation)."""
    if isinstance(annotation, str):
        for prefix in ("AsyncIterator[", "AsyncGenerator[", "AsyncIterable["):
            if annotation.startswith(prefix):
                inner = annotation[len(prefix) : -1]
                if prefix == "AsyncGenerator[":
                    inner = inner.rsplit(",", 1)[0]
                return f"Iterator[{inner}]"
        return "Iterator[Any]"
    args = getattr(annotation, "__args__", None)
    return Iterator[args[0]] if args else Iterator[Any]  # type: ignore[valid-type]
