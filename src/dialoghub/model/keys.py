"""Every key the model language accepts, by construct.

The compiler refuses any other key (with a "did you mean" hint), and a test checks that the
shipped JSON Schema (``schema.json``) allows exactly these keys, so the two never drift.
"""

from __future__ import annotations

__all__ = ["KEYS", "STEP_VERBS"]

#: construct -> the keys it accepts
KEYS: dict[str, frozenset[str]] = {
    "model": frozenset({
        "id", "version", "description", "language", "sample_rate", "start", "default_state",
        "wake_word", "entities", "intents", "commands", "events", "states", "no_match",
        "not_allowed", "ambiguous", "command_error", "settings", "init", "main", "actions",
        "units", "lifetime", "restart_on_request", "global", "give_up",
    }),
    "lifetime": frozenset({"idle", "absolute"}),
    "settings": frozenset({"threshold", "ambiguity_margin", "max_tries", "recognizer"}),
    "entity": frozenset({"values", "pattern", "type", "open", "case_sensitive"}),
    "entity_value": frozenset({"value", "synonyms", "case_sensitive"}),
    "intent": frozenset({"examples", "slots", "confirm", "interrupt"}),
    "slot": frozenset({"entity", "required", "prompt", "carry", "tries", "give_up"}),
    "command": frozenset({"inputs", "outputs", "description", "webhook"}),
    "webhook": frozenset({"url", "timeout", "follow_redirects"}),
    "unit": frozenset({"start", "states", "actions", "python", "description"}),
    "state": frozenset({
        "say", "do", "ask", "wait", "on", "next", "final", "confirm", "no_match", "not_allowed",
        "ambiguous", "timeout", "wake_word", "description", "global",
    }),
    # a state of a model whose states nest (model/chart_dialog.py): its own, smaller set,
    # so a flat state still refuses `states`, `initial` and `type`
    "nested_state": frozenset({"say", "ask", "on", "states", "initial", "type", "final"}),
    "ask": frozenset({"prompt", "timeout", "retries", "then"}),
    "confirm": frozenset({"ask", "yes", "no"}),
    "handler": frozenset({"say", "do", "goto"}),
    "transition": frozenset({"goto", "when"}),
    "case": frozenset({"when", "do", "else"}),
}  # fmt: skip

#: step verb -> the other keys a step with that verb accepts
STEP_VERBS: dict[str, frozenset[str]] = {
    "say": frozenset(),
    "command": frozenset({"with", "on_error"}),
    "set": frozenset(),
    "append": frozenset(),
    "increment": frozenset(),
    "clear": frozenset(),
    "goto": frozenset(),
    "end": frozenset(),
    "transcribe": frozenset(),
    "if": frozenset({"then", "else"}),
    "switch": frozenset(),
    "ask": frozenset({"timeout", "retries", "then"}),
    "listen": frozenset(),
    "run": frozenset(),
    "call": frozenset(),
    "return": frozenset(),
}
