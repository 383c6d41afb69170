"""Loading models from files and folders: parse, compile, and refuse anything half-valid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialoghub.errors import ModelTooComplex, ModelValidationError, Problem
from dialoghub.model.compile import compile_model
from dialoghub.model.source import (
    DEFAULT_LIMITS,
    SourceError,
    SourceLimitError,
    SourceLimits,
    read_source,
)
from dialoghub.model.spec import Model
from dialoghub.nlu.types import EntitySpec, IntentSpec

if TYPE_CHECKING:
    from dialoghub.nlu.learned import LearnedRecognizer
    from dialoghub.nlu.recognizer import Recognizer

__all__ = [
    "MODEL_SUFFIXES",
    "ModelTooComplex",
    "load_model",
    "load_model_text",
    "load_models",
]

MODEL_SUFFIXES = (".yaml", ".yml", ".json")


def _recognizer(
    intents: list[IntentSpec], entities: list[EntitySpec], threshold: float, kind: str = "matcher"
) -> Recognizer | LearnedRecognizer:
    # Imported here so that merely reading the model layer does not build the NLU tables.
    if kind == "learned":  # settings.recognizer (issue 15); needs the nlu extra
        from dialoghub.nlu.learned import LearnedRecognizer

        return LearnedRecognizer(intents, entities, threshold=threshold)
    from dialoghub.nlu.recognizer import Recognizer

    return Recognizer(intents, entities, threshold=threshold)


def load_model_text(
    text: str,
    file: str = "<model>",
    *,
    code_base: str | Path | None = None,
    limits: SourceLimits = DEFAULT_LIMITS,
    functions: Any = None,
) -> Model:
    """Compile one model from YAML or JSON text; raises ModelValidationError with every problem.

    Code units (``units: {u: {python: ...}}``) are loaded only when ``code_base`` is given:
    the folder a ``.py`` file is found in (:func:`load_model` passes the model file's own
    folder). Without it they are refused, so text from elsewhere (a posted model) never
    imports or runs anything. ModelTooComplex if the text is over one of ``limits``.
    ``functions`` (a :class:`dialoghub.engine.chart.Registry`) are the guards and actions an
    XState machine may name.
    """
    early: list[Problem] = []
    base = Path(code_base).resolve() if code_base is not None else None
    try:
        located = read_source(text, file, limits, code_base=base)
    except SourceLimitError as exc:
        raise ModelTooComplex(exc.problems[0], exc.limit) from None
    except SourceError as exc:
        if exc.located is None:
            raise ModelValidationError(exc.problems) from None
        # e.g. a duplicate key: keep checking the rest, so every problem is reported at once
        early, located = exc.problems, exc.located
    try:
        model, problems = compile_model(located, _recognizer, functions)
    except RecursionError:
        # the data is at most 64 levels deep, but one string (a condition such as
        # "not not not ... x" or "((((x))))") can still nest past Python's recursion limit
        raise ModelTooComplex(
            Problem("an expression in the model is nested too deeply to compile", file, 1, 1),
            "recursion",
        ) from None
    problems = sorted([*early, *problems], key=lambda p: (p.line, p.column))
    if model is None or problems:
        raise ModelValidationError(problems or [Problem("the model is invalid", file)])
    return model


def load_model(path: str | Path, *, functions: Any = None) -> Model:
    """Load one model file (``functions``: see :func:`load_model_text`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelValidationError([Problem("no such file", str(p))]) from None
    except UnicodeDecodeError as exc:
        raise ModelValidationError(
            [Problem(f"not UTF-8 text (byte {exc.start})", str(p))]
        ) from None
    except OSError as exc:
        raise ModelValidationError([Problem(f"cannot read: {exc.strerror}", str(p))]) from None
    return load_model_text(text, str(p), code_base=p.resolve().parent, functions=functions)


def load_models(path: str | Path, *, functions: Any = None) -> list[Model]:
    """Load a model file, or every model file in a folder (not recursive), all or nothing.

    Problems of every file are gathered and raised together, and duplicate model ids across
    files are reported, so a folder never loads half-valid.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in MODEL_SUFFIXES and f.is_file())
        if not files:
            raise ModelValidationError(
                [Problem(f"no model files ({', '.join(MODEL_SUFFIXES)}) in this folder", str(p))]
            )
    else:
        files = [p]
    models: list[Model] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for f in files:
        try:
            model = load_model(f, functions=functions)
        except ModelValidationError as exc:
            problems.extend(exc.problems)
            continue
        if model.id in seen:
            problems.append(
                Problem(f"model id {model.id!r} is already defined in {seen[model.id]}", str(f))
            )
            continue
        seen[model.id] = str(f)
        models.append(model)
    if problems:
        raise ModelValidationError(problems)
    return models
