"""The shape of the ``dialoghub.cli`` package: ``--help`` loads no server dependency, the
command modules import only ``common`` (and ``remote``), and nothing outside the package
imports the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import dialoghub

PACKAGE = Path(dialoghub.__file__).parent
CLI = PACKAGE / "cli"

#: Imported only when a server command (serve, keys, --server) runs.
SERVER_ONLY = ("starlette", "uvicorn", "prometheus_client", "cryptography", "websockets",
               "dialoghub.server", "dialoghub.client")


def test_help_imports_no_server_dependency() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dialoghub.cli", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout and "serve" in done.stdout
    # importtime lines: "import time: self [us] | cumulative | <indent>module"
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "dialoghub.cli.common" in imported
    loaded = sorted(m for m in imported if m.startswith(SERVER_ONLY))
    assert not loaded, f"dialoghub --help imports {loaded}"


def test_every_command_help_imports_no_server_dependency() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from dialoghub.cli import main\n"
        "runner = CliRunner()\n"
        "def walk(cmd, path):\n"
        "    r = runner.invoke(main, [*path, '--help'])\n"
        "    assert r.exit_code == 0, (path, r.output)\n"
        "    for name, sub in getattr(cmd, 'commands', {}).items():\n"
        "        walk(sub, [*path, name])\n"
        "walk(main, [])\n"
        f"print(sorted(m for m in sys.modules if m.startswith({SERVER_ONLY!r})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from a import b`` gives a and a.b)."""
    package = "dialoghub." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.removesuffix(".__init__")
    else:
        package = package.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_command_modules_import_only_common_and_remote() -> None:
    common = "dialoghub.cli.common"
    allowed = {
        "common": set(),
        "chat": {common},  # the chat loop of chat and chat --server
        "plugin_hub": set(),  # serve --plugins
        "remote": {common, "dialoghub.cli.chat"},
        "dialogs": {common, "dialoghub.cli.remote", "dialoghub.cli.chat"},
        "sessions": {common, "dialoghub.cli.remote"},
        "serve": {common, "dialoghub.cli.plugin_hub"},
        "keys": {common},
        "store": {common},
        "review": {common},
        "talk": {common},
        "decisions": {common},
    }
    modules = {p.stem for p in CLI.glob("*.py")} - {"__init__", "__main__"}
    assert modules == set(allowed)
    for name, ok in allowed.items():
        cli_imports = {m for m in _imports(CLI / f"{name}.py")
                       if m == "dialoghub.cli" or m.startswith("dialoghub.cli.")}
        # "from dialoghub.cli.common import show" also lists dialoghub.cli.common.show
        modules_used = {m for m in cli_imports if m.count(".") <= 2}
        assert modules_used <= ok, f"cli/{name}.py imports {sorted(modules_used - ok)}"


def test_nothing_outside_the_cli_imports_it() -> None:
    for path in PACKAGE.rglob("*.py"):
        if CLI in path.parents:
            continue
        bad = {m for m in _imports(path) if m == "dialoghub.cli" or m.startswith("dialoghub.cli.")}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"
