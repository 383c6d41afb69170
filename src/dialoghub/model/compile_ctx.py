"""What every part of the compiler shares: the problem list and typed readers of raw data.

Each reader checks one value's type, records a located problem when it is wrong, and returns
something usable (or None) so compiling goes on and one run reports every problem of a file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from dialoghub.errors import Problem
from dialoghub.model.conditions import Condition, ConditionError
from dialoghub.model.source import Located, Path
from dialoghub.model.spec import Prompt
from dialoghub.model.templates import Template, TemplateError

__all__ = ["Ctx", "closest", "kind"]


def kind(value: Any) -> str:
    """How a value's type reads in an error message."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def closest(word: str, options: Iterable[str]) -> str:
    """A "did you mean" hint for a misspelt name."""
    match = difflib.get_close_matches(word, sorted(options), n=1)
    return f"; did you mean {match[0]!r}?" if match else f"; expected one of {sorted(options)}"


class Ctx:
    """Collects problems while compiling one file, and the checks left for the end."""

    def __init__(self, loc: Located) -> None:
        self.loc = loc
        self.problems: list[Problem] = []
        self.unit = "main"  # the unit being compiled: state targets are looked up in it
        # checks that need the whole model, run at the end:
        self.targets: list[tuple[Path, str, str]] = []  # (path, unit, state name)
        self.calls: list[tuple[Path, str]] = []  # (path, unit name)
        # every template parsed, with where it is: model/analysis.py checks their names
        self.template_uses: list[tuple[Path, Template]] = []
        #: notes that do not stop the model from loading (``Model.warnings``)
        self.warnings: list[Problem] = []

    def error(self, path: Path, message: str) -> None:
        self.problems.append(self.loc.problem(path, message))

    def warn(self, path: Path, offset: int, message: str) -> None:
        """A note about the model that does not stop it from loading, at character
        ``offset`` of the value at ``path`` when it can be located there."""
        problem = self.loc.problem(path, message)
        at = self.loc.where_in(path, offset)
        if at is not None:
            problem = Problem(message, problem.file, at[0], at[1], problem.path)
        self.warnings.append(problem)

    def error_in(self, path: Path, offset: int, message: str) -> None:
        """A problem with the value at ``path``, at its character ``offset`` (where the value
        is located to the character: a one-line scalar), else at the value's key: a wrong
        value is pointed at, not the key holding it."""
        problem = self.loc.problem(path, message)
        at = self.loc.where_in(path, offset)
        if at is not None:
            problem = Problem(message, problem.file, at[0], at[1], problem.path)
        self.problems.append(problem)

    def mapping(self, value: Any, path: Path, what: str) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if value is not None:
            self.error(path, f"{what} must be a mapping, not {kind(value)}")
        return {}

    def keys(self, data: dict[str, Any], allowed: Iterable[str], path: Path, what: str) -> None:
        allowed = set(allowed)
        for key in data:
            if key not in allowed:
                self.error((*path, key), f"unknown key {key!r} in {what}{closest(key, allowed)}")

    def string(self, value: Any, path: Path, what: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.error_in(path, 0, f"{what} must be a non-empty string, not {kind(value)}")
        return None

    def strings(self, value: Any, path: Path, what: str) -> list[str]:
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.error_in(
                path, 0, f"{what} must be a string or a list of strings, not {kind(value)}"
            )
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                out.append(str(item))
            else:
                self.error_in((*path, i), 0, f"{what} must be strings, not {kind(item)}")
        return out

    def boolean(self, value: Any, path: Path, what: str) -> bool:
        if isinstance(value, bool):
            return value
        self.error_in(path, 0, f"{what} must be true or false, not {kind(value)}")
        return False

    def number(self, value: Any, path: Path, what: str, *, low: float = 0.0) -> float | None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value > low:
            return float(value)
        self.error_in(path, 0, f"{what} must be a number above {low:g}, not {value!r}")
        return None

    def template(self, value: Any, path: Path) -> Template | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            self.error(path, f"text must be a string, not {kind(value)}")
            return None
        try:
            parsed = Template.parse(value)
        except TemplateError as exc:
            self.error_in(path, exc.column, f"bad template {value!r}: {exc}")
            return None
        self.template_uses.append((path, parsed))
        return parsed

    def templates(self, value: Any, path: Path) -> list[Template]:
        if isinstance(value, list):
            if not value:
                self.error(path, "give at least one wording")
            out = [self.template(v, (*path, i)) for i, v in enumerate(value)]
            return [t for t in out if t is not None]
        t = self.template(value, path)
        return [t] if t is not None else []

    def prompt(self, value: Any, path: Path, extra: dict[str, Any] | None = None) -> Prompt | None:
        """A question: a text, a list of wordings, or {prompt, timeout, retries, then}.

        ``extra`` holds timeout/retries/then given next to the text (the ``ask`` step form).
        """
        data = dict(extra or {})
        if isinstance(value, dict):
            self.keys(value, {"prompt", "timeout", "retries", "then"}, path, "a question")
            data.update(value)
            if "prompt" not in value:
                self.error(path, "a question needs 'prompt' (a text or a list of wordings)")
                return None
            wpath: Path = (*path, "prompt")
            value = value["prompt"]
        else:
            wpath = path
        wordings = self.templates(value, wpath)
        timeout = None
        if data.get("timeout") is not None:
            timeout = self.number(data["timeout"], (*path, "timeout"), "timeout (seconds)")
        retries = data.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            self.error((*path, "retries"), f"retries must be a whole number >= 0, not {retries!r}")
            retries = 0
        then = None
        if data.get("then") is not None:
            then = self.target(data["then"], (*path, "then"))
        if ("retries" in data or "then" in data) and timeout is None:
            self.error(path, "'retries' and 'then' need a 'timeout' (seconds)")
        if not wordings:
            return None
        return Prompt(tuple(wordings), timeout, retries, then)

    def condition(self, value: Any, path: Path) -> Condition | None:
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, str):
            self.error(path, f"a condition must be a string, not {kind(value)}")
            return None
        try:
            return Condition.parse(value)
        except ConditionError as exc:
            self.error_in(path, exc.column, f"cannot parse condition {value!r}: {exc}")
            return None

    def target(self, value: Any, path: Path) -> str | None:
        """A state name of the current unit, checked once every state is known."""
        name = self.string(value, path, "a target state")
        if name is not None:
            self.targets.append((path, self.unit, name))
        return name

    def call(self, value: Any, path: Path) -> str | None:
        """A unit name, checked once every unit is known."""
        name = self.string(value, path, "a unit name")
        if name is not None:
            self.calls.append((path, name))
        return name
