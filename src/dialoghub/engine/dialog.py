"""The dialog features of the step function beyond states and transitions.

Units called as one step and the interrupts that push them (a frame on ``Session.stack``,
popped on return), questions in the middle of a state's code (``ask``/``listen`` steps),
yes/no confirmations, ambiguous inputs, and prompt timeouts with re-prompts. Each function
takes the update in progress (``run``, a :class:`dialoghub.engine.run.Run`) and changes the
session only through ``run.emit`` / ``run.act``, so everything here is replayed by the fold.
A timeout in a unit written as Python functions goes to :mod:`dialoghub.engine.code` (the
step function decides which, between :func:`timeout_fired` and :func:`reprompt`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dialoghub.engine.records import Reply, WaitForUser
from dialoghub.engine.run import Run
from dialoghub.engine.scope import lookup, lookup_in
from dialoghub.errors import UnexpectedInput
from dialoghub.model import spec as m
from dialoghub.model.templates import Template
from dialoghub.nlu.types import Recognition, SlotValue
from dialoghub.nlu.yesno import yes_or_no

__all__ = [
    "HANDLER_BLOCKS",
    "answer_confirm",
    "ask_confirm",
    "bare_value",
    "call",
    "gives_up",
    "global_intent",
    "handler_of",
    "heard",
    "interrupt",
    "is_ambiguous",
    "leave_unit",
    "listen",
    "reask",
    "render",
    "reprompt",
    "rewait",
    "slots_said",
    "timeout_fired",
]


def render(run: Run, wordings: Sequence[Template]) -> list[str]:
    """The texts of a question's wordings, rendered now."""
    look = lookup_in(run.s)
    return [w.render(look) for w in wordings]


def rewait(run: Run, aw: dict[str, Any], text: str | None) -> None:
    """Wait again for what ``aw`` waited for, saying ``text`` first (a re-prompt)."""
    if text:
        run.act(Reply(text=text))
    awaiting = dict(aw)
    if "timeout" in aw:
        awaiting["due_at"] = run.now + aw["timeout"]
    wait = WaitForUser(immediate=bool(aw.get("immediate")), requires_wake_word=bool(aw.get("wake")))
    run.act(wait, awaiting)


# --- questions in the middle of code ------------------------------------------------------


def listen(run: Run, ins: m.Listen, key: Sequence[str], pc: int) -> None:
    """An ``ask``/``listen`` step: wait for the user, then go on at ``pc``."""
    texts = render(run, ins.prompt.wordings) if ins.prompt is not None else None
    run.wait_for_user(
        texts,
        say=True,
        immediate=ins.prompt is not None,
        timing=ins.prompt,
        extra={"listen": {"block": list(key), "pc": pc}},
    )


def heard(run: Run, where: dict[str, Any], rec: Recognition) -> None:
    """The answer to an ``ask``/``listen`` step: ``intent`` and slots to variables, go on."""
    run.emit("intent_recognized", intent=rec.intent, confidence=round(rec.confidence, 4))
    run.emit("variable_set", name="intent", value=rec.intent)
    if rec.intent is not None:
        for name, found in rec.slots.items():
            run.emit("slot_filled", name=name, value=found.value)
    run.run_block(where["block"], where["pc"])


# --- units ----------------------------------------------------------------------------------


def call(run: Run, unit: str, key: Sequence[str], pc: int) -> None:
    """Run ``unit`` as one step: remember where to come back, enter its start."""
    frame = {"unit": run.s.unit, "state": run.s.state, "block": list(key), "pc": pc}
    run.emit("frame_pushed", frame=frame)
    run.enter(run.model.units[unit].start, unit=unit)


def leave_unit(run: Run, reason: str) -> None:
    """The current unit is done: back to where it was called or interrupted, else the end."""
    if not run.s.stack:
        run.finish(reason)
        return
    frame = run.s.stack[-1]
    run.emit("frame_popped", unit=frame["unit"], state=frame["state"])
    aw = frame.get("awaiting")
    if aw is not None:  # an interrupt: ask the interrupted question again
        texts = aw.get("prompt") or []
        rewait(run, aw, texts[0] if texts else None)
    else:
        run.run_block(frame["block"], frame["pc"])


def interrupt(run: Run, rec: Recognition, aw: dict[str, Any]) -> bool:
    """An intent declared ``interrupt: unit``: push the unit, resume this wait afterwards."""
    if rec.intent is None:
        return False
    intent = run.model.intents[rec.intent]
    if intent.interrupt is None or rec.intent in run.state.on:
        return False
    if intent.interrupt == run.s.unit or any(f["unit"] == intent.interrupt for f in run.s.stack):
        return False  # already in it: no interrupt of an interrupt by itself
    run.emit("intent_recognized", intent=rec.intent, confidence=round(rec.confidence, 4))
    frame = {"unit": run.s.unit, "state": run.s.state, "awaiting": aw}
    run.emit("frame_pushed", frame=frame)
    unit = run.model.units[intent.interrupt]
    run.enter(unit.start, unit=unit.name)
    return True


# --- confirmations --------------------------------------------------------------------------


def ask_confirm(run: Run, prompt: Template, what: dict[str, Any]) -> None:
    """Ask a yes/no question; ``what`` says what is confirmed (an intent or a state)."""
    run.wait_for_user(render(run, [prompt]), say=True, immediate=True, extra={"confirm": what})


def answer_confirm(run: Run, aw: dict[str, Any], text: str, rec: Recognition) -> bool:
    """The answer to a confirmation; False when it is another request instead."""
    what = aw["confirm"]
    answer = yes_or_no(text)
    state = run.state
    if answer is None:
        if rec.intent is not None and rec.intent in state.on:
            return False  # the user asked for something else: handle it as a new request
        if "intent" in what and run.model.recognizer.bare_values(text):
            # a value alone ("medium" to "So a large pepperoni, right?") is a correction
            intent = run.model.intents[what["intent"]]
            found = run.model.recognizer.extract_slots(intent.name, text)
            names = {s.name for s in intent.slots}
            corrected = {k: v for k, v in found.items() if k in names}
            if corrected:
                for name, value in corrected.items():
                    run.emit("slot_filled", name=name, value=value.value)
                run.continue_fill(intent, [*what.get("filled", []), *corrected])
                return True
        texts = aw.get("prompt") or []
        rewait(run, aw, texts[0] if texts else None)
        return True
    if "state" in what and run.model.recognizer.bare_values(text):
        # "no, medium" to "Anything else?": more than a yes or a no, and not an answer to
        # this question; ask it again rather than take the "no" and end
        texts = aw.get("prompt") or []
        rewait(run, aw, texts[0] if texts else None)
        return True
    run.emit("confirmation_answered", answer="yes" if answer else "no", **what)
    if "state" in what:
        confirm = state.confirm
        assert confirm is not None and confirm.yes is not None and confirm.no is not None
        run.enter(confirm.yes if answer else confirm.no)
        return True
    intent = run.model.intents[what["intent"]]
    if answer:
        run.follow(state.on[intent.name], state)
        return True
    # "no": take corrections said with it ("no, a large one"), else ask the slots again
    found = run.model.recognizer.extract_slots(intent.name, text)
    names = {s.name for s in intent.slots}
    corrected = {k: v for k, v in found.items() if k in names}
    if corrected:
        for name, value in corrected.items():
            run.emit("slot_filled", name=name, value=value.value)
        run.continue_fill(intent, [*what.get("filled", []), *corrected])
        return True
    for slot in intent.slots:
        if run.s.unit_variables().get(slot.name) is not None:
            run.emit("variable_cleared", name=slot.name)
    if any(s.required for s in intent.slots):
        run.continue_fill(intent, [])
    else:
        run.wait(ask=True)
    return True


# --- ambiguity and timeouts -----------------------------------------------------------------


def is_ambiguous(run: Run, state: m.State, rec: Recognition) -> bool:
    """Two intents too close to call, or tied (declaration order alone picked ``rec.intent``,
    whatever the margin): run the ``ambiguous`` handler (state's, else model's)."""
    if rec.intent is None or (state.ambiguous is None and run.model.ambiguous is None):
        return False
    if len(rec.tied) > 1:
        ambiguous = list(rec.tied)
    else:
        margin = run.model.ambiguity_margin
        if margin <= 0 or not rec.alternatives:
            return False
        other, score = rec.alternatives[0]
        if rec.confidence - score >= margin:
            return False
        ambiguous = [rec.intent, other]
    run.emit(
        "intent_recognized",
        intent=None,
        confidence=round(rec.confidence, 4),
        ambiguous=ambiguous,
    )
    run.run_block(("state" if state.ambiguous is not None else "model", "ambiguous"), 0)
    return True


def timeout_fired(run: Run, name: str) -> tuple[dict[str, Any], int]:
    """No answer in time: record it. Returns what the session awaited and how many times in a
    row it has now timed out; refused unless the session waits for the user."""
    aw = run.s.awaiting or {}
    if aw.get("kind") != "user":
        raise UnexpectedInput(
            f"session {run.s.id!r} is not waiting for the user, so it cannot time out",
            session_id=run.s.id,
        )
    count = run.s.counters.get(name, 0) + 1
    run.emit("timeout_fired", name=name, count=count)
    return aw, count


def reprompt(run: Run, aw: dict[str, Any], count: int) -> None:
    """After a timeout (the ``count``-th in a row) in a data unit: re-prompt with the next
    wording, up to the retries, then move on (``then``, the end, or the state's handler)."""
    texts: list[str] = aw.get("prompt") or []
    again = texts[min(count, len(texts) - 1)] if texts else None
    if "timeout" in aw:
        if count <= aw.get("retries", 0):
            rewait(run, aw, again)
        elif aw.get("then"):
            run.enter(aw["then"])
        else:
            run.finish("no answer", "ended")
        return
    if run.state.timeout is not None:
        run.run_handler(("state", "timeout"))
        return
    rewait(run, aw, again)


# --- intents every state takes, slots given up, values alone, slots carried --------------

#: The block keys naming model handlers beyond a state's: ``("global", intent)``,
#: ``("give_up",)`` (the model's) and ``("give_up", intent, slot)`` (a slot's).
HANDLER_BLOCKS = frozenset({"global", "give_up"})


def handler_of(model: m.Model, key: Sequence[str]) -> m.Handler | None:
    """The handler a block key of :data:`HANDLER_BLOCKS` names (None: there is none)."""
    if key[0] == "global":
        return model.globals.get(key[1])
    if len(key) == 1:
        return model.give_up
    intent = model.intents.get(key[1])
    slot = next((s for s in intent.slots if s.name == key[2]), None) if intent else None
    return slot.give_up if slot is not None else None


def global_intent(
    run: Run, state: m.State, rec: Recognition, aw: dict[str, Any], text: str
) -> bool:
    """A global intent (cancel, help, goodbye, start over) said in any waiting state: run
    its handler. The state's own ``on`` for that intent wins, a state may opt out
    (``global``), and a yes or no answering a confirmation is an answer, not a global
    ("no thanks" to "Anything else?" confirms; it does not cancel)."""
    name = rec.intent
    if name is None or name not in run.model.globals or name in state.on:
        return False
    if state.globals is not None and name not in state.globals:
        return False
    if "confirm" in aw and yes_or_no(text) is not None:
        return False
    handler = run.model.globals[name]
    run.emit("intent_recognized", intent=name, confidence=round(rec.confidence, 4))
    if handler.target is not None:
        # a way out of the question: out of any unit too, to the main unit's state
        while run.s.stack:
            frame = run.s.stack[-1]
            run.emit("frame_popped", unit=frame["unit"], state=frame["state"])
    run.run_block(("global", name), 0)
    return True


def reask(run: Run) -> None:
    """Ask the question the session waits on again (after a global handler answered)."""
    aw = run.s.awaiting or {}
    texts = aw.get("prompt") or []
    rewait(run, aw, texts[0] if texts else None)


def gives_up(run: Run, intent: m.IntentDef, slot: m.SlotSpec, tries: int) -> bool:
    """Asked ``tries`` times already: past the slot's (or the model's) limit, stop asking
    and run the slot's ``give_up``, else the model's, else its ``no_match``; without any,
    wait in the state without the question. True when it gave up."""
    limit = slot.tries if slot.tries is not None else run.model.max_tries
    if limit is None or tries < limit:
        return False
    run.emit("slot_given_up", intent=intent.name, slot=slot.name, tries=tries)
    if slot.give_up is not None:
        run.run_block(("give_up", intent.name, slot.name), 0)
    elif run.model.give_up is not None:
        run.run_block(("give_up",), 0)
    elif run.model.no_match is not None:
        run.run_handler(("model", "no_match"))
    else:
        run.wait(ask=False)
    return True


def bare_value(run: Run, state: m.State, rec: Recognition, text: str) -> Recognition:
    """A value alone ("london", "margarita", "and tomorrow?") in a listening state, when
    no intent the state takes was recognized: the one intent of the state with slots for
    every value said, with those slots. Unchanged when none or several intents fit."""
    if rec.intent is not None and rec.intent in state.on:
        return rec
    values = run.model.recognizer.bare_values(text)
    if not values:
        return rec
    fits = []
    for name in state.on:
        intent = run.model.intents.get(name)
        if intent is not None and all(any(s.entity == e for s in intent.slots) for e in values):
            fits.append(intent)
    if len(fits) != 1:
        return rec
    intent = fits[0]
    slots: dict[str, SlotValue] = {}
    for entity, value in values.items():
        slot = next(s for s in intent.slots if s.entity == entity)
        slots[slot.name] = value
    return Recognition(intent.name, 1.0, slots)


def slots_said(run: Run, intent: m.IntentDef, rec: Recognition) -> list[str]:
    """Fill the slots ``rec`` found; a slot not said keeps its value when it carries over
    ("and tomorrow?" keeps the city), else its old value is cleared (no stale day in "how
    about London" after "Paris tomorrow"). Returns the slots that hold a value now."""
    filled = []
    for slot in intent.slots:
        found = rec.slots.get(slot.name)
        if found is not None:
            run.emit("slot_filled", name=slot.name, value=found.value)
            filled.append(slot.name)
        elif slot.carry and lookup(run.s, slot.name) is not None:
            filled.append(slot.name)
        elif run.s.unit_variables().get(slot.name) is not None:
            run.emit("variable_cleared", name=slot.name)
    return filled
