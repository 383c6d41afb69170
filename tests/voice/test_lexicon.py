"""Pronunciations for the words the CMU dictionary lacks, from espeak-ng's rules."""

# ruff: noqa: RUF001  (the IPA signs are meant: what espeak-ng prints)

from __future__ import annotations

from pathlib import Path

from dialoghub.model.loader import load_model
from dialoghub.voice.domain import whole_model
from dialoghub.voice.engines import PocketSphinx, _Dictionary
from dialoghub.voice.lexicon import guess, to_arpabet
from tests.conftest import EXAMPLES
from tests.voice.conftest import need_speech


def test_espeak_s_ipa_maps_onto_the_dictionary_s_phones() -> None:
    assert to_arpabet("wˈɔːɾɚ") == "W AO T ER"  # water: the flap is a T
    assert to_arpabet("bˈʌʔn̩") == "B AH T AH N"  # button: a syllabic n
    assert to_arpabet("mˌɑːɹɡɚɹˈiːɾə") == "M AA R G ER IY T AH"  # margherita
    assert to_arpabet("tʃˈɜːtʃ") == "CH ER CH"


def test_words_the_dictionary_lacks_are_guessed_and_short_ones_spelled_too() -> None:
    need_speech()
    entries = _Dictionary.entries()
    # a word the dictionary has comes out as the dictionary has it
    assert guess(["bottle"], {})["bottle"] == entries["bottle"]
    found = guess(["margherita", "nyc", "pizza"], entries)
    assert "pizza" not in found  # known words are not guessed
    assert found["margherita"] == ["margherita M AA R G ER IY T AH\n"]
    assert found["nyc"][0] == "nyc EH N W AY S IY\n"  # "en why see", as it is said


def test_a_domain_keeps_the_sentences_of_guessed_words(tmp_path: Path) -> None:
    need_speech()
    built = PocketSphinx(cache_dir=str(tmp_path)).built(
        whole_model(load_model(EXAMPLES / "pizza" / "pizza.yaml"))
    )
    assert "margherita" in built.guessed and "margherita" not in built.missing
    assert "margherita" in Path(built.dict).read_text()
    assert " margherita " in Path(built.lm).read_text()
