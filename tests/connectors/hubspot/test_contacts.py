"""Contacts: batch upserts by the hub's id, the records HubSpot refuses (answered 207 Multi-Status,
or isolated by splitting on a portal that fails whole batches), and existence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import RecordWrite
from connectors.hubspot import HubSpotConnector
from nurture.errors import ConfigError
from sandboxes.hubspot import HubSpotSandbox
from tests.canary import CANARY_EMAIL, CANARY_FIRST, CANARY_LAST, CANARY_TEXT
from tests.fixtures.hubspot_connector import HubSpotStaff

UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def lead(n: int, **fields: object) -> RecordWrite:
    return RecordWrite(
        external_id=f"nh_{n:06d}",
        fields={"firstname": CANARY_FIRST, "lastname": CANARY_LAST, "nurturehub_score": "B", **fields},
    )


def test_a_thousand_new_contacts_take_ten_calls(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    hubspot_sandbox.log.clear()
    outcomes = hubspot_connector.upsert([lead(n) for n in range(1000)])
    assert all(o.ok and o.created for o in outcomes)
    assert [o.key for o in outcomes] == [f"nh_{n:06d}" for n in range(1000)]
    assert len({o.crm_id for o in outcomes}) == 1000
    assert hubspot_sandbox.log.count() == 10
    assert hubspot_sandbox.log.count("POST", UPSERT, 200) == 10


def test_one_bad_record_among_a_hundred_fails_alone_in_one_call_answered_207(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    records = [lead(n) for n in range(100)]
    records[37] = lead(37, nurturehub_score=CANARY_TEXT)  # a value HubSpot refuses, and must not be echoed
    hubspot_sandbox.log.clear()
    outcomes = hubspot_connector.upsert(records)
    assert [n for n, o in enumerate(outcomes) if not o.ok] == [37]
    bad = outcomes[37]
    assert (bad.code, bad.field, bad.retriable) == ("INVALID_OPTION", "nurturehub_score", False)
    assert CANARY_TEXT not in bad.message
    assert hubspot_sandbox.log.count("POST", UPSERT, 207) == 1
    assert hubspot_sandbox.log.count() == 1
    assert len(hubspot_sandbox.store.records("contacts")) == 99


def test_several_bad_records_keep_their_own_codes_in_a_207(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    records = [lead(n, email=f"p{n}@clinic-patients.example") for n in range(100)]
    records[3] = lead(3, email="not-an-email")
    records[64] = lead(64, nurturehub_urgent="maybe")
    records[90] = lead(90, nurturehub_next_action_due="next tuesday")
    hubspot_sandbox.log.clear()
    outcomes = hubspot_connector.upsert(records)
    failed = {n: (o.code, o.field, o.retriable) for n, o in enumerate(outcomes) if not o.ok}
    assert failed == {
        3: ("INVALID_EMAIL", "email", False),
        64: ("INVALID_BOOLEAN", "nurturehub_urgent", False),
        90: ("INVALID_DATE", "nurturehub_next_action_due", False),
    }
    assert hubspot_sandbox.log.count("POST", UPSERT) == 1


@pytest.mark.parametrize("hubspot_multi_status", [False])
def test_one_bad_record_among_a_hundred_is_isolated_by_halving(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    records = [lead(n) for n in range(100)]
    records[37] = lead(37, nurturehub_score=CANARY_TEXT)  # a value HubSpot refuses, and must not be echoed
    hubspot_sandbox.log.clear()
    outcomes = hubspot_connector.upsert(records)
    assert [n for n, o in enumerate(outcomes) if not o.ok] == [37]
    bad = outcomes[37]
    assert (bad.code, bad.field, bad.retriable) == ("INVALID_OPTION", "nurturehub_score", False)
    assert CANARY_TEXT not in bad.message
    assert bad.message == "nurturehub_score: the value is not one of the property's options"
    # every record sets the property, so only halving finds it: 7 refused calls (100, 50, 25, 13, 6, 3
    # records, then record 37 alone) and 6 written parts (25, 12, 2, 3, 7, 50 records)
    refused, written = (
        hubspot_sandbox.log.count("POST", UPSERT, 400),
        hubspot_sandbox.log.count("POST", UPSERT, 200),
    )
    assert (refused, written) == (7, 6)
    assert len(hubspot_sandbox.store.records("contacts")) == 99


@pytest.mark.parametrize("hubspot_multi_status", [False])
def test_a_bad_value_of_a_rarely_set_property_costs_one_extra_call(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    records = [RecordWrite(external_id=f"nh_{n:06d}", fields={"firstname": CANARY_FIRST}) for n in range(100)]
    records[5] = RecordWrite(external_id="nh_000005", fields={"nurturehub_stage": "on_the_moon"})
    hubspot_sandbox.log.clear()
    outcomes = hubspot_connector.upsert(records)
    assert [n for n, o in enumerate(outcomes) if not o.ok] == [5]
    assert outcomes[5].field == "nurturehub_stage"
    assert (
        hubspot_sandbox.log.count("POST", UPSERT, 400),
        hubspot_sandbox.log.count("POST", UPSERT, 200),
    ) == (1, 1)


@pytest.mark.parametrize("hubspot_multi_status", [False])
def test_several_bad_records_fail_alone_with_their_own_codes(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    records = [lead(n, email=f"p{n}@clinic-patients.example") for n in range(100)]
    records[3] = lead(3, email="not-an-email")
    records[64] = lead(64, nurturehub_urgent="maybe")
    records[90] = lead(90, nurturehub_next_action_due="next tuesday")
    hubspot_sandbox.log.clear()
    outcomes = hubspot_connector.upsert(records)
    failed = {n: (o.code, o.field) for n, o in enumerate(outcomes) if not o.ok}
    assert failed == {
        3: ("INVALID_EMAIL", "email"),
        64: ("INVALID_BOOLEAN", "nurturehub_urgent"),
        90: ("INVALID_DATE", "nurturehub_next_action_due"),
    }
    # the invalid email is found by halving (every record has an email); the other two are each the
    # only record setting the property their error names, so each is pinned without another call
    assert hubspot_sandbox.log.count("POST", UPSERT) == 16


@pytest.mark.parametrize("hubspot_multi_status", [True, False])
def test_a_taken_email_is_a_conflict_for_that_record_only(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    (existing,) = hubspot_sandbox.seed("contacts", [{"email": CANARY_EMAIL}])
    outcomes = hubspot_connector.upsert([lead(1), lead(2, email=CANARY_EMAIL), lead(3)])
    assert [o.ok for o in outcomes] == [True, False, True]
    assert (outcomes[1].code, outcomes[1].field) == ("CONFLICT", "email")
    assert CANARY_EMAIL not in outcomes[1].message
    assert outcomes[1].duplicate_of == existing  # the contact holding the email, for the hub to link
    assert outcomes[0].duplicate_of is None


def test_a_record_written_twice_in_one_call_goes_in_two_batches(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    hubspot_sandbox.log.clear()
    outcomes = hubspot_connector.upsert([lead(1, firstname="First"), lead(2), lead(1, firstname="Second")])
    assert [(o.ok, o.created) for o in outcomes] == [(True, True), (True, True), (True, False)]
    assert outcomes[0].crm_id == outcomes[2].crm_id
    assert hubspot_sandbox.log.count("POST", UPSERT) == 2
    stored = hubspot_sandbox.store.get("contacts", int(outcomes[0].crm_id or 0))
    assert stored is not None
    assert stored.properties["firstname"] == "Second"


def test_values_are_sent_as_hubspot_strings(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    due = datetime(2026, 12, 1, 16, 15, 30, 123456, tzinfo=UTC)
    [outcome] = hubspot_connector.upsert([lead(1, nurturehub_urgent=True, nurturehub_next_action_due=due)])
    stored = hubspot_sandbox.store.get("contacts", int(outcome.crm_id or 0))
    assert stored is not None
    assert stored.properties["nurturehub_urgent"] == "true"
    assert stored.properties["nurturehub_next_action_due"] == "2026-12-01T16:15:30.123Z"


def test_an_unknown_property_is_a_config_error_naming_it(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    hubspot_sandbox.log.clear()
    with pytest.raises(ConfigError, match="nurturehub_favourite_colour") as caught:
        hubspot_connector.upsert([lead(1), lead(2, nurturehub_favourite_colour="teal")])
    assert "nurturehub crm setup" in str(caught.value)
    assert hubspot_sandbox.log.count() == 1


def test_existing_reads_a_hundred_ids_a_call(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, hubspot_staff: HubSpotStaff
) -> None:
    ids = hubspot_sandbox.seed("contacts", [{"firstname": CANARY_FIRST} for _ in range(150)])
    hubspot_staff.delete(ids[0])
    hubspot_staff.delete(ids[1])
    hubspot_sandbox.log.clear()
    found = hubspot_connector.existing([*ids, "not-an-id", "999999999"])
    assert found == set(ids[2:])
    assert hubspot_sandbox.log.count("POST", "/crm/v3/objects/contacts/batch/read") == 2


def test_a_value_longer_than_hubspot_keeps_is_shortened_with_a_note(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    long_text = CANARY_TEXT + "x" * 70_000
    [outcome] = hubspot_connector.upsert([lead(1, lastname=long_text)])
    assert outcome.ok
    assert outcome.notes == ("lastname shortened to 65536 characters",)
    stored = hubspot_sandbox.store.get("contacts", int(outcome.crm_id or 0))
    assert stored is not None
    assert stored.properties["lastname"] == long_text[:65_536]
