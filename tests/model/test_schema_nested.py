"""The JSON Schema and the key lists know the states of a dialog model whose states nest
(``states``, ``initial``, ``type: parallel``, ``final`` inside a state; model/chart_dialog.py),
as docs/statecharts.md writes them, and still refuse them in a flat state's place."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dialoghub.errors import ModelValidationError
from dialoghub.model import chart_dialog
from dialoghub.model.keys import KEYS
from dialoghub.model.loader import load_model_text
from dialoghub.model.source import read_source

SCHEMA: dict[str, Any] = json.loads(
    resources.files("dialoghub.model").joinpath("schema.json").read_text(encoding="utf-8")
)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "statecharts.md"


def _doc_models() -> list[str]:
    blocks = DOCS.read_text(encoding="utf-8").split("```yaml\n")[1:]
    return [b.split("```", 1)[0] for b in blocks if b.startswith("id:")]


def test_the_nested_state_keys_are_the_ones_the_compiler_accepts() -> None:
    assert KEYS["nested_state"] == chart_dialog._STATE_KEYS
    assert set(SCHEMA["$defs"]["nested_state"]["oneOf"][1]["properties"]) == set(
        KEYS["nested_state"]
    )


def test_every_nested_model_of_the_statecharts_page_validates_and_compiles() -> None:
    models = _doc_models()
    assert models, "docs/statecharts.md has a dialog model whose states nest"
    for text in models:
        data = read_source(text).data
        assert chart_dialog.has_nested_states(data)
        jsonschema.validate(data, SCHEMA)
        assert load_model_text(text).id == data["id"]


NESTED = {
    "id": "n",
    "intents": {"go": ["go"]},
    "states": {
        "a": {"type": "parallel", "states": {"x": {"states": {"x1": {}}}, "y": {}}},
        "b": {"initial": "b2", "states": {"b1": {}, "b2": {"final": True}}},
    },
}


def test_a_nested_model_validates() -> None:
    jsonschema.validate(NESTED, SCHEMA)


@pytest.mark.parametrize(
    "state",
    [
        {"type": "compound", "states": {"x": {}}},  # only `parallel` is a type
        {"states": {"x": {"finall": True}}},  # an unknown key, deep down
        {"states": {"x": {"do": [{"say": "hi"}]}}},  # the flat language's keys are refused
        {"initial": "", "states": {"x": {}}},
        {"states": {"x": {"on": {"go": 3}}}},  # a target is a state's name
    ],
)
def test_the_schema_refuses_a_bad_nested_state(state: dict[str, Any]) -> None:
    bad = {**NESTED, "states": {**NESTED["states"], "c": state}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_a_flat_state_still_refuses_the_nested_keys() -> None:
    assert not KEYS["state"] & {"states", "initial", "type"}
    with pytest.raises(ModelValidationError) as err:
        load_model_text("id: f\nstates:\n  a: {say: hi, initial: b, final: true}\n")
    assert "initial" in str(err.value)
    bad = {"id": "f", "states": {"a": {"say": "hi", "initial": "b", "final": True}}}
    with pytest.raises(jsonschema.ValidationError):  # not nested: a flat state, no `initial`
        jsonschema.validate(bad, SCHEMA)
