from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mapping import resolve_conflict
from mapping.conflicts import Winner
from mapping.spec import Conflict, Direction, Rule
from tests.factories import T0

EARLIER, LATER = T0, T0 + timedelta(minutes=5)


def rule(conflict: Conflict | None, direction: Direction = Direction.BOTH) -> Rule:
    return Rule(target="Field__c", sources=("stage",), direction=direction, conflict=conflict)


@pytest.mark.parametrize(
    ("conflict", "hub", "crm", "winner", "value"),
    [
        (Conflict.HUB_WINS, "a", "b", Winner.HUB, "a"),
        (Conflict.CRM_WINS, "a", "b", Winner.CRM, "b"),
        (Conflict.FILL_IF_BLANK, "a", None, Winner.HUB, "a"),
        (Conflict.FILL_IF_BLANK, "  ", "b", Winner.CRM, "b"),
        (Conflict.FILL_IF_BLANK, "a", "b", Winner.NEITHER, "a"),
    ],
)
def test_fixed_policies(conflict: Conflict, hub: str | None, crm: str | None, winner: Winner, value: str) -> None:
    outcome = resolve_conflict(rule(conflict), hub, EARLIER, crm, LATER)
    assert (outcome.winner, outcome.value) == (winner, value)


def test_newest_wins_compares_change_times() -> None:
    r = rule(Conflict.NEWEST_WINS)
    assert resolve_conflict(r, "granted", EARLIER, "denied", LATER).winner is Winner.CRM
    assert resolve_conflict(r, "granted", LATER, "denied", EARLIER).winner is Winner.HUB
    assert resolve_conflict(r, "granted", LATER, "denied", LATER).reason == "tie_hub"
    assert resolve_conflict(r, "granted", None, "denied", EARLIER).winner is Winner.CRM
    assert resolve_conflict(r, "granted", EARLIER, "denied", None).winner is Winner.HUB


def test_equal_values_need_no_write() -> None:
    outcome = resolve_conflict(rule(Conflict.CRM_WINS), "x", EARLIER, "x", LATER)
    assert outcome.winner is Winner.NEITHER
    assert not outcome.writes_crm and not outcome.writes_hub
    assert resolve_conflict(rule(Conflict.CRM_WINS), None, EARLIER, "", LATER).reason == "equal"


def test_a_one_way_rule_never_writes_the_side_it_does_not_flow_to() -> None:
    outbound = rule(Conflict.NEWEST_WINS, Direction.HUB_TO_CRM)
    assert resolve_conflict(outbound, "a", EARLIER, "b", LATER).winner is Winner.NEITHER
    assert resolve_conflict(outbound, "a", LATER, "b", EARLIER).writes_crm
    inbound = rule(None, Direction.CRM_TO_HUB)
    assert resolve_conflict(inbound, "a", LATER, "b", EARLIER).writes_hub  # crm_to_hub defaults to crm_wins


def test_one_way_rules_default_to_the_writing_side() -> None:
    assert resolve_conflict(rule(None, Direction.HUB_TO_CRM), "a", EARLIER, "b", LATER).writes_crm


def test_naive_times_and_source_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_conflict(rule(Conflict.NEWEST_WINS), "a", datetime(2026, 1, 1), "b", LATER)
    with pytest.raises(ValueError, match="CRM rules only"):
        resolve_conflict(Rule(target="email", sources=("e",)), "a", EARLIER, "b", LATER)
