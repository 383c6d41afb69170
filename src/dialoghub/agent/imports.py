"""Importing the operator's own Python (plugin and agent modules), by file path or name.

Only what the operator names on the command line or in code is imported: never anything that
arrives over the network.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from dialoghub.errors import InvalidInput

__all__ = ["import_spec"]


def import_spec(spec: str, what: str) -> ModuleType:
    """The module ``spec`` names: a ``.py`` file (or any existing file) or a dotted module
    name; ``what`` ("plugin", "agent") says in the errors what it was meant to be."""
    path = Path(spec)
    if spec.endswith(".py") or path.is_file():
        if not path.is_file():
            raise InvalidInput(f"{what} file {spec!r} does not exist")
        mod_spec = importlib.util.spec_from_file_location(f"dialoghub_{what}_{path.stem}", path)
        if mod_spec is None or mod_spec.loader is None:
            raise InvalidInput(f"cannot load {what} file {spec!r}")
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(spec)
    except ImportError as exc:
        raise InvalidInput(f"cannot import {what} module {spec!r}: {exc}") from None
