"""Asks the user's name, re-prompting when they do not answer in time, then ends.

A dialog unit written as Python functions, one per state (see dialoghub.model.codeunit).
Each function gets the per-call context ``ctx`` and acts only through it, so everything it
does is an event of the session: stored, replayed and audited like a data model's steps.
The functions must be deterministic (no I/O, no clock, no randomness).

Register it on its own (``hub.add_code_unit("examples/getname/dialog.py")``) or use it from a
data model (``units: {getname: {python: dialog.py}}``, as getname.yaml does).
"""

from __future__ import annotations

from dialoghub.engine.code import Context
from dialoghub.model.codeunit import CodeUnit

unit = CodeUnit("getname", start="start", description="Asks the user's name.")

#: How long to wait for an answer (seconds), and the re-prompts, one per timeout.
TIMEOUT = 10
REPROMPTS = ("Are you still there? What's your name?", "Please tell me your name.")

#: Words people say while thinking or instead of answering: never taken as a name ("hmm").
NOT_NAMES = frozenset({
    "hmm", "hm", "mm", "um", "umm", "uh", "uhh", "er", "erm", "ah", "oh", "eh", "well", "so",
    "ok", "okay", "yes", "yeah", "yep", "no", "nope", "what", "huh", "sorry", "pardon",
    "nothing", "nobody", "hello", "hi", "hey", "why", "who", "dunno", "idk",
})  # fmt: skip

_NAME = r"(?:my name is|name's|i am|i'm|call me|it's)\s+(?P<name>[a-z][a-z'-]*)"
_ALONE = r"^\s*(?P<name>[a-z][a-z'-]*)\s*[.!]?\s*$"


@unit.state
def start(ctx: Context) -> None:
    """Entered when the dialog starts: ask, and let ``name`` take the answer."""
    ctx.ask("Hello! What's your name?", timeout=TIMEOUT, on_timeout="no_answer")
    ctx.next("name")


@unit.state
def name(ctx: Context) -> None:
    """The answer: a name alone or in a phrase ("my name is Ada"); else ask again."""
    found = ctx.match(_NAME) or ctx.match(_ALONE)
    if found is not None and found["name"].lower() in NOT_NAMES:
        found = None  # "hmm" is not a name: ask again
    if found is None:
        ctx.ask("Sorry, I didn't catch that. What's your name?", timeout=TIMEOUT,
                on_timeout="no_answer")  # fmt: skip
        return
    ctx.set("name", found["name"].capitalize())
    ctx.say(f"Nice to meet you, {ctx.get('name')}!")
    ctx.end("got the name")


@unit.state
def no_answer(ctx: Context) -> None:
    """The timeout handler: re-prompt with a different wording, twice, then give up."""
    if ctx.timeouts <= len(REPROMPTS):
        ctx.ask(REPROMPTS[ctx.timeouts - 1], timeout=TIMEOUT, on_timeout="no_answer")
    else:
        ctx.say("I'll be here if you need me. Bye!")
        ctx.end("no answer")
