"""Reading what changed: complete, oldest first with ties by id, never past the 10,000 cap, within
HubSpot's 5 searches a second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import RecordWrite
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.search import epoch_ms, iso_ms, parse_time
from nurture.errors import ConfigError
from sandboxes.hubspot import HubSpotSandbox, RateLimits
from tests.fixtures.hubspot_connector import HubSpotStaff, MakeConnector

SEARCH = "/crm/v3/objects/contacts/search"


def seed_one_by_one(sandbox: HubSpotSandbox, count: int, start: int = 0) -> list[str]:
    """``count`` contacts, each with its own last-modified millisecond."""
    return [sandbox.seed("contacts", [{"lastname": f"L{n}", "nurturehub_id": f"nh_{n:06d}"}])[0]
            for n in range(start, start + count)]  # fmt: skip


def test_a_cursor_in_the_future_reads_nothing_with_one_search(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    hubspot_connector.upsert([RecordWrite(external_id="nh_1", fields={"lastname": "L"})])
    hubspot_sandbox.log.clear()
    assert list(hubspot_connector.read_changes(datetime(2036, 1, 1, tzinfo=UTC), ["lastname"])) == []
    assert hubspot_sandbox.log.count("POST", SEARCH) == 1


def test_changes_carry_the_fields_asked_for_and_the_hub_id(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    [made] = hubspot_connector.upsert(
        [RecordWrite(external_id="nh_1", fields={"lastname": "L", "nurturehub_score": "A"})]
    )
    [change] = hubspot_connector.read_changes(None, ["lastname", "nurturehub_score", "email"])
    assert (change.crm_id, change.external_id) == (made.crm_id, "nh_1")
    assert change.fields == {"lastname": "L", "nurturehub_score": "A", "email": None}
    stored = hubspot_sandbox.store.get("contacts", int(made.crm_id or 0))
    assert stored is not None
    assert change.modified_at == parse_time(stored.properties["lastmodifieddate"])


def test_asking_for_a_property_that_does_not_exist_is_a_config_error(
    hubspot_connector: HubSpotConnector,
) -> None:
    with pytest.raises(ConfigError, match="nurturehub_shoe_size"):
        list(hubspot_connector.read_changes(None, ["lastname", "nurturehub_shoe_size"]))


@pytest.mark.slow
@pytest.mark.parametrize("hubspot_limits", [RateLimits(burst=10_000, search_per_second=5)])
def test_more_than_ten_thousand_changes_are_read_completely_within_the_search_limit(
    hubspot_connector: HubSpotConnector, make_hubspot: MakeConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    ids = seed_one_by_one(hubspot_sandbox, 10_500)
    connector = make_hubspot()  # default limits: 4 searches a second (the schema is set up already)
    hubspot_sandbox.log.clear()
    changes = list(connector.read_changes(None, ["lastname"]))
    assert [c.crm_id for c in changes] == ids
    assert [c.external_id for c in changes] == [f"nh_{n:06d}" for n in range(10_500)]
    assert [c.modified_at for c in changes] == sorted(c.modified_at for c in changes)
    log = hubspot_sandbox.log.entries()
    searches = [e for e in log if e.path == SEARCH]
    assert all(e.status == 200 for e in searches), "a search was refused (10,000 cap or 5/s limit)"
    assert len(searches) == 53  # 10,500 / 200, each window re-reading its first record
    elapsed = searches[-1].at - searches[0].at
    assert len(searches) / elapsed <= 4.5


def test_ties_are_ordered_by_id_even_when_a_millisecond_holds_more_than_a_page(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    before = seed_one_by_one(hubspot_sandbox, 30)
    same = hubspot_sandbox.seed("contacts", [{"lastname": f"S{n}"} for n in range(450)])  # one stamp
    after = seed_one_by_one(hubspot_sandbox, 30, start=1000)
    hubspot_sandbox.log.clear()
    changes = list(hubspot_connector.read_changes(None, ["lastname"]))
    assert [c.crm_id for c in changes] == before + sorted(same, key=int) + after
    assert len({c.modified_at for c in changes if c.crm_id in set(same)}) == 1
    # 230 by stamp; a page all in one millisecond; that millisecond by id (200, 200, 50); the rest
    assert hubspot_sandbox.log.count("POST", SEARCH) == 6


def test_a_record_edited_while_the_changes_are_read_is_not_skipped(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, hubspot_staff: HubSpotStaff
) -> None:
    ids = seed_one_by_one(hubspot_sandbox, 1000)
    reader = hubspot_connector.read_changes(None, ["lastname"])
    seen = [next(reader) for _ in range(250)]
    hubspot_staff.edit(ids[100], {"lastname": "Edited early"})  # already read: offsets would shift
    hubspot_staff.edit(ids[600], {"lastname": "Edited late"})
    seen += list(reader)
    assert {c.crm_id for c in seen} == set(ids)
    assert [(c.crm_id, c.fields["lastname"]) for c in seen[-2:]] == [
        (ids[100], "Edited early"),
        (ids[600], "Edited late"),
    ]
    assert [c.crm_id for c in seen].count(ids[600]) == 1
    assert [c.modified_at for c in seen] == sorted(c.modified_at for c in seen)


def test_hubspot_datetimes_parse_with_and_without_milliseconds() -> None:
    exact = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert parse_time("2026-11-26T10:00:00.000Z") == exact
    assert parse_time("2026-11-26T10:00:00Z") == exact
    assert parse_time("2026-11-26T10:00:00.5Z") == exact + timedelta(milliseconds=500)
    assert parse_time("2026-11-26T11:00:00+01:00") == exact
    assert parse_time(str(epoch_ms(exact))) == exact
    assert parse_time("") is None
    assert iso_ms(exact + timedelta(microseconds=1500)) == "2026-11-26T10:00:00.001Z"


def test_a_cursor_between_milliseconds_selects_from_the_next_one() -> None:
    exact = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert epoch_ms(exact) == 1_795_687_200_000
    assert epoch_ms(exact + timedelta(microseconds=1)) == 1_795_687_200_001
