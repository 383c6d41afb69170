"""Mutation scores per module, from the results ``mutmut run`` left in ``mutants/``.

Run by ``make mutation`` after mutmut; by hand: ``.venv/bin/python -m tests.mutation.scores``
from the directory that holds ``mutants/``. Prints, for each module mutated, the mutants
killed, the survivors, the equivalent ones (``equivalent.toml``: a mutant that cannot change
behaviour, with the reason) and the score: killed / (mutants - equivalent). A mutant that
hangs (timeout) or that mutmut's type check rejects counts as killed; one no test reaches
counts as a survivor. ``--survivors`` lists the survivors not known to be equivalent, and
``--min SCORE`` fails (exit 1) when a module scores below it (a module none of whose
mutants has run yet, after a run narrowed to others, shows n/a and does not count).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 37, -24, 24, 152, 255, -11, -9}  # mutmut's exit codes for a caught mutant
SURVIVED = {0, 5, 33}  # survived, no tests, no tests reach it
# equivalent.toml, and one equivalent_<area>.toml per part of the core (so that work on
# different modules never edits one file)
EQUIVALENT = Path(__file__).parent


def equivalent() -> dict[str, str]:
    """Mutant name -> why it cannot change behaviour."""
    out: dict[str, str] = {}
    for path in sorted(EQUIVALENT.glob("equivalent*.toml")):
        with path.open("rb") as f:
            data = tomllib.load(f)
        for name, entry in data.get("mutant", {}).items():
            if name in out:
                raise ValueError(f"{path.name}: {name} is listed twice")
            out[name] = entry["why"]
    return out


def results(root: Path) -> dict[str, dict[str, int | None]]:
    """Module (dotted) -> mutant name -> mutmut's exit code (None: not run yet)."""
    out: dict[str, dict[str, int | None]] = {}
    for meta in sorted((root / "mutants" / "src").rglob("*.py.meta")):
        module = ".".join(
            meta.relative_to(root / "mutants" / "src").with_suffix("").with_suffix("").parts
        )
        out[module] = json.loads(meta.read_text())["exit_code_by_key"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--survivors", action="store_true", help="list unexplained survivors")
    parser.add_argument("--min", type=float, default=None, help="fail below this score (%%)")
    args = parser.parse_args(argv)
    known = equivalent()
    by_module = results(args.root)
    if not by_module:
        print(f"no mutmut results under {args.root / 'mutants'}; run `make mutation` first")
        return 1
    print(f"{'module':34} {'mutants':>7} {'killed':>7} {'survived':>8} {'equiv.':>6} "
          f"{'unrun':>5} {'score':>7}")  # fmt: skip
    low = False
    stale = [n for n in known if not any(n in codes for codes in by_module.values())]
    for module, codes in by_module.items():
        count = Counter(
            "unrun" if c is None else "killed" if c in KILLED else "survived"
            for c in codes.values()
        )
        eq = [n for n, c in codes.items() if n in known and c in SURVIVED]
        survivors = sorted(n for n, c in codes.items() if c in SURVIVED and n not in known)
        checked = count["killed"] + count["survived"] - len(eq)
        score = 100.0 * count["killed"] / checked if checked else None
        shown = "    n/a" if score is None else f"{score:6.1f}%"
        print(f"{module:34} {len(codes):7} {count['killed']:7} {len(survivors):8} {len(eq):6} "
              f"{count['unrun']:5} {shown}")  # fmt: skip
        if args.min is not None and score is not None and score < args.min:
            low = True
        if args.survivors:
            for name in survivors:
                print(f"    survived: {name}")
        for name in (n for n, c in codes.items() if n in known and c in KILLED):
            print(f"    listed as equivalent but killed (remove it from equivalent.toml): {name}")
    for name in stale:
        print(f"    listed as equivalent but not a mutant any more: {name}")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
