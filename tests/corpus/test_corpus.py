"""The labelled corpus measures triage as a whole; these are correctness thresholds, not timings.

Red-flag recall is 100 % over the whole corpus or the build is red. Intent accuracy must reach 90 %
on the development part (what the rules were tuned on) and 85 % on the held-out part (what nobody
tuned them on), and the needs F1 0.9. The corpus itself is checked too: its size, both languages,
every red-flag category at least ten times per language, and the near misses.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hub.inbound.triage_eval import Case, PartFigures, evaluate, load_corpus, report
from hub.settings.config import HubConfig

CORPUS = Path(__file__).parent
RED_FLAGS = (
    "chest_pain", "breathing", "stroke", "anaphylaxis", "self_harm", "overdose_poisoning", "severe_bleeding",
    "pregnancy_bleeding_or_movement", "newborn_fever", "seizure", "head_injury_confusion",
)  # fmt: skip


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_corpus(sorted(CORPUS.glob("*.jsonl")))


@pytest.fixture(scope="module")
def figures(cases: list[Case], config: HubConfig) -> dict[str, PartFigures]:
    return report(evaluate(cases, config))


def test_the_corpus_is_large_bilingual_and_split(cases: list[Case]) -> None:
    assert len(cases) >= 400
    assert len({c.id for c in cases}) == len(cases)
    parts = Counter(c.part for c in cases)
    assert parts["dev"] >= 200 and parts["heldout"] >= 200
    languages = Counter(c.expect["language"] for c in cases)
    assert languages["en"] >= 150 and languages["es"] >= 150


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("category", RED_FLAGS)
def test_every_red_flag_category_has_ten_cases_per_language(cases: list[Case], category: str, language: str) -> None:
    found = [c for c in cases if c.expect["red_flag"] == category and c.expect["language"] == language]
    assert len(found) >= 10


def test_there_are_near_misses_that_must_not_be_urgent(cases: list[Case]) -> None:
    near = [c for c in cases if c.expect.get("near_miss")]
    assert len(near) >= 40
    assert not any(c.expect["urgent"] for c in near)


def test_every_red_flag_is_caught(figures: dict[str, PartFigures]) -> None:
    assert figures["all"].missed_urgent == []
    assert figures["all"].red_flag_recall == 1.0


def test_intent_accuracy_on_the_development_part(figures: dict[str, PartFigures]) -> None:
    assert figures["dev"].intent_accuracy >= 0.90


def test_intent_accuracy_on_the_held_out_part(figures: dict[str, PartFigures]) -> None:
    assert figures["heldout"].intent_accuracy >= 0.85


def test_needs_f1(figures: dict[str, PartFigures]) -> None:
    assert figures["dev"].needs_f1 >= 0.9
    assert figures["heldout"].needs_f1 >= 0.9


def test_no_inquiry_of_the_corpus_is_refused(figures: dict[str, PartFigures]) -> None:
    assert figures["all"].errors == []
