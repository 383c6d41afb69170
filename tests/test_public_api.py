"""The curated public API: what ``import dialoghub`` offers is deliberate and documented."""

from __future__ import annotations

import inspect

import dialoghub


def test_all_is_sorted_and_complete() -> None:
    assert dialoghub.__all__ == sorted(dialoghub.__all__)
    public = {n for n in vars(dialoghub) if not n.startswith("_")} - {"annotations"}
    # modules imported as a side effect of importing submodules are not API
    public = {n for n in public if not inspect.ismodule(getattr(dialoghub, n)) or n == "errors"}
    assert public == set(dialoghub.__all__) - {"__version__"}


def test_every_public_class_and_function_is_documented() -> None:
    for name in dialoghub.__all__:
        obj = getattr(dialoghub, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"dialoghub.{name} has no docstring"
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"dialoghub.{name}.{attr} has no docstring"


def test_errors_have_one_root() -> None:
    from dialoghub import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        if inspect.isclass(cls) and issubclass(cls, Exception):
            assert issubclass(cls, errors.DialoghubError), name
