"""What the connector does when HubSpot pushes back: 429s, 5xx, expired sessions, a spent day."""

from __future__ import annotations

import pytest

from connectors.base import OAuthToken, RecordWrite, StaticTokens
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.edge import RULES, Action, Failure, action_for
from nurture.errors import BudgetExhausted, ConfigError, RetryLater
from sandboxes.common import Faults
from sandboxes.hubspot import HubSpotSandbox, RateLimits
from tests.fixtures.clock import ManualClock
from tests.fixtures.hubspot_connector import FAST, MakeConnector

UPSERT = "/crm/v3/objects/contacts/batch/upsert"


def leads(count: int) -> list[RecordWrite]:
    return [RecordWrite(external_id=f"nh_{n:06d}", fields={"lastname": f"L{n}"}) for n in range(count)]


def test_a_thousand_contacts_land_through_429s_and_5xx_and_no_retry_jumps_the_retry_after(
    hubspot_connector: HubSpotConnector,
    hubspot_sandbox: HubSpotSandbox,
    hubspot_faults: Faults,
    make_hubspot: MakeConnector,
) -> None:
    connector = make_hubspot()  # default limits, real time (the schema was set up by hubspot_connector)
    hubspot_faults.share_429, hubspot_faults.share_5xx, hubspot_faults.retry_after_s = 0.2, 0.05, 1
    hubspot_faults._rng.seed(3)  # a run with a 5xx first and two 429s in a row
    hubspot_sandbox.log.clear()
    outcomes = connector.upsert(leads(1000))
    assert all(o.ok for o in outcomes)
    assert len(hubspot_sandbox.store.records("contacts")) == 1000
    log = hubspot_sandbox.log.entries()
    limited = [n for n, e in enumerate(log) if e.status == 429]
    failed = [n for n, e in enumerate(log) if e.status >= 500]
    assert (len(limited), len(failed), len(log)) == (2, 2, 14)
    for n in limited:  # the sandbox's own clock: each request is logged as it is answered
        assert log[n + 1].at - log[n].at >= 1.0, f"request {n + 1} came {log[n + 1].at - log[n].at:.3f} s after a 429"


def test_an_expired_session_is_refreshed_once(
    hubspot_connector: HubSpotConnector,
    hubspot_sandbox: HubSpotSandbox,
    hubspot_faults: Faults,
    make_hubspot: MakeConnector,
) -> None:
    tokens = StaticTokens(
        OAuthToken(access_token=hubspot_sandbox.issue_token()),
        OAuthToken(access_token=hubspot_sandbox.issue_token()),
    )
    connector = make_hubspot(tokens=tokens, **FAST)
    hubspot_faults.expire_session_after = 2
    hubspot_sandbox.log.clear()
    outcomes = connector.upsert(leads(300))
    assert all(o.ok for o in outcomes)
    assert tokens.refreshes == 1
    assert [e.status for e in hubspot_sandbox.log.entries()] == [200, 200, 401, 200]


def test_a_token_refused_after_its_refresh_is_a_config_error(
    make_hubspot: MakeConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    tokens = StaticTokens(OAuthToken(access_token="pat-na1-old"), OAuthToken(access_token="pat-na1-also-bad"))
    with pytest.raises(ConfigError, match="refused after a refresh"):
        make_hubspot(tokens=tokens, **FAST).upsert(leads(1))
    assert tokens.refreshes == 1
    assert hubspot_sandbox.log.count(status=401) == 2


def test_a_spent_daily_allowance_is_budget_exhausted_at_once(
    hubspot_connector: HubSpotConnector, hubspot_sandbox: HubSpotSandbox, hubspot_faults: Faults
) -> None:
    hubspot_sandbox.reset_day()
    hubspot_faults.daily_budget = 1
    hubspot_sandbox.log.clear()
    with pytest.raises(BudgetExhausted):
        hubspot_connector.upsert(leads(150))
    assert [e.status for e in hubspot_sandbox.log.entries()] == [200, 429]


def test_a_retry_after_longer_than_the_connector_waits_is_retry_later(
    make_hubspot: MakeConnector, hubspot_sandbox: HubSpotSandbox, hubspot_faults: Faults
) -> None:
    clock = ManualClock()
    connector = make_hubspot(sleep=clock.sleep, monotonic=clock.monotonic, max_wait_s=30.0)
    hubspot_faults.share_429, hubspot_faults.retry_after_s = 1.0, 60
    with pytest.raises(RetryLater) as caught:
        connector.upsert(leads(1))
    assert caught.value.retry_after == 60
    assert hubspot_sandbox.log.count() == 1


def test_429s_are_retried_after_their_retry_after_then_retry_later(
    make_hubspot: MakeConnector, hubspot_sandbox: HubSpotSandbox, hubspot_faults: Faults
) -> None:
    clock = ManualClock()
    connector = make_hubspot(sleep=clock.sleep, monotonic=clock.monotonic, max_retries=3)
    hubspot_faults.share_429, hubspot_faults.retry_after_s = 1.0, 2
    with pytest.raises(RetryLater) as caught:
        connector.upsert(leads(1))
    assert caught.value.retry_after == 2
    assert hubspot_sandbox.log.count(status=429) == 4
    assert sum(clock.sleeps) >= 3 * 2  # three retries, each held back by the bucket until Retry-After


def test_5xx_backs_off_exponentially_then_retry_later(
    make_hubspot: MakeConnector, hubspot_sandbox: HubSpotSandbox, hubspot_faults: Faults
) -> None:
    clock = ManualClock()
    connector = make_hubspot(sleep=clock.sleep, monotonic=clock.monotonic, max_retries=5, backoff_s=0.5, **FAST)
    hubspot_faults.share_5xx = 1.0
    with pytest.raises(RetryLater):
        connector.existing(["1"])
    assert hubspot_sandbox.log.count() == 6
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("hubspot_limits", [RateLimits(burst=10, burst_window_s=1.0, search_per_second=5)])
def test_the_token_bucket_keeps_below_the_burst_limit(
    make_hubspot: MakeConnector, hubspot_sandbox: HubSpotSandbox
) -> None:
    connector = make_hubspot(requests_per_second=7.0, burst=2)
    for _ in range(16):
        connector.existing(["1"])
    assert hubspot_sandbox.log.count(status=429) == 0
    assert hubspot_sandbox.log.count() == 16


def test_the_error_table() -> None:
    def act(status: int, **kw: object) -> Action:
        return action_for(Failure(status=status, **kw))  # type: ignore[arg-type]

    assert act(401) is Action.REFRESH
    assert act(403) is Action.SCOPE
    assert act(429, policy="DAILY") is Action.BUDGET
    assert act(429, policy="TEN_SECONDLY_ROLLING") is Action.WAIT
    assert act(0) is Action.BACKOFF
    assert act(502) is Action.BACKOFF
    assert act(404) is Action.MISSING
    assert act(400, codes=("PROPERTY_DOESNT_EXIST",)) is Action.UNKNOWN_PROPERTY
    assert act(400, non_unique_id=True) is Action.NOT_UNIQUE
    assert act(400, codes=("INVALID_OPTION",)) is Action.REFUSED
    assert act(409, category="CONFLICT") is Action.REFUSED
    assert act(418) is Action.FATAL
    assert len(RULES) == 11


def test_waits_without_retry_after_follow_the_policy(hubspot_connector: HubSpotConnector) -> None:
    edge = hubspot_connector.edge
    assert edge.wait_for(Failure(status=429, policy="TEN_SECONDLY_ROLLING"), Action.WAIT, 1) == 10.0
    assert edge.wait_for(Failure(status=429, policy="SECONDLY"), Action.WAIT, 1) == 1.0
    assert edge.wait_for(Failure(status=429, policy="SECONDLY", retry_after="3"), Action.WAIT, 1) == 3.0
