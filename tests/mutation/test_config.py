"""The mutation-testing setup stays consistent: configuration, equivalent list, scores, docs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.golden import test_golden
from tests.mutation import scores

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
DOC = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")


def _module(path: str) -> str:
    return path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def test_the_mutated_modules_exist_and_are_documented() -> None:
    assert CONFIG["only_mutate"]
    for path in CONFIG["only_mutate"]:
        assert (ROOT / path).is_file(), path
        assert f"`{path.removeprefix('src/dialoghub/')}`" in DOC, path
    for path in CONFIG["pytest_add_cli_args_test_selection"]:
        assert (ROOT / path).exists(), path


def test_every_equivalent_mutant_has_a_reason_and_a_mutated_module() -> None:
    modules = {_module(p) for p in CONFIG["only_mutate"]}
    known = scores.equivalent()
    assert known
    for name, why in known.items():
        module = name.rsplit(".", 1)[0]
        assert module in modules, name
        assert "__mutmut_" in name, name
        assert len(why.split()) >= 8, f"{name}: say why it cannot change behaviour"


def test_the_golden_update_variable_is_the_documented_one() -> None:
    assert "DIALOGHUB_GOLDEN_UPDATE=1 .venv/bin/pytest tests/golden" in DOC
    assert test_golden.__doc__ is not None
    assert "DIALOGHUB_GOLDEN_UPDATE=1" in test_golden.__doc__


def _meta(root: Path, module: str, codes: dict[str, int | None]) -> None:
    path = root / "mutants" / "src" / (module.replace(".", "/") + ".py.meta")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


def test_scores_leave_equivalent_mutants_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = "dialoghub.model.conditions"
    monkeypatch.setattr(scores, "equivalent", lambda: {f"{mod}.x_f__mutmut_3": "never reached"})
    codes = {f"{mod}.x_f__mutmut_{k}": 1 for k in range(1, 9)}  # 8 killed
    codes[f"{mod}.x_f__mutmut_3"] = 0  # survived, equivalent
    codes[f"{mod}.x_f__mutmut_9"] = 0  # survived
    codes[f"{mod}.x_f__mutmut_10"] = 33  # no test reaches it: a survivor
    codes[f"{mod}.x_f__mutmut_11"] = 36  # timeout: caught
    _meta(tmp_path, mod, codes)
    _meta(tmp_path, "dialoghub.engine.fold", {"dialoghub.engine.fold.x_g__mutmut_1": None})
    assert scores.main(["--root", str(tmp_path), "--survivors", "--min", "80"]) == 0
    out = capsys.readouterr().out
    # 8 killed (7 + the timeout) of 11 mutants less 1 equivalent: 80.0%
    assert f"{mod:34}      11       8        2      1     0   80.0%" in out
    assert f"survived: {mod}.x_f__mutmut_9" in out
    assert f"survived: {mod}.x_f__mutmut_10" in out
    assert f"survived: {mod}.x_f__mutmut_3" not in out
    assert "dialoghub.engine.fold" in out and "n/a" in out
    assert scores.main(["--root", str(tmp_path), "--min", "80.1"]) == 1


def test_scores_without_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scores.main(["--root", str(tmp_path)]) == 1
    assert "run `make mutation` first" in capsys.readouterr().out
