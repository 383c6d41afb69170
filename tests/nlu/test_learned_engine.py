"""A learned model driven through the engine: every recognizer call the engine makes exists.

The engine calls ``recognize``, ``extract``, ``extract_slots``, ``bare_values`` and
``open_answer`` on a model's recognizer; the learned recognizer once lacked the last two, so
a city said alone, or a city outside the list given to "Which city?", crashed the turn with
an AttributeError. Here the weather example runs with ``recognizer: learned``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dialoghub.engine.records import CommandAction, Reply, Session, Text
from dialoghub.engine.step import start, step
from dialoghub.model.loader import load_model_text
from dialoghub.model.spec import Model
from dialoghub.nlu import crf
from dialoghub.nlu.recognizer import Recognizer

pytestmark = pytest.mark.skipif(not crf.available(), reason="python-crfsuite not installed")

WEATHER = Path(__file__).resolve().parents[2] / "examples" / "weather" / "weather.yaml"


@pytest.fixture(scope="module")
def model() -> Model:
    text = WEATHER.read_text()
    assert "\nsettings:" not in text
    return load_model_text(text.replace("\nentities:", "\nsettings: {recognizer: learned}\n\nentities:", 1))


class _Talk:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.now = 1.0
        r = start(model, "t", now=self.now)
        self.session: Session = r.session
        self.actions = r.actions

    def send(self, text: str) -> list[str]:
        self.now += 1.0
        r = step(self.model, self.session, Text(text=text), self.now)
        self.session, self.actions = r.session, r.actions
        return [a.text for a in r.actions if isinstance(a, Reply)]

    def command(self) -> CommandAction:
        (cmd,) = [a for a in self.actions if isinstance(a, CommandAction)]
        return cmd


def test_the_model_is_learned(model: Model) -> None:
    assert type(model.recognizer).__name__ == "LearnedRecognizer"


def test_a_city_alone_asks_for_its_weather(model: Model) -> None:
    t = _Talk(model)
    t.send("London")
    assert t.command().params["city"] == "London"


def test_a_city_outside_the_list_answers_the_question(model: Model) -> None:
    t = _Talk(model)
    assert t.send("what's the weather like") == ["Which city?"]
    t.send("Grenoble")
    assert t.command().params["city"] == "Grenoble"


def test_the_learned_recognizer_offers_what_the_engine_calls() -> None:
    from dialoghub.nlu.learned import LearnedRecognizer

    engine_calls = {"recognize", "extract", "extract_slots", "bare_values", "open_answer"}
    assert engine_calls <= {n for n in dir(Recognizer) if not n.startswith("_")}
    assert engine_calls <= set(dir(LearnedRecognizer))


def test_bare_values_and_open_answer_are_the_matchers(model: Model) -> None:
    rec = model.recognizer
    bare = rec.bare_values("and Paris?")
    assert bare["city"].value == "Paris" and bare["city"].text == "Paris"
    assert rec.bare_values("weather in Paris") == {}
    opened = rec.open_answer("city", "Grenoble please")
    assert opened is not None and opened.value == "Grenoble"
    assert rec.open_answer("city", "London") is None  # a known value: not an open answer
