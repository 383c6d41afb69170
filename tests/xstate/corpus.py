"""The corpus: machines written for these tests (corpus/*.json), with their event sequences.

Each corpus file is a list of entries::

    {"name": "unique-name", "description": "...", "features": ["nested", ...],
     "spelling": "v5" | "v4",           # how "machine" is written (default v5)
     "versions": ["v5", "v4"],          # which XState versions run it (default: v5, and v4
                                        # when the v5 spelling converts, see spelling.py)
     "v4": {"predictable": false},      # optional: v4 without predictableActionArguments
     "context": {...},                  # optional: the context to start with (replaces the
                                        # machine's, as XState's withContext / input would)
     "dialoghub": {"v4": "refuses: why"},  # optional: where dialoghub deliberately refuses
                                        # at load what XState runs (the test checks it does)
     "machine": {...}, "sequences": [[event, ...], ...]}

``corpus/expected/<name>.<version>.json`` is what XState did (``python -m tests.xstate.record``
writes them): the machine as run in that version and, per sequence, the trace with the event
of every step, XState's warnings and any error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.xstate.spelling import NotInV4, to_v4

__all__ = ["CORPUS_DIR", "EXPECTED_DIR", "FEATURES", "Case", "Entry", "load_corpus"]

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
EXPECTED_DIR = CORPUS_DIR / "expected"

#: every feature of issue 18 the corpus must show (test_differential checks each has a machine)
FEATURES = {
    "nested": "compound states inside compound states",
    "parallel": "parallel regions",
    "history-shallow": "shallow history",
    "history-deep": "deep history",
    "history-default": "a history state's default target (nothing recorded yet)",
    "final": "final states",
    "onDone": "onDone of a compound or parallel state (done.state events)",
    "done-data": "a final state's output (v5) / data (v4) in the done event",
    "output": "the machine's output (v5 root output; v4 top-level final data)",
    "always": "eventless transitions (always)",
    "eventless-v4": "v4's eventless transition written as the event ''",
    "after": "delayed transitions",
    "after-several": "several delays in one state",
    "after-reentry": "re-entering a state restarts its delays, leaving cancels them",
    "guard": "named guards",
    "guard-params": "guards with parameters",
    "stateIn": "v5 stateIn guards",
    "in-v4": "v4's in: on transitions",
    "guard-and": "v5 and()",
    "guard-or": "v5 or()",
    "guard-not": "v5 not()",
    "action-order": "exit, transition and entry actions in order",
    "transition-actions": "actions on transitions",
    "context": "context",
    "assign": "context changed by named (assign) actions",
    "context-override": "the case starts with its own context",
    "target-id": "targets #id",
    "target-path": "targets a.b (a sibling's descendant)",
    "target-child": "targets .child",
    "targets-several": "several targets at once (parallel regions)",
    "self": "self transitions",
    "internal-v4": "v4 internal: true / false",
    "reenter": "v5 reenter: true",
    "wildcard": "the wildcard event *",
    "wildcard-partial": "v5 partial wildcards a.*",
    "root-on": "transitions on the root",
    "tags": "tags",
    "invoke": "invoke and its onDone",
    "invoke-error": "invoke's onError, a rejection without onError",
    "meta": "meta",
    "no-id": "a machine without id",
    "custom-id": "states with their own id",
    "unhandled": "events no state takes (ignored)",
    "after-final": "events after the final state",
    "unregistered-action": "actions the library does not implement",
    "guard-order": "the first enabled transition of several wins",
    "refused": "machines XState refuses",
    "runtime-error": "a machine that fails while running",
    "predictable-v4": "v4 without predictableActionArguments",
}


@dataclass(frozen=True)
class Case:
    """One machine in one version with its sequences."""

    entry: Entry
    version: str
    machine: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.entry.name}.{self.version}"

    @property
    def expected_path(self) -> Path:
        return EXPECTED_DIR / f"{self.name}.json"

    def requests(self) -> list[dict[str, Any]]:
        out = []
        for events in self.entry.sequences:
            req: dict[str, Any] = {
                "machine": self.machine,
                "version": self.version,
                "events": events,
            }
            if self.entry.context is not None:
                req["context"] = self.entry.context
            out.append(req)
        return out


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    features: tuple[str, ...]
    spelling: str
    versions: tuple[str, ...]
    machine: dict[str, Any]
    sequences: tuple[list[dict[str, Any]], ...]
    context: dict[str, Any] | None
    file: str
    v4_predictable: bool = True
    dialoghub: dict[str, str] | None = None  # version -> "refuses: why"

    def refused_in(self, version: str) -> bool:
        """dialoghub deliberately refuses this machine in ``version`` (see ``dialoghub``)."""
        return (self.dialoghub or {}).get(version, "").startswith("refuses")

    def cases(self) -> list[Case]:
        out = []
        for version in self.versions:
            if version == self.spelling:
                machine = self.machine
            elif version == "v4":
                machine = to_v4(self.machine, predictable=self.v4_predictable)
            else:
                raise ValueError(f"{self.name}: a v4 spelling runs in v4 only")
            out.append(Case(self, version, machine))
        return out


def _entry(raw: dict[str, Any], file: str) -> Entry:
    spelling = raw.get("spelling", "v5")
    v4 = raw.get("v4", {})
    versions = raw.get("versions")
    if versions is None:
        versions = [spelling]
        if spelling == "v5":
            try:
                to_v4(raw["machine"])
                versions.append("v4")
            except NotInV4:
                pass
    return Entry(
        name=raw["name"],
        description=raw.get("description", ""),
        features=tuple(raw.get("features", ())),
        spelling=spelling,
        versions=tuple(versions),
        machine=raw["machine"],
        sequences=tuple(raw["sequences"]),
        context=raw.get("context"),
        file=file,
        v4_predictable=bool(v4.get("predictable", True)),
        dialoghub=raw.get("dialoghub"),
    )


def load_corpus() -> list[Entry]:
    """Every entry of corpus/*.json, by file then order."""
    entries = []
    for path in sorted(CORPUS_DIR.glob("*.json")):
        for raw in json.loads(path.read_text()):
            entries.append(_entry(raw, path.name))
    names = [e.name for e in entries]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"corpus names used twice: {sorted(dupes)}")
    return entries
