"""Running one round: the planner's moves, the plugins' posts, the events, the records.

:func:`run_round` takes a round that the session has accepted (its ``round_started`` record
is stored), gives its planner a :class:`Turn`, and ends it: finished with the planner's reply,
failed (a plugin or the planner raised: ``round_error`` then ``round_end``), or cancelled
(a stop was asked: the round ends after the step it was in). It never raises for any of
these: the caller gets the ended :class:`~dialoghub.agent.rounds.Round`.

Each plugin call is one post (the plugin to the planner): ``post_start``, the plugin's live
``post_status`` / ``post_message`` / ``post_attachment`` / ``session_variable`` events, then the
post is stored with the variables it set, in one update, and ``post_end`` is emitted. The
final reply is the planner's post to the user, stored with the round's end. So a round
writes 2 + (plugin calls) updates, whatever it streamed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from dialoghub.agent.events import EVENT_SCOPES, AgentEvent, EventHandler, EventType, deliver
from dialoghub.agent.plugins import PluginContext, Plugins
from dialoghub.agent.rounds import Post, Round, RoundStatus
from dialoghub.errors import AgentError, PluginFailed, RoundCancelled

if TYPE_CHECKING:
    from dialoghub.agent.live import LiveLog

__all__ = ["MAX_EVENTS_PER_ROUND", "Planner", "Turn", "run_round"]

log = logging.getLogger("dialoghub.agent")

#: A round that emits more live events than this fails (and a restarted process numbers
#: its events from the last stored number plus this, so no number is ever given twice).
MAX_EVENTS_PER_ROUND = 1_000_000

#: Stores a record of the round: (kind, data, variables) -> None.
Record = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[None]]


class Planner(Protocol):
    """What drives a round: reads the turn, calls plugins through it, returns the reply."""

    async def run(self, turn: Turn) -> str:
        """Play the round; the returned text is the final reply to the user."""
        ...


class Turn:
    """A planner's view of the round it plays."""

    def __init__(
        self,
        round: Round,
        *,
        tenant: str,
        plugins: Plugins,
        variables: dict[str, Any],
        log: LiveLog,
        handler: EventHandler | None,
        record: Record,
        workspace: Path | None,
        write_file: Callable[[str, bytes], str] | None,
        history: list[Round] | None = None,
    ) -> None:
        self.round = round
        self.session_id = round.session_id
        self.tenant = tenant
        self.message = round.user_message
        self.files = list(round.files)
        self.plugins = plugins
        self.variables = variables  # the round's working copy of the session's variables
        self.history = history or []
        self.workspace = workspace
        self._log = log
        self._handler = handler
        self.record = record
        self._write_file = write_file
        self._emitted = 0
        self.cancel_requested = False
        self.timed_out: float | None = None  # the timeout (s) that stopped the round
        self._reply_post: str | None = None
        self._reply_parts: list[str] = []
        self._queue: asyncio.Queue[tuple[str, str, dict[str, Any], str | None]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- events ---------------------------------------------------------------------------

    async def emit(
        self,
        type: EventType,
        message: str = "",
        data: dict[str, Any] | None = None,
        *,
        post_id: str | None = None,
        is_end: bool = False,
        seq: int | None = None,
        at: float | None = None,
    ) -> AgentEvent:
        """Number, keep, publish and hand one event to the handler (``at``: the time of the
        stored record it stands for, so a follower reading it back from the store sees the
        same event)."""
        self._emitted += 1
        if self._emitted > MAX_EVENTS_PER_ROUND:
            raise AgentError(f"the round emitted more than {MAX_EVENTS_PER_ROUND} events")
        event = AgentEvent(
            seq=seq if seq is not None else self._log.next_seq(),
            time=at if at is not None else time.time(),
            type=type,
            scope=EVENT_SCOPES[type],
            session_id=self.session_id,
            round_id=self.round.id,
            post_id=post_id,
            message=message,
            is_end=is_end,
            data=data or {},
        )
        self._log.publish(event)
        await deliver(self._handler, event)
        return event

    def _check(self) -> None:
        if self.cancel_requested:
            raise RoundCancelled("the round was cancelled", round_id=self.round.id)

    # --- what a planner does --------------------------------------------------------------

    async def call(self, plugin: str, args: dict[str, Any] | None = None) -> Any:
        """Run plugin ``plugin`` with ``args`` as one post; its result. A plugin that raises
        fails the round (PluginFailed, which the round records; a planner need not catch it)."""
        self._check()
        args = dict(args or {})
        spec = self.plugins.get(plugin)
        post = Post(id=uuid.uuid4().hex[:16], send_from=plugin, send_to="planner", args=args)
        await self.emit(
            EventType.POST_START,
            "",
            {"send_from": plugin, "send_to": "planner", "args": args},
            post_id=post.id,
        )
        ctx = PluginContext(
            session_id=self.session_id,
            tenant=self.tenant,
            plugin=plugin,
            variables=self.variables,
            workspace=self.workspace,
            emit=self._thread_safe_emit(post.id),
            write_file=self._write_file,
        )
        error: str | None = None
        result: Any = None
        drain = asyncio.create_task(self._drain())
        try:
            call_args = (ctx,) if spec.takes_context else ()
            if spec.is_async:
                result = await spec.fn(*call_args, **args)
            else:
                result = await asyncio.to_thread(spec.fn, *call_args, **args)
            msgspec.msgpack.encode(result)  # what cannot be stored cannot be a result
        except (TypeError, OverflowError) as exc:
            error = f"plugin {plugin!r} failed: {exc}"
        except Exception as exc:
            error = f"plugin {plugin!r} failed: {type(exc).__name__}: {exc}"
        finally:
            self._queue_put(("", "", {}, None))  # the drain's end
            await drain
        post.message = "".join(ctx.message_parts)
        post.attachments = list(ctx.attachments)
        if error is not None:
            post.status, post.error, result = "failed", error, None
        else:
            post.result = result
        seq = self._log.next_seq()
        await self.record(
            "post",
            {"round": self.round.id, "seq": seq, "post": msgspec.to_builtins(post)},
            dict(ctx.changed),
        )
        self.round.posts.append(post)
        await self.emit(
            EventType.POST_END,
            post.message,
            {"post": msgspec.to_builtins(post)},
            post_id=post.id,
            seq=seq,
        )
        if error is not None:
            raise PluginFailed(error, plugin=plugin)
        self._check()
        return result

    async def say(self, chunk: str) -> None:
        """Stream a chunk of the final reply to the user."""
        self._check()
        if self._reply_post is None:
            self._reply_post = uuid.uuid4().hex[:16]
            await self.emit(
                EventType.POST_START,
                "",
                {"send_from": "planner", "send_to": "user"},
                post_id=self._reply_post,
            )
        self._reply_parts.append(chunk)
        await self.emit(EventType.POST_MESSAGE, chunk, post_id=self._reply_post)

    async def status(self, text: str) -> None:
        """A progress line of the planner (not stored)."""
        await self.emit(EventType.POST_STATUS, text, post_id=self._reply_post)

    # --- plumbing -------------------------------------------------------------------------

    def _queue_put(self, item: tuple[str, str, dict[str, Any], str | None]) -> None:
        assert self._queue is not None and self._loop is not None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._queue.put_nowait(item)
        else:  # a sync plugin in its worker thread
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _thread_safe_emit(self, post_id: str) -> Callable[[str, str, dict[str, Any]], None]:
        self._queue = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

        def emit(kind: str, message: str, data: dict[str, Any]) -> None:
            self._queue_put((kind, message, data, post_id))

        return emit

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            kind, message, data, post_id = await self._queue.get()
            if not kind:
                return
            await self.emit(EventType(kind), message, data, post_id=post_id)

    async def finish_reply(self, reply: str) -> Post:
        """The reply post: what was streamed with :meth:`say`, else ``reply`` as one chunk."""
        if self._reply_post is None:
            await self.say(reply)
        assert self._reply_post is not None
        text = "".join(self._reply_parts)
        await self.emit(EventType.POST_MESSAGE, "", post_id=self._reply_post, is_end=True)
        return Post(id=self._reply_post, send_from="planner", send_to="user", message=text)


async def run_round(turn: Turn, planner: Planner) -> Round:
    """Play ``turn``'s round with ``planner`` to its end; never raises for the round's own
    failure or cancellation (the returned round says what happened)."""
    r = turn.round
    r.status = RoundStatus.RUNNING
    reply_post: Post | None = None
    try:
        reply = await planner.run(turn)
        if not isinstance(reply, str):
            raise AgentError(f"the planner returned {type(reply).__name__}, not the reply text")
        reply_post = await turn.finish_reply(reply)
        r.status, r.reply = RoundStatus.FINISHED, reply_post.message
    except RoundCancelled:
        r.status, r.error = RoundStatus.CANCELLED, "cancelled on request"
    except asyncio.CancelledError:  # the task itself was cancelled: record, then go on
        if turn.timed_out is not None:
            r.status = RoundStatus.FAILED
            r.error = f"the round timed out after {turn.timed_out:g} s"
        else:
            r.status, r.error = RoundStatus.CANCELLED, "cancelled"
    except Exception as exc:
        r.status = RoundStatus.FAILED
        r.error = str(exc) if isinstance(exc, AgentError) else f"{type(exc).__name__}: {exc}"
    if r.status is RoundStatus.FAILED:
        await turn.emit(EventType.ROUND_ERROR, r.error or "")
    if reply_post is not None:
        r.posts.append(reply_post)
    r.ended_at = time.time()
    # The reply post is stored with the round's end (one update); its post_end and the
    # round_end are numbered before the write and emitted after it.
    post_seq = turn._log.next_seq() if reply_post is not None else None
    seq = turn._log.next_seq()
    # The reply is stored once, as the reply post's message.
    data: dict[str, Any] = {"round": r.id, "status": r.status.value, "seq": seq, "error": r.error}
    if reply_post is not None:
        data["post"] = msgspec.to_builtins(reply_post)
    await turn.record("round_ended", data, {})
    if reply_post is not None:
        await turn.emit(
            EventType.POST_END,
            reply_post.message,
            {"post": msgspec.to_builtins(reply_post)},
            post_id=reply_post.id,
            seq=post_seq,
        )
    await turn.emit(
        EventType.ROUND_END,
        r.reply or r.error or "",
        {"status": r.status.value, "reply": r.reply, "error": r.error},
        seq=seq,
    )
    return r
