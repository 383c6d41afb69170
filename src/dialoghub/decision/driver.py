"""The driver: asks a hub's AI specialists whenever an update opens a solicitation.

The pure engine records *that* a specialist is asked (``proposal_solicited``,
``vote_solicited``); the :class:`Driver` does the asking. It watches the hub
(:meth:`dialoghub.hub.Hub.watch`): every stored view whose open round waits for an AI
specialist starts (at most) one task per session, which builds each pending solicitation
(:class:`~dialoghub.decision.specialists.Solicitation`), asks the specialists concurrently,
each within its deadline, and submits what they answered as one
:class:`~dialoghub.engine.records.Answers` update through the Hub's public API (so an
answer is one compare-and-set like any input). Invalid replies are submitted as such
(recorded, counted) and asked again while the engine keeps the solicitation open; a
specialist that does not answer in time is left to the ``decision`` timer. When every voter
a round's proposals would ask is a plain sync callable, the votes are asked at once and the
whole round is one update (:meth:`Driver._votes_ahead`).

Humans are never asked here: they answer through the API, ``dialoghub review`` or the
console. What the driver holds per session is a task while it works, nothing while the
round waits: the round itself lives in the session's snapshot.

A driver asks only for updates its own hub stored. If its process stops while a specialist
thinks, the solicitation times out (the timer service of any process delivers it) and the
round goes on without that answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from dialoghub.decision.llm import LLMSpecialist, WebhookSpecialist
from dialoghub.decision.specialists import (
    Answer,
    CallableSpecialist,
    ProposalAnswer,
    RuleSpecialist,
    Solicitation,
    Specialist,
    VoteAnswer,
    parse_answer,
)
from dialoghub.engine.decision import correlation, open_round, pairs_of, votes_ahead
from dialoghub.engine.decision import proposals as proposals_of
from dialoghub.engine.records import Answers, PairVote, Propose, Session, Vote
from dialoghub.errors import (
    DecisionRefused,
    InvalidAnswer,
    SessionClosed,
    SpecialistFailed,
    UnknownModel,
    VersionConflict,
)
from dialoghub.hub import Hub
from dialoghub.hub.view import SessionView
from dialoghub.model.decisions import DecisionSpec, SpecialistSpec
from dialoghub.model.spec import Model

__all__ = ["Driver", "solicitations"]

log = logging.getLogger("dialoghub.decision")


def from_spec(spec: SpecialistSpec, callables: Mapping[str, Callable[..., Any]]) -> Any:
    """The implementation of a model file's specialist (None for a human), resolving a
    callable's ``ref`` (else its id) in ``callables``; SpecialistFailed if unresolvable."""
    if spec.human:
        return None
    if spec.kind == "callable":
        ref = str(spec.options.get("ref", spec.id))
        fn = callables.get(ref) or callables.get(spec.id)
        if fn is None:
            raise SpecialistFailed(
                f"specialist {spec.id!r} needs the callable {ref!r}: "
                "register it (Driver(callables={...}))",
                specialist=spec.id,
            )
        return fn if isinstance(fn, Specialist) else CallableSpecialist(spec.id, fn)
    if spec.kind == "rule":
        return RuleSpecialist(spec.id, spec.options.get("rules", []), spec.options.get("otherwise"))
    if spec.kind == "llm":
        return LLMSpecialist.from_options(spec.id, spec.options)
    return WebhookSpecialist.from_options(spec.id, spec.options)


def _prompt(model: Model, state: str) -> str | None:
    chart = model.chart
    if chart is None:
        return None
    node = chart.nodes.get(f"{chart.root}.{state}")
    meta = node.meta if node is not None else None
    prompt = meta.get("prompt") if isinstance(meta, dict) else None
    return prompt if isinstance(prompt, str) else None


def solicitations(
    model: Model,
    session: Session,
    *,
    reasoning: Mapping[str, str] | None = None,
    only: Callable[[str, dict[str, Any]], bool] | None = None,
) -> list[Solicitation]:
    """The open round's pending solicitations as specialists get them (``reasoning``: the
    proposals' reasoning by id, read from the round's events; ``only``: a filter on
    (specialist id, pending entry))."""
    rd = open_round(session)
    spec = model.decision
    if rd is None or not isinstance(spec, DecisionSpec):
        return []
    out: list[Solicitation] = []
    asked = [(sid, p) for sid, p in rd["pending"].items() if only is None or only(sid, p)]
    if not asked:
        return out
    # the same for every voter of the round: computed once, and only if someone votes
    proposals: tuple[dict[str, Any], ...] = ()
    every_pair: tuple[tuple[str, str], ...] = ()
    if any(p["k"] == "v" for _, p in asked):
        said = reasoning or {}
        proposals = tuple(
            {
                "id": p[0],
                "transition": p[2],
                "params": (p[3] if len(p) > 3 else None) or {},
                "by": p[1],
                "reasoning": said.get(p[0], ""),
            }
            for p in rd["proposals"]
        )
        every_pair = tuple((a, b) for a, b in pairs_of(rd, ""))
    prompt = _prompt(model, rd["state"])
    transitions = spec.transitions.get(rd["state"], ())
    history = tuple((session.decision or {}).get("history", ()))
    for sid, pending in asked:
        vote = pending["k"] == "v"
        pairs = tuple((a, b) for a, b in pending["left"]) if "left" in pending else every_pair
        out.append(
            Solicitation(
                session_id=session.id,
                tenant=session.tenant,
                model_id=session.model_id,
                round=rd["id"],
                state=rd["state"],
                kind="vote" if vote else "proposal",
                specialist=sid,
                correlation=correlation(rd, sid),
                prompt=prompt,
                transitions=transitions,
                params=session.params,
                metadata=session.metadata,
                history=history,
                proposals=proposals if vote else (),
                pairs=pairs if vote else (),
                due_at=pending["due"],
            )
        )
    return out


def _item(s: Solicitation, answer: Answer | Exception) -> Propose | Vote:
    """The input that records a specialist's answer (or why it is none)."""
    if isinstance(answer, Exception):
        why = f"{type(answer).__name__}: {answer}"[:500]
        if s.kind == "proposal":
            return Propose(
                round=s.round, specialist=s.specialist, correlation=s.correlation, invalid=why
            )
        return Vote(round=s.round, specialist=s.specialist, correlation=s.correlation, invalid=why)
    figures: dict[str, Any] = {
        "cost": answer.cost,
        "latency": answer.latency,
        "tokens": answer.tokens,
    }
    if isinstance(answer, ProposalAnswer):
        return Propose(
            round=s.round,
            specialist=s.specialist,
            correlation=s.correlation,
            transition=answer.transition,
            reasoning=answer.reasoning,
            params=answer.params,
            **figures,
        )
    assert isinstance(answer, VoteAnswer)
    votes = [PairVote(a=a, b=b, vote=answer.votes[(a, b)]) for a, b in s.pairs]
    return Vote(
        round=s.round,
        specialist=s.specialist,
        correlation=s.correlation,
        votes=votes,
        reasoning=answer.reasoning,
        **figures,
    )


class Driver:
    """Asks the AI specialists of ``hub``'s decided models and submits their answers.

    ``callables`` resolves the model files' ``callable`` specialists by ``ref`` (or id):
    functions (sync or async) or ready :class:`~dialoghub.decision.specialists.Specialist`
    objects; ``specialists`` are implementations by specialist id for specialists
    registered in code (:func:`dialoghub.model.decisions.with_specialists`). ``attach``:
    watch the hub (default); without it, call :meth:`drive` yourself. ``publish`` is called
    with the view of every update the driver stores (the server pushes it to the clients
    attached to the session).
    """

    def __init__(
        self,
        hub: Hub,
        *,
        callables: Mapping[str, Any] | None = None,
        specialists: Iterable[Specialist] = (),
        attach: bool = True,
        publish: Callable[[SessionView], None] | None = None,
    ) -> None:
        self.hub = hub
        self.publish = publish
        self.callables = dict(callables or {})
        self._given = {s.id: s for s in specialists}
        self._impl: dict[tuple[str, str, str], Any] = {}
        self._latest: dict[tuple[str, str], Session] = {}
        self._running: set[tuple[str, str]] = set()
        self._said: dict[tuple[str, str], dict[str, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unwatch = hub.watch(self._on_view) if attach else None

    def close(self) -> None:
        """Stop watching the hub (tasks in progress finish; see :meth:`settle`)."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None

    async def settle(self) -> None:
        """Wait until no session has an AI solicitation in progress here."""
        while self._tasks:
            await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    def implementation(self, model: Model, specialist_id: str) -> Any:
        """The implementation answering for ``specialist_id`` of ``model`` (None: a human or
        nobody); built once per model version."""
        key = (model.id, model.version, specialist_id)
        if key not in self._impl:
            spec = model.decision.specialist(specialist_id) if model.decision else None
            impl = self._given.get(specialist_id)
            if impl is None and spec is not None and not spec.human:
                try:
                    impl = from_spec(spec, self.callables)
                except SpecialistFailed as exc:
                    log.warning("%s: %s", model.id, exc)
            self._impl[key] = impl
        return self._impl[key]

    # --- watching -----------------------------------------------------------------------

    def _waits_for_ai(self, session: Session) -> bool:
        rd = open_round(session)
        if rd is None or not rd["pending"]:
            return False
        try:
            model = self.hub.model(session.model_id)
        except UnknownModel:
            return False
        return any(
            not p.get("h") and self.implementation(model, sid) is not None
            for sid, p in rd["pending"].items()
        )

    def _on_view(self, view: SessionView) -> None:
        session = view.session
        if session.decision is None or not self._waits_for_ai(session):
            return
        key = (session.tenant, session.id)
        self._latest[key] = session
        if key not in self._running:
            self._running.add(key)
            task = asyncio.get_running_loop().create_task(self._run(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, key: tuple[str, str]) -> None:
        try:
            while (session := self._latest.pop(key, None)) is not None:
                try:
                    await self.answer(session)
                except Exception:  # a task of the watcher: log, never lose the loop
                    log.exception("decision driver: session %r", key[1])
        finally:
            self._running.discard(key)
            self._said.pop(key, None)

    # --- asking -------------------------------------------------------------------------

    async def drive(self, session_id: str, *, tenant: str = "default") -> Session:
        """Answer the session's AI solicitations until none is left (for a driver that does
        not watch its hub, and for tests); the session as it then is."""
        session = await self.hub.get_session(session_id, tenant=tenant)
        while self._waits_for_ai(session):
            view = await self.answer(session)
            if view is None:
                break
            session = view.session
        return session

    async def answer(self, session: Session) -> SessionView | None:
        """Ask every AI specialist the round waits for and submit their answers in one
        update; the view it stored, or None if nothing was asked."""
        model = self.hub.model(session.model_id)
        now = self.hub.now()

        def ours(sid: str, pending: dict[str, Any]) -> bool:
            return (
                not pending.get("h")
                and pending["due"] > now
                and self.implementation(model, sid) is not None
            )

        key = (session.tenant, session.id)
        said = self._said.pop(key, None)  # reasoning this driver just submitted, if any
        rd = open_round(session)
        if rd is None:
            return None
        known: dict[str, str] | None = None
        if any(p["k"] == "v" and ours(sid, p) for sid, p in rd["pending"].items()):
            known = {
                p["id"]: said[p["by"]]
                for p in proposals_of(rd)
                if said is not None and p["by"] in said
            }
            if len(known) < len(rd["proposals"]):  # others' reasoning: read the round's log
                known = await self._reasoning(session)
        asked = solicitations(model, session, reasoning=known, only=ours)
        if not asked:
            return None
        if len(asked) == 1:
            answers = [await self._ask(model, asked[0], now)]
        elif all(self._inline(model, s.specialist) for s in asked):
            answers = [self._ask_inline(model, s) for s in asked]  # no task, no timer
        else:
            answers = list(await asyncio.gather(*(self._ask(model, s, now) for s in asked)))
        items = [_item(s, a) for s, a in zip(asked, answers, strict=True) if a is not None]
        if not items:
            return None
        ahead = self._votes_ahead(model, session, items, now) if len(items) == len(asked) else []
        view = await self._submit(session, [*items, *ahead])
        if view is not None and not ahead and self._waits_for_ai(view.session):
            # the votes come next: keep what was reasoned until then (one entry, one step)
            self._said[key] = {
                i.specialist: i.reasoning
                for i in items
                if isinstance(i, Propose) and i.transition is not None
            }
        return view

    def _votes_ahead(
        self, model: Model, session: Session, items: list[Propose | Vote], now: float
    ) -> list[Propose | Vote]:
        """The votes of the phase these proposals open, when every voter is a plain sync
        callable of this driver: they answer at once, so the whole round is one update.

        The engine says what the proposals would open (``votes_ahead``: the proposal ids and
        the vote solicitations, by the rules its update applies, nothing recorded); the voters
        answer that, and the proposals and votes go to the Hub together as one ``Answers``,
        each answer still its own event, in the same order, checked again by the real update
        (a round that moved meanwhile refuses the batch, and the driver falls back to the
        answers one by one). Nothing is looked ahead when a human or a slower specialist
        votes: their solicitations must be stored to be seen.
        """
        ahead = votes_ahead(model, session, items, now)
        if ahead is None or not all(
            not p.get("h") and self._inline(model, sid) for sid, p in ahead["pending"].items()
        ):
            return []
        said = {i.specialist: i.reasoning for i in items}
        if any(p[1] not in said for p in ahead["proposals"]):
            return []  # proposals of an earlier update: their reasoning is in the log
        reasoning = {p[0]: said[p[1]] for p in ahead["proposals"]}
        future = msgspec.structs.replace(
            session, decision={**(session.decision or {}), "round": ahead}
        )
        asked = solicitations(model, future, reasoning=reasoning)
        return [_item(s, self._ask_inline(model, s)) for s in asked]

    def _inline(self, model: Model, specialist_id: str) -> bool:
        """A plain sync callable: called where it is, since nothing could interrupt it."""
        impl = self.implementation(model, specialist_id)
        return isinstance(impl, CallableSpecialist) and impl.inline

    def _ask_inline(self, model: Model, s: Solicitation) -> Answer | Exception:
        impl = self.implementation(model, s.specialist)
        try:
            return parse_answer(impl.fn(s), s)
        except (InvalidAnswer, SpecialistFailed) as exc:
            return exc
        except Exception as exc:  # a callable's bug is that specialist's invalid answer
            log.warning("specialist %s raised: %r", s.specialist, exc)
            return exc

    async def _ask(self, model: Model, s: Solicitation, now: float) -> Answer | Exception | None:
        impl = self.implementation(model, s.specialist)
        budget = (s.due_at or now) - now
        try:
            async with asyncio.timeout(max(budget, 0.001)):
                answer: Answer = await impl.answer(s)
            return answer
        except TimeoutError:
            return None  # the deadline passed: the timer records the silence
        except (InvalidAnswer, SpecialistFailed) as exc:
            return exc
        except Exception as exc:  # a callable's bug is that specialist's invalid answer
            log.warning("specialist %s raised: %r", s.specialist, exc)
            return exc

    async def _reasoning(self, session: Session) -> dict[str, str]:
        """The reasoning of the open round's proposals, from its events (one bounded read)."""
        rd = open_round(session)
        assert rd is not None
        events = await self.hub.events(
            session.id, after=max(rd.get("seq", 1) - 1, 0), limit=10_000, tenant=session.tenant
        )
        return {
            e.data["proposal"]: e.data.get("reasoning", "")
            for e in events
            if e.type == "proposal_submitted"
            and e.data.get("round") == rd["id"]
            and "proposal" in e.data
        }

    async def _submit(self, session: Session, items: list[Propose | Vote]) -> SessionView | None:
        inp: Any = items[0] if len(items) == 1 else Answers(items=items)
        try:
            return self._published(await self.hub.update(session.id, inp, tenant=session.tenant))
        except (DecisionRefused, VersionConflict, SessionClosed) as exc:
            if len(items) == 1:
                log.info("answer of %s refused: %s", items[0].specialist, exc)
                return None
        # One answer of the batch was refused (the round moved on meanwhile: a human
        # settled it, a deadline passed): each of the others on its own.
        view = None
        for item in items:
            with contextlib.suppress(DecisionRefused, VersionConflict, SessionClosed):
                view = self._published(
                    await self.hub.update(session.id, item, tenant=session.tenant)
                )
        return view

    def _published(self, view: SessionView) -> SessionView:
        if self.publish is not None:
            try:
                self.publish(view)
            except Exception:  # a push failing must not lose the answer it reports
                log.exception("decision driver: publishing session %r", view.session.id)
        return view
