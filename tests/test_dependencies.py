"""pyproject.toml declares what the code imports, and nothing it does not.

Every library that ``src/dialoghub`` imports is a dependency of the package or of one of its
runtime extras (``RUNTIME_EXTRAS``), and every one of those is imported somewhere in
``src/dialoghub``; what ``tests/`` imports is in the test extra (or what it pulls in), what
``benchmarks/`` imports in the bench extra. Tools that are run rather than imported are
named below with the reason. The version lives in one place: ``dialoghub.__version__``.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]
RUNTIME_EXTRAS = (
    "client", "server", "postgres", "redis", "nats", "nlu", "voice", "whisper", "piper",
)

#: runtime extras make test does not install: optional engines with large weights, whose
#: tests check the "not installed" answer (docs/voice.md)
NOT_TESTED_EXTRAS = ("whisper", "piper")

#: import name -> distribution, where they differ
DISTRIBUTION = {
    "yaml": "pyyaml",
    "prometheus_client": "prometheus-client",
    "langchain_core": "langchain-core",
    "google.adk": "google-adk",
    "google.genai": "google-genai",
    "langgraph.checkpoint.sqlite": "langgraph-checkpoint-sqlite",
    "pycrfsuite": "python-crfsuite",
    "nats": "nats-py",
    "grpc": "grpcio",
    "grpc_tools": "grpcio-tools",
    "google.protobuf": "protobuf",
    "sklearn": "scikit-learn",
    "piper": "piper-tts",
}
#: modules a test generates and imports from its own temporary folder (not distributions)
GENERATED = {"diatheke_pb2", "diatheke_pb2_grpc"}
#: declared but never imported, and why
NOT_IMPORTED = {
    "pytest-asyncio": "a pytest plugin (asyncio_mode = auto)",
    "mypy": "run by make test",
    "ruff": "run by make test",
    "import-linter": "run by make test (lint-imports)",
    "types-pyyaml": "stubs for mypy",
    "py-spy": "run as a program by benchmarks/http.py --profile",
    "aiosqlite": "the driver of ADK's sqlite+aiosqlite:// URL in the ADK benchmark",
    "sqlalchemy": "what ADK's DatabaseSessionService runs on",
    "python-multipart": "what Starlette's request.form() parses multipart messages with "
    "(server/routes_messages.py)",
    "grpcio-tools": "run by tests/voice to generate a gRPC client from the .proto",
    "mutmut": "run by make mutation",
}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found, requirement
    return normalize(found.group())


def declared(*extras: str, core: bool = True) -> set[str]:
    """The distributions the core and ``extras`` require, following ``dialoghub[...]``."""
    names: set[str] = set()
    pending = list(extras)
    seen: set[str] = set()
    requirements = list(PROJECT["dependencies"]) if core else []
    while pending:
        extra = pending.pop()
        if extra not in seen:
            seen.add(extra)
            requirements += EXTRAS[extra]
    for requirement in requirements:
        name = requirement_name(requirement)
        if name == "dialoghub":
            inner = re.search(r"\[([^]]*)\]", requirement)
            assert inner, requirement
            names |= declared(*(e.strip() for e in inner.group(1).split(",")))
        else:
            names.add(name)
    return names


@functools.cache
def imported(folder: str) -> dict[str, str]:
    """Third-party distribution -> one file importing it, for the Python files under
    ``folder`` (imports inside functions and under TYPE_CHECKING included)."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("dialoghub", "benchmarks", "tests"):
                    continue
                if top in GENERATED:
                    continue
                parts = module.split(".")
                prefixes = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
                name = next((DISTRIBUTION[p] for p in prefixes if p in DISTRIBUTION), None)
                name = name or normalize(top)
                found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_the_package_declares_what_it_imports() -> None:
    runtime = declared(*RUNTIME_EXTRAS)
    missing = {n: f for n, f in imported("src/dialoghub").items() if n not in runtime}
    assert not missing, f"imported but in no dependency or runtime extra: {missing}"


def test_the_package_imports_what_it_declares() -> None:
    uses = imported("src/dialoghub")
    unused = sorted(n for n in declared(*RUNTIME_EXTRAS) if n not in uses and n not in NOT_IMPORTED)
    assert not unused, f"declared (core or {', '.join(RUNTIME_EXTRAS)}) but never imported: {unused}"


def test_the_test_extra_covers_the_tests() -> None:
    test = declared("test")
    missing = {n: f for n, f in imported("tests").items() if n not in test}
    assert not missing, f"imported by tests but not in the test extra: {missing}"
    tested = set(RUNTIME_EXTRAS) - set(NOT_TESTED_EXTRAS)
    assert tested <= set(_self_extras("test")), "make test installs .[test] only"


def test_the_bench_extra_covers_the_benchmarks() -> None:
    bench = declared("bench")
    missing = {n: f for n, f in imported("benchmarks").items() if n not in bench}
    assert not missing, f"imported by benchmarks but not in the bench extra: {missing}"


def test_every_extra_requirement_is_used_or_explained() -> None:
    uses = set(imported("src/dialoghub")) | set(imported("tests")) | set(imported("benchmarks"))
    idle = sorted(
        n for extra in EXTRAS for n in declared(extra, core=False)
        if n not in uses and n not in NOT_IMPORTED
    )
    assert not idle, f"declared but imported nowhere (drop them, or say why here): {idle}"


def test_every_requirement_has_a_lower_bound() -> None:
    requirements = [*PROJECT["dependencies"], *(r for rs in EXTRAS.values() for r in rs)]
    unbounded = [
        r for r in requirements if requirement_name(r) != "dialoghub" and ">=" not in r
    ]
    assert not unbounded, f"no lower bound: {unbounded}"


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT, "the version is read from dialoghub.__version__"
    assert "version" in PROJECT["dynamic"]
    hatch = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["version"]
    assert hatch == {"path": "src/dialoghub/__init__.py"}
    source = (ROOT / hatch["path"]).read_text()
    assert re.search(r'^__version__ = "[^"]+"$', source, re.M)


def _self_extras(extra: str) -> list[str]:
    names: list[str] = []
    for requirement in EXTRAS[extra]:
        if requirement_name(requirement) == "dialoghub":
            inner = re.search(r"\[([^]]*)\]", requirement)
            assert inner
            names += [e.strip() for e in inner.group(1).split(",")]
    return names
