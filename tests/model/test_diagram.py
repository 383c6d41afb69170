"""The weather model drawn as Mermaid, DOT and SVG: every state, transition, wait and command."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from dialoghub.model import diagram
from dialoghub.model.diagram import GraphvizMissing, edges, to_dot, to_mermaid, to_svg
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model

ARROW = re.compile(r"^\s*(\S+) --> (\S+)(?: : (.*))?$")


def _arrows(text: str) -> set[tuple[str, str, str]]:
    out = set()
    for line in text.splitlines():
        m = ARROW.match(line)
        if m:
            out.add((m[1], m[2], m[3] or ""))
    return out


def test_mermaid_shows_start_transitions_and_final(weather: Model) -> None:
    text = to_mermaid(weather)
    assert text.startswith("stateDiagram-v2\n")
    arrows = _arrows(text)
    assert ("[*]", "start", "") in arrows
    assert ("start", "listen", "") in arrows
    assert {("listen", "greet", "greet"), ("listen", "forecast", "get_weather")} <= arrows
    assert {("listen", "welcome", "thanks"), ("listen", "bye", "goodbye")} <= arrows
    assert ("forecast", "unknown_city", "lookup_weather failed") in arrows
    assert ("forecast", "listen", "") in arrows
    assert ("bye", "[*]", "") in arrows
    # every state of the model appears in some arrow
    named = {a for a, _, _ in arrows} | {b for _, b, _ in arrows}
    assert set(weather.states) <= named


def test_mermaid_marks_waits_and_commands(weather: Model) -> None:
    lines = to_mermaid(weather).splitlines()
    assert "    listen : waits for input" in lines
    assert "    forecast : runs lookup_weather" in lines
    assert "    class listen waiting" in lines
    assert "    class forecast command" in lines
    assert "    class bye final" in lines


def test_edges_are_listed_once_in_order(weather: Model) -> None:
    found = [(e.source, e.target, e.kind) for e in edges(weather)]
    assert len(found) == len(set(found))
    assert found[0] == ("start", "listen", "next")
    assert ("forecast", "unknown_city", "error") in found


def test_mermaid_escapes_awkward_names_and_labels() -> None:
    model = load_model_text(
        """
id: odd
events: [go]
states:
  first-step:
    on:
      go:
        - goto: end
          when: 'x == "a;b#c"'
        - first-step
  end:
    final: true
"""
    )
    text = to_mermaid(model)
    assert 'state "first-step" as s0' in text
    assert 'state "end" as s1' in text  # 'end' is a Mermaid keyword
    assert "s0 --> s1 : go [x == #quot;a#59;b#35;c#quot;]" in text
    assert "s0 --> s0 : go" in text


def test_dot_has_a_node_per_state_and_labelled_edges(weather: Model) -> None:
    dot = to_dot(weather)
    assert dot.startswith('digraph "weather" {')
    for name in weather.states:
        assert f'"main/{name}" [label="{name}' in dot
    assert '"main/listen" -> "main/forecast" [label="get_weather"];' in dot
    error = '"main/forecast" -> "main/unknown_city" [label="lookup_weather failed", style=dashed];'
    assert error in dot
    assert "peripheries=2" in dot  # the final state


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_svg_is_an_svg_with_every_state(weather: Model) -> None:
    svg = to_svg(weather)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = {t.text for t in root.iter() if t.tag.endswith("text")}
    assert set(weather.states) <= texts
    assert "get_weather" in texts


def test_svg_without_graphviz_says_what_to_install(
    weather: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diagram.shutil, "which", lambda _name: None)
    with pytest.raises(GraphvizMissing, match="install Graphviz"):
        to_svg(weather)
