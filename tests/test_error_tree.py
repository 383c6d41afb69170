"""One exception tree: every exception class of the package is a DialoghubError, is defined in
dialoghub.errors, and is drawn (under its real parent) in that module's docstring.

Every module of the package is imported, one test case each, so a module that cannot be
imported is named in the report: a missing optional driver skips that module with its name, any
other import error fails. A ``__main__`` module runs the program when imported, so it is read
instead and must define no class.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import dialoghub
from dialoghub import errors
from dialoghub.errors import DialoghubError


def _walk() -> list[str]:
    """Every module name of the package; a package whose import fails while walking is listed
    too (its submodules cannot be), and its test case says why."""
    broken: list[str] = []
    names = [
        info.name
        for info in pkgutil.walk_packages(dialoghub.__path__, "dialoghub.", onerror=broken.append)
    ]
    return sorted({"dialoghub", *names, *broken})


MODULES = _walk()


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing.partition(".")[0] == "dialoghub":
            raise
        pytest.skip(f"{name} not checked: it needs {missing!r}, which is not installed")


def _exceptions(module: ModuleType) -> list[type[BaseException]]:
    """The exception classes of dialoghub visible in ``module`` (its own and imported ones)."""
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__.partition(".")[0] == "dialoghub"
    ]


def _drawing() -> dict[str, str | None]:
    """The tree in errors.py's docstring: class name -> the name of its parent (None: root)."""
    doc = errors.__doc__ or ""
    lines = doc.splitlines()
    start = lines.index("    DialoghubError")
    parents: dict[str, str | None] = {"DialoghubError": None}
    path = ["DialoghubError"]  # the open branch: path[d] is the last node drawn at depth d
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        m = re.match(r"    ((?:[│ ]   )*)[├└]── (\w+)", line)
        if m is None:  # a description running on to a second line
            assert re.match(r"    [│ ]*\s{2,}\S", line), f"unreadable drawing line: {line!r}"
            continue
        depth = len(m.group(1)) // 4 + 1
        name = m.group(2)
        assert name not in parents, f"{name} is drawn twice"
        del path[depth:]
        parents[name] = path[depth - 1]
        path.append(name)
    return parents


DRAWN = _drawing()


@pytest.mark.parametrize("name", MODULES)
def test_every_exception_is_in_the_tree(name: str) -> None:
    if name.rpartition(".")[2] == "__main__":
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        assert not classes, f"{name} runs on import: define {classes} in another module"
        return
    module = _import(name)
    for cls in _exceptions(module):
        qualname = f"{cls.__module__}.{cls.__qualname__}"
        if cls.__name__.startswith("_"):
            continue  # private control flow, never raised to a caller
        assert issubclass(cls, DialoghubError), f"{qualname} is not a DialoghubError"
        assert cls.__module__ == "dialoghub.errors", (
            f"{qualname}: define it in dialoghub.errors (and import it from there)"
        )
        assert cls.__name__ in DRAWN, f"{qualname} is missing from the drawing in errors.py"


def test_walk_found_the_package() -> None:
    # a package whose import fails is listed too: its own test case above says why
    for expected in ("dialoghub.errors", "dialoghub.server.errors", "dialoghub.stores._jsonlog"):
        assert expected in MODULES


def test_drawing_matches_the_classes() -> None:
    for name, parent in DRAWN.items():
        cls = getattr(errors, name, None)
        assert inspect.isclass(cls) and issubclass(cls, BaseException), (
            f"{name} is drawn but dialoghub.errors has no such exception"
        )
        assert name in errors.__all__, f"{name} is drawn but not in errors.__all__"
        if parent is not None:
            # the first base is the tree parent; a second one is a built-in callers catch
            assert cls.__bases__[0] is getattr(errors, parent), (
                f"{name} is drawn under {parent} but derives from {cls.__bases__[0].__name__}"
            )
            assert all(
                b.__module__ == "builtins" for b in cls.__bases__[1:]
            ), f"{name}: a second base of dialoghub's own would make a second tree"
    public = [
        n
        for n in errors.__all__
        if inspect.isclass(getattr(errors, n)) and issubclass(getattr(errors, n), BaseException)
    ]
    assert sorted(public) == sorted(DRAWN), "errors.__all__ and the drawing differ"


def test_second_bases_keep_their_catchers() -> None:
    """The classes that were ValueError/OSError before the tree still are."""
    for cls in (errors.ConditionError, errors.TemplateError, errors.CodeUnitError,
                errors.LogCorrupt, errors.EntryError):
        assert issubclass(cls, ValueError), cls
    assert issubclass(errors.LogBroken, OSError)
    broken = errors.LogBroken("disk full")
    assert str(broken) == "disk full" and broken.args == ("disk full",)
    corrupt = errors.LogCorrupt(3, "not JSON")
    assert (corrupt.lineno, corrupt.args[0]) == (3, "line 3: not JSON")
    condition = errors.ConditionError("expected a value", 4)
    assert (str(condition), condition.column) == ("expected a value", 4)


def test_old_import_paths_still_work() -> None:
    from dialoghub.client import APIError
    from dialoghub.model.codeunit import CodeUnitError
    from dialoghub.model.conditions import ConditionError
    from dialoghub.model.diagram import GraphvizMissing
    from dialoghub.model.loader import ModelTooComplex
    from dialoghub.model.source import SourceError, SourceLimitError
    from dialoghub.model.templates import TemplateError
    from dialoghub.server.errors import (
        BadRequest,
        Forbidden,
        HTTPError,
        NotFound,
        PayloadTooLarge,
        RateLimited,
        RequestTimeout,
        Unauthorized,
    )
    from dialoghub.server.limits import AuthRateLimited, BodyTimeout
    from dialoghub.server.routes_keys import KeysDisabled
    from dialoghub.server.settings import SettingsError
    from dialoghub.server.tokens import InvalidToken, StaleToken, TokenExpired, TokenTooLarge
    from dialoghub.stores._jsonlog import LogBroken, LogCorrupt
    from dialoghub.stores._naif import EntryError
    from dialoghub.stores.migrations import SchemaTooNew, SchemaTooOld

    moved = [
        APIError, CodeUnitError, ConditionError, GraphvizMissing, ModelTooComplex, SourceError,
        SourceLimitError, TemplateError, BadRequest, Forbidden, HTTPError, NotFound,
        PayloadTooLarge, RateLimited, RequestTimeout, Unauthorized, AuthRateLimited, BodyTimeout,
        KeysDisabled, SettingsError, InvalidToken, StaleToken, TokenExpired, TokenTooLarge,
        LogBroken, LogCorrupt, EntryError, SchemaTooNew, SchemaTooOld,
    ]
    for cls in moved:
        assert getattr(errors, cls.__name__) is cls
