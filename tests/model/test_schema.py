"""The JSON Schema shipped with the package and the compiler accept the same language."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dialoghub.model import xstate_chart
from dialoghub.model.keys import KEYS, STEP_VERBS
from dialoghub.model.source import read_source
from tests.conftest import EXAMPLES

SCHEMA: dict[str, Any] = json.loads(
    resources.files("dialoghub.model").joinpath("schema.json").read_text(encoding="utf-8")
)
DEFS: dict[str, Any] = SCHEMA["$defs"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "models.md"


def _properties(definition: dict[str, Any]) -> set[str]:
    """The keys of a definition's object form (a definition may also allow a short form)."""
    if "properties" in definition:
        return set(definition["properties"])
    forms = [d for d in definition.get("oneOf", []) if "properties" in d]
    assert len(forms) == 1, definition
    return set(forms[0]["properties"])


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("construct", sorted(KEYS))
def test_every_key_the_compiler_accepts_is_in_the_schema_and_back(construct: str) -> None:
    assert _properties(DEFS[construct]) == set(KEYS[construct])


def test_every_step_verb_is_in_the_schema_and_back() -> None:
    refs = {d["$ref"].rsplit("/", 1)[1] for d in DEFS["step"]["oneOf"]}
    assert refs == {f"step_{verb}" for verb in STEP_VERBS}
    for verb, extra in STEP_VERBS.items():
        assert _properties(DEFS[f"step_{verb}"]) == {verb, *extra}, verb


def test_xstate_keys_match_the_compiler() -> None:
    # the root takes a node's keys, the machine-level ones, and dialoghub's own: the goal
    # `default` and the decision cycle's `decision`
    root = xstate_chart.NODE_KEYS | xstate_chart.ROOT_KEYS | {"default", "decision"}
    assert _properties(DEFS["xstate"]) == root
    assert _properties(DEFS["xstate_state"]) == xstate_chart.NODE_KEYS


def _examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*/*") if p.suffix in (".yaml", ".yml", ".json"))


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_every_example_model_validates_against_the_schema(path: Path) -> None:
    jsonschema.validate(read_source(path.read_text(encoding="utf-8")).data, SCHEMA)


def _doc_models() -> list[str]:
    blocks = DOCS.read_text(encoding="utf-8").split("```yaml\n")[1:]
    return [b.split("```", 1)[0] for b in blocks if b.startswith("id:")]


def test_every_model_in_the_reference_page_validates_against_the_schema() -> None:
    models = _doc_models()
    assert len(models) >= 10
    for text in models:
        jsonschema.validate(read_source(text).data, SCHEMA)


def test_the_schema_refuses_an_unknown_key() -> None:
    bad = {"id": "x", "states": {"a": {"final": True, "finall": True}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)
