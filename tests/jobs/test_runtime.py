"""Scheduled jobs: once per tick whoever leads, leadership that moves when its holder dies, and the
cadence clock driving a lead from a Friday-evening inquiry to its close, across a DST change."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import textwrap
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from connectors.scheduling import AvailabilityQuery
from hub.app.bootstrap import build_hub
from hub.lifecycle.cadence import advance_cadence
from hub.settings.config import HubConfig, parse_config
from hub.store import Store, repo
from hub.store.models import JobRunRow
from jobs.leader import FileLease, PgAdvisoryLease
from jobs.runtime import Runtime, _Failures, run_job
from nurture.clock import window_of
from nurture.errors import ConfigError, RetryLater
from nurture.inquiry import Inquiry
from nurture.vocab import Channel, Stage
from sandboxes.common import SandboxServer
from tests.fixtures.clock import ManualClock
from tests.fixtures.fhir_sandbox import FHIR_T0, FhirDesk
from tests.hub.sync.test_sync import World

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
CHICAGO = ZoneInfo("America/Chicago")


def hub_for(store: Store, config: HubConfig, clock: ManualClock, tmp_path: Path, **given: Any):  # type: ignore[no-untyped-def]
    return build_hub(
        config.__class__(**{**{f: getattr(config, f) for f in config.__dataclass_fields__}, "instance_path": tmp_path}),
        database_url=store.url,
        environ={"NURTUREHUB_DATA_KEY": Fernet.generate_key().decode()},
        clock=clock,
        migrate=False,
        **given,
    )


def test_a_scheduled_job_runs_once_per_tick_whoever_runs_it(
    store: Store, config: HubConfig, clock: ManualClock, tmp_path: Path
) -> None:
    first = Runtime(hub_for(store, config, clock, tmp_path), workers=False, scheduler=False)
    second = Runtime(hub_for(store, config, clock, tmp_path), workers=False, scheduler=False)
    assert first.run_scheduled("cadence")
    assert not second.run_scheduled("cadence")  # a new leader repeating the same tick
    clock.advance(minutes=1)
    assert second.run_scheduled("cadence")
    with store.tx() as s:
        assert s.scalar(select(func.count()).select_from(JobRunRow)) == 2
    first.hub.close()
    second.hub.close()


def test_a_failing_job_is_one_log_line_without_its_text_until_it_works_again(
    store: Store, config: HubConfig, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    runtime = Runtime(hub_for(store, config, clock, tmp_path), workers=False, scheduler=False)
    monkeypatch.setattr("jobs.runtime._current", runtime)
    calls: list[int] = []

    def broken(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) <= 3:
            raise RetryLater("Salesforce said: no record for Canary-Quenby 512-555-0199")
        return []

    monkeypatch.setattr("jobs.runtime.breaches", broken)
    caplog.set_level(logging.INFO, logger="jobs.runtime")
    for _ in range(4):  # fails three ticks running, then works
        run_job("breaches")
        clock.advance(minutes=1)

    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "jobs.runtime"]
    assert lines == [
        ("ERROR", "job breaches failed: RetryLater; it runs again at its next tick"),
        ("INFO", "job breaches works again (it had failed: RetryLater)"),
    ]
    assert "Canary-Quenby" not in caplog.text and "Traceback" not in caplog.text
    runtime.hub.close()


def test_a_long_failure_is_recalled_now_and_then_with_its_count() -> None:
    clock = ManualClock()
    failures = _Failures(remind=900, monotonic=clock.monotonic)
    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("jobs.runtime")
    logger.addHandler(handler)
    try:
        for _ in range(31):  # every 60 s for half an hour
            failures.failed("loop outbox:salesforce", ConfigError(["crm: not connected"]), "restarting it in 5 s")
            clock.advance(seconds=60)
    finally:
        logger.removeHandler(handler)
    assert records == [
        "loop outbox:salesforce failed: ConfigError; restarting it in 5 s",
        "loop outbox:salesforce still failing: ConfigError (14 more time(s))",
        "loop outbox:salesforce still failing: ConfigError (14 more time(s))",
    ]


def test_the_nightly_purge_forgets_old_job_runs_and_a_failed_run_says_so(
    store: Store, config: HubConfig, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Runtime(hub_for(store, config, clock, tmp_path), workers=False, scheduler=False)
    assert runtime.run_scheduled("cadence")
    clock.advance(days=8)
    assert runtime.run_scheduled("cadence")

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the CRM said something with a name in it")

    monkeypatch.setattr("jobs.runtime.breaches", broken)
    with pytest.raises(RuntimeError):
        runtime.run_scheduled("breaches")
    assert runtime.run_scheduled("purge")

    with store.tx() as s:
        runs = {row.job: row.outcome for row in s.scalars(select(JobRunRow))}
    assert set(runs) == {"cadence", "breaches", "purge"}  # the first cadence run, 8 days old, is gone
    assert runs["breaches"] == "failed: RuntimeError"
    assert runs["purge"] == "purged=0 job_runs_forgotten=1"
    runtime.hub.close()


def test_the_speed_to_lead_warning_is_for_a_new_breach_only(
    store: Store, config: HubConfig, clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = Runtime(hub_for(store, config, clock, tmp_path), workers=False, scheduler=False)

    def inquiry(n: int) -> None:
        made = runtime.hub.intake.submit(
            Inquiry(channel=Channel.PAID_SEARCH, received_at=clock.now, first_name=f"P{n}",
                    phone=f"+1512555{n:04d}", text="I would like an appointment"),
            actor="test", now=clock.now,
        )  # fmt: skip
        assert made.lead is not None

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.getMessage().startswith("speed to lead")]

    inquiry(1)
    clock.advance(days=1)  # past its response target, never called
    for _ in range(3):  # the job runs every minute; the same breach is reported once
        assert runtime.run_scheduled("breaches")
        clock.advance(minutes=1)
    assert warnings() == ["speed to lead: 1 more lead(s) past their response target (1 in all)"]
    inquiry(2)
    clock.advance(days=1)
    assert runtime.run_scheduled("breaches")
    assert warnings()[1:] == ["speed to lead: 1 more lead(s) past their response target (2 in all)"]
    runtime.hub.close()


def test_bookings_made_in_the_ehr_are_read_on_schedule(
    store: Store, config: HubConfig, clock: ManualClock, tmp_path: Path, fhir_server: SandboxServer, fhir_desk: FhirDesk
) -> None:
    fhir = {
        "enabled": True, "base_url": f"{fhir_server.url}/fhir", "client_id": "nurturehub",
        "token_url": f"{fhir_server.url}/auth/token", "auth_method": "client_secret_basic", "bookings_minutes": 2,
    }  # fmt: skip
    hub = build_hub(
        dataclasses.replace(config, raw={**config.raw, "scheduling": {"fhir": fhir}}, instance_path=tmp_path),
        database_url=store.url,
        environ={"NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(), "NURTUREHUB_FHIR_CREDENTIAL": "sandbox-secret"},
        clock=clock,
        migrate=False,
    )
    runtime = Runtime(hub, workers=False, scheduler=False)
    assert ("interval", {"minutes": 2}, {"job": "bookings", "system": "fhir"}) in runtime.schedules()
    inquiry = Inquiry(
        channel=Channel.WEBSITE_FORM, received_at=clock.now, first_name="Ana", phone="(512) 555-0142",
        service="primary_care", location="downtown",
    )  # fmt: skip
    result = hub.intake.submit(inquiry, actor="test")
    assert result.lead is not None
    ehr = hub.bookings_connector("fhir")
    start = max(clock.now, FHIR_T0) + timedelta(days=1)
    slot = next(iter(ehr.find_slots(AvailabilityQuery(start=start, end=start + timedelta(days=7)))))
    fhir_desk.book(slot, result.lead.id)  # the front desk books in the EHR

    assert runtime.run_scheduled("bookings", system="fhir")

    with store.read() as s:
        assert s.scalar(select(JobRunRow.outcome).where(JobRunRow.job == "bookings:fhir")) == (
            "read=1 applied=1 unmatched=0 refused=0"
        )
        found = repo.load_lead(s, result.lead.id)
    assert found is not None
    assert found[0].stage is Stage.SCHEDULED
    hub.close()


def test_a_file_lease_admits_one_holder_and_frees_on_release(tmp_path: Path) -> None:
    a, b = FileLease(tmp_path / "scheduler.lock"), FileLease(tmp_path / "scheduler.lock")
    assert a.acquire()
    assert a.acquire()  # still ours
    assert not b.acquire()
    a.release()
    assert b.acquire()
    b.release()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import create_engine
    from jobs.leader import PgAdvisoryLease
    lease = PgAdvisoryLease(create_engine(sys.argv[1]))
    assert lease.acquire()
    print("leading", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.postgres
def test_leadership_moves_within_seconds_when_the_leader_is_killed(pg_schema_url: str) -> None:
    from sqlalchemy import create_engine

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg_schema_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "leading"
        engine = create_engine(pg_schema_url)
        lease = PgAdvisoryLease(engine)
        assert not lease.acquire()
        holder.kill()  # SIGKILL: no chance to release anything
        holder.wait()
        start = time.monotonic()
        while not lease.acquire():
            assert time.monotonic() - start < 30, "no takeover within 30 s"
            time.sleep(0.2)
        took = time.monotonic() - start
        assert took < 30
        lease.release()
        engine.dispose()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()


def weekday_config() -> HubConfig:
    """The example clinic, closed at weekends: closes at 19:00 on Fridays, opens at 08:00 on Mondays."""
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    raw["clinic"]["hours"]["sat"] = []
    return parse_config(raw, environ={})


def test_the_cadence_clock_from_friday_evening_through_day_7_across_dst(store: Store) -> None:
    config = weekday_config()
    # Friday 30 October 2026, 18:55 in Austin; US daylight saving time ends on Sunday 1 November.
    clock = ManualClock(datetime(2026, 10, 30, 18, 55, tzinfo=CHICAGO).astimezone(UTC))
    world = World(store, config, clock)
    lead_id = world.inquiry(channel=Channel.WEBSITE_FORM, received_at=clock.now)
    world.sync()
    with store.tx() as s:
        due = {f.step_key: f.due_at for f in repo.follow_ups(s, lead_id)}
    local = {k: v.astimezone(CHICAGO) for k, v in due.items()}
    assert local["day0_call"] == datetime(2026, 11, 2, 8, 0, tzinfo=CHICAGO)  # Monday's opening, CST
    assert local["day0_call"].utcoffset() == timedelta(hours=-6)
    # Staff never reach the patient: every call task is completed "no answer" when it is due.
    attempts = []
    for _ in range(12):
        with store.tx() as s:
            pending = [
                f for f in repo.follow_ups(s, lead_id) if f.status in ("planned", "task_requested", "task_created")
            ]
        if not pending:
            break
        step = min(pending, key=lambda f: f.due_at)
        clock.now = max(clock.now, step.due_at)
        advance_cadence(store, config, destinations=world.engine.names, now=clock.now)
        world.sync()
        task = world.crm.tasks.get(f"{lead_id}:{step.step_key}")
        if task is not None and task["state"] == "open":
            attempts.append((step.step_key, clock.now.astimezone(CHICAGO)))
            world.crm.complete_task(f"{lead_id}:{step.step_key}", "no_answer")
            clock.advance(minutes=5)
            world.sync()
    steps = [key for key, _ in attempts]
    assert steps == ["day0_call", "day0_text", "day1_call", "day3_followup", "day7_final"]
    when = dict(attempts)
    assert window_of(when["day1_call"], CHICAGO) is not window_of(when["day0_call"], CHICAGO)
    assert [when[k].date().isoformat() for k in ("day1_call", "day3_followup", "day7_final")] == [
        "2026-11-03", "2026-11-05", "2026-11-09",
    ]  # fmt: skip
    for at in when.values():
        assert config.settings.hours.is_open(at)
    lead = world.lead(lead_id)
    assert lead.stage is Stage.UNREACHABLE
    assert lead.close_reason == "no contact after the full cadence"


def test_a_hubspot_webhook_gets_hubspot_pulled_within_seconds_once(
    store: Store, config: HubConfig, clock: ManualClock, tmp_path: Path
) -> None:
    from connectors.fake import FakeCrm
    from hub.inbound.inbox import PULL_REQUESTED
    from tests.hub.sync.test_sync import lead_fields

    crm = FakeCrm(system="hubspot", fields=lead_fields(), clock=clock)
    hub = hub_for(store, config, clock, tmp_path, connectors={"hubspot": crm})
    runtime = Runtime(hub, workers=False, scheduler=False)
    hubspot_event = [{"eventId": 7, "subscriptionType": "contact.propertyChange", "objectId": 101}]

    assert hub.inbox.accept(source="crm_events", event_id="7", event_type="contact.propertyChange",
                            payload=hubspot_event, received_at=clock.now)  # fmt: skip
    assert hub.inbox.process(now=clock.now).done == 1
    with store.tx() as s:
        assert repo.get_cursor(s, f"{PULL_REQUESTED}hubspot")  # asked for

    assert runtime.run_scheduled("crm_events")
    assert crm.calls.count("read_changes") == 1
    clock.advance(seconds=15)
    assert runtime.run_scheduled("crm_events")
    assert crm.calls.count("read_changes") == 1  # answered: no second pull until the next event
    with store.tx() as s:
        assert repo.get_cursor(s, f"{PULL_REQUESTED}hubspot") == ""
    hub.close()


@pytest.mark.postgres
def test_hubs_in_separate_schemas_of_one_database_each_have_a_leader(pg_schema_url: str) -> None:
    import secrets as _secrets

    import psycopg
    from sqlalchemy import create_engine

    base, _, _ = pg_schema_url.partition("?")
    other = f"nh_test_{_secrets.token_hex(4)}"
    dsn = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{other}"')
    engines = [create_engine(pg_schema_url), create_engine(pg_schema_url)]
    engines.append(create_engine(f"{base}?options=-csearch_path%3D{other}"))
    try:
        mine, same, theirs = (PgAdvisoryLease(engine) for engine in engines)
        assert mine.acquire()
        assert not same.acquire()  # one leader per hub
        assert theirs.acquire()  # another clinic's hub in the same database leads its own schedules
        for lease in (mine, theirs):
            lease.release()
    finally:
        for engine in engines:
            engine.dispose()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{other}" CASCADE')
