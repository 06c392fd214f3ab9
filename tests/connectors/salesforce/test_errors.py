"""Failures on the sandbox, translated once: expired sessions, the daily budget, transient faults
that outlast the retries, long Retry-After, the network, TLS, and the rate limit."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
import requests

from connectors.base import OAuthToken, RecordWrite, StaticTokens
from connectors.salesforce import SalesforceConnector
from nurture.errors import BudgetExhausted, ConfigError, RetryLater
from sandboxes.common import Faults
from tests.fixtures.clock import ManualClock
from tests.fixtures.salesforce_connector import SandboxTokens, lead_fields, static_tokens
from tests.fixtures.salesforce_sandbox import SalesforceOrg

Make = Callable[..., tuple[SalesforceConnector, SalesforceOrg]]


def batch(n: int, prefix: str = "nh_err") -> list[RecordWrite]:
    return [RecordWrite(external_id=f"{prefix}{i:04d}", fields=lead_fields(i)) for i in range(n)]


def test_an_expired_session_is_refreshed_once_and_the_call_succeeds(make_sf_connector: Make) -> None:
    tokens: list[SandboxTokens] = []

    def source(org: SalesforceOrg) -> SandboxTokens:
        tokens.append(SandboxTokens(org))
        return tokens[-1]

    crm, org = make_sf_connector(faults=Faults(expire_session_after=2), tokens=source)
    for n in range(3):
        assert all(o.ok for o in crm.upsert(batch(1, f"nh_s{n}")))
    assert tokens[0].refreshes == 1
    assert [e.status for e in org.sandbox.log.entries()] == [200, 200, 401, 200]


def test_a_refresh_the_org_refuses_is_a_configuration_error(make_sf_connector: Make) -> None:
    crm, _ = make_sf_connector(
        faults=Faults(expire_session_after=0), tokens=lambda org: SandboxTokens(org, fail_refresh=True)
    )
    with pytest.raises(ConfigError, match="refresh token was revoked"):
        crm.upsert(batch(1))


def test_a_refreshed_token_that_still_fails_is_a_configuration_error_naming_the_connection(
    make_sf_connector: Make,
) -> None:
    crm, org = make_sf_connector(
        faults=Faults(expire_session_after=0), tokens=static_tokens, connection_name="clinic-org"
    )
    with pytest.raises(ConfigError, match="clinic-org") as caught:
        crm.upsert(batch(1))
    assert "INVALID_SESSION_ID" in str(caught.value)
    assert [e.status for e in org.sandbox.log.entries()] == [401, 401]


def test_a_spent_daily_budget_stops_every_call(make_sf_connector: Make) -> None:
    crm, org = make_sf_connector(faults=Faults(daily_budget=2))
    crm.upsert(batch(1))
    crm.check()
    with pytest.raises(BudgetExhausted) as caught:
        crm.upsert(batch(1, "nh_more"))
    assert caught.value.retry_after == 900
    calls = len(org.sandbox.log.entries())
    with pytest.raises(BudgetExhausted):
        list(crm.read_changes(None, []))
    with pytest.raises(BudgetExhausted):
        crm.upsert_tasks([]) or crm.existing(["00Q000000000001"])
    status = crm.check()
    assert not status.ok
    assert "allowance" in status.detail
    assert len(org.sandbox.log.entries()) == calls == 3


def test_calls_resume_after_the_budget_pause(make_sf_connector: Make, sf_virtual_clock: ManualClock) -> None:
    crm, org = make_sf_connector(
        faults=Faults(daily_budget=1),
        sleep=sf_virtual_clock.sleep,
        monotonic=sf_virtual_clock.monotonic,
        budget_pause_s=600,
    )
    crm.upsert(batch(1))
    with pytest.raises(BudgetExhausted):
        crm.upsert(batch(1))
    org.sandbox.reset_day()
    sf_virtual_clock.advance(seconds=601)
    assert crm.upsert(batch(1))[0].ok


def test_a_retry_after_longer_than_the_connector_waits_is_retry_later(
    make_sf_connector: Make, sf_virtual_clock: ManualClock
) -> None:
    crm, org = make_sf_connector(
        faults=Faults(share_429=1.0, retry_after_s=120),
        sleep=sf_virtual_clock.sleep,
        monotonic=sf_virtual_clock.monotonic,
    )
    with pytest.raises(RetryLater) as caught:
        crm.upsert(batch(1))
    assert caught.value.retry_after == 120
    assert len(org.sandbox.log.entries()) == 1
    assert sf_virtual_clock.sleeps == []


def test_a_fault_that_outlasts_the_retries_is_retry_later(
    make_sf_connector: Make, sf_virtual_clock: ManualClock
) -> None:
    crm, org = make_sf_connector(
        faults=Faults(share_5xx=1.0),
        sleep=sf_virtual_clock.sleep,
        monotonic=sf_virtual_clock.monotonic,
        max_retries=3,
    )
    with pytest.raises(RetryLater, match="503 SERVER_UNAVAILABLE"):
        crm.upsert(batch(1))
    assert [e.status for e in org.sandbox.log.entries()] == [503] * 4
    assert sf_virtual_clock.sleeps == [0.5, 1.0, 2.0]  # backoff, since a 503 carries no Retry-After


def test_each_429_is_waited_out_for_its_retry_after_on_the_connectors_clock(
    make_sf_connector: Make, sf_virtual_clock: ManualClock
) -> None:
    # The sandbox logs real time, so with a virtual clock the waits are asserted on that clock.
    faults = Faults(share_429=0.5, retry_after_s=7, seed=1)
    crm, org = make_sf_connector(faults=faults, sleep=sf_virtual_clock.sleep, monotonic=sf_virtual_clock.monotonic)
    for n in range(4):
        assert crm.upsert(batch(1, f"nh_wait{n}"))[0].ok
    throttled = org.sandbox.log.count(status=429)
    assert throttled >= 1
    assert sf_virtual_clock.sleeps == [7.0] * throttled


def test_an_unreachable_org_is_retry_later(make_sf_connector: Make, sf_virtual_clock: ManualClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = StaticTokens(OAuthToken(access_token="x", instance_url=f"https://127.0.0.1:{port}"))
    crm, _ = make_sf_connector(
        tokens=lambda org: gone,
        sleep=sf_virtual_clock.sleep,
        monotonic=sf_virtual_clock.monotonic,
        max_retries=2,
    )
    with pytest.raises(RetryLater, match="ConnectionError"):
        crm.upsert(batch(1))
    assert sf_virtual_clock.sleeps == [0.5, 1.0]


def test_an_untrusted_certificate_is_a_configuration_error(make_sf_connector: Make) -> None:
    with requests.Session() as plain:  # trusts the system store, not the sandbox CA
        plain.trust_env = False
        crm, _ = make_sf_connector(session=plain)
        with pytest.raises(ConfigError, match="TLS certificate"):
            crm.upsert(batch(1))


def test_every_call_waits_its_turn_in_the_token_bucket(make_sf_connector: Make, sf_virtual_clock: ManualClock) -> None:
    crm, org = make_sf_connector(
        sleep=sf_virtual_clock.sleep, monotonic=sf_virtual_clock.monotonic, requests_per_second=2, burst=1
    )
    for n in range(5):
        crm.upsert(batch(1, f"nh_rate{n}"))
    assert len(org.sandbox.log.entries()) == 5
    assert sf_virtual_clock.monotonic() - 1000.0 == pytest.approx(2.0)  # the first call is free, then 2 per second
