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


#: Every import path the README and docs/ show (and the 0.1 README's ``dialoghub.runner``):
#: moving a module must keep these working.
DOCUMENTED_PATHS = {
    "dialoghub": ["Hub", "SyncHub", "Text", "SessionView", "open_store", "load_model"],
    "dialoghub.agent": ["Runner", "load_plugins", "AgentApp", "SyncAgentApp", "Plugins",
                        "RulePlanner", "LLMPlanner", "Turn", "AgentEvent", "EventType"],
    "dialoghub.runner": ["Runner", "load_plugins"],
    "dialoghub.client": ["Client", "SyncClient", "APIError"],
    "dialoghub.engine.code": ["Context"],
    "dialoghub.model.codeunit": ["CodeUnit"],
    "dialoghub.hub": ["Hub", "SessionView", "DEFAULT_STORE"],
    "dialoghub.server": ["Settings", "create_app"],
    "dialoghub.wire": ["ViewOut", "CreateSession"],
    "dialoghub.errors": ["DialoghubError", "InvalidInput"],
    "dialoghub.cli": ["main"],
    "dialoghub.engine.records": ["Text", "Vote", "PairVote"],
    "dialoghub.decision": ["Driver"],
    "dialoghub.model.loader": ["load_model_text"],
    "dialoghub.nlu": ["IntentSpec", "Recognizer"],
    "dialoghub.nlu.learned": ["LearnedRecognizer", "content_key", "export_trained",
                              "import_trained"],
    "dialoghub.provider": ["Call", "LockSpec", "RoutedClient", "current_session"],
}


def test_documented_import_paths_keep_working() -> None:
    import importlib

    for module, names in DOCUMENTED_PATHS.items():
        mod = importlib.import_module(module)
        for name in names:
            assert hasattr(mod, name), f"from {module} import {name} no longer works"


def test_the_docs_show_no_import_path_outside_the_pinned_ones() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shown: set[tuple[str, str]] = set()
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for module, names in re.findall(r"from (dialoghub[\w.]*) import ([\w, ]+)", doc.read_text()):
            shown |= {(module, n.strip()) for n in names.split(",") if n.strip()}
    pinned = {(m, n) for m, names in DOCUMENTED_PATHS.items() for n in names}
    assert shown <= pinned, f"pin these in DOCUMENTED_PATHS: {sorted(shown - pinned)}"
