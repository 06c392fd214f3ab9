"""The command line, run in-process through its entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.cli import main
from tests.canary import canary_inquiry_json


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    assert main(["--database-url", url, "init"]) == 0
    return ["--database-url", url]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_check_config_reports_ok_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "check-config", "--json")
    assert code == 0
    assert data["ok"] is True
    assert data["cadence_steps"] == [
        "day0_call",
        "day0_text",
        "day1_call",
        "day3_followup",
        "day7_final",
        "close",
    ]


def test_check_config_checks_the_source_secrets_it_can_see(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NURTUREHUB_SECRET_LANDING_PAGE", "NURTUREHUB_SECRET_CONTACT_FORM"):
        monkeypatch.delenv(name, raising=False)
    code, data = run_json(capsys, "check-config", "--json")
    assert code == 0 and data["secrets"]["landing_page"] == "missing"  # type: ignore[index]

    monkeypatch.setenv("NURTUREHUB_SECRET_LANDING_PAGE", "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=")
    monkeypatch.setenv("NURTUREHUB_SECRET_CONTACT_FORM", "tooshort")
    code, data = run_json(capsys, "check-config", "--json")
    assert code == 2 and data["ok"] is False
    secrets = data["secrets"]
    assert isinstance(secrets, dict)
    assert secrets["landing_page"] == "set"
    assert secrets["contact_form"].startswith("unusable: NURTUREHUB_SECRET_CONTACT_FORM:")
    assert "tooshort" not in json.dumps(data)


def test_check_config_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    example = (Path(__file__).resolve().parents[3] / "config.example.toml").read_text(encoding="utf-8")
    bad.write_text(example.replace('timezone = "America/Chicago"', 'timezone = "Nowhere/Land"').replace(
        "response_minutes = 5\n", "response_minutes = -1\n", 1), encoding="utf-8")  # fmt: skip
    code, data = run_json(capsys, "--config", str(bad), "check-config", "--json")
    assert code == 2
    problems = data["problems"]
    assert isinstance(problems, list)
    assert any(str(p).startswith("clinic.timezone:") for p in problems)
    assert any(str(p).startswith("channels.gbp_call.response_minutes:") for p in problems)


def test_leads_add_from_a_file_then_show(db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = tmp_path / "lead.json"
    payload.write_text(json.dumps(canary_inquiry_json() | {"consent": {"sms": {"granted": True}}}), encoding="utf-8")
    code, added = run_json(capsys, *db, "leads", "add", "--file", str(payload), "--json")
    assert code == 0
    lead = added["lead"]
    assert isinstance(lead, dict)
    assert lead["intent"] == "ready_to_schedule"
    assert lead["score"] == "A"
    assert lead["next_action"]["kind"] == "book_appointment"
    assert lead["consent"]["sms"]["state"] == "granted"
    code, shown = run_json(capsys, *db, "leads", "show", lead["id"], "--json")
    assert code == 0
    assert shown["lead"]["id"] == lead["id"]
    assert shown["lead"]["follow_ups"][0]["step"] == "day0_call"


def test_leads_add_from_flags_prints_a_readable_summary(db: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*db, "leads", "add", "--phone", "5125550142", "--text", "Tengo dolor de pecho"])
    out = capsys.readouterr().out
    assert code == 0
    assert "URGENT" in out
    # In words and the clinic's time, as `leads list` and the lead page speak (issue 15 item 4):
    # no codes, no UTC instants (--json keeps those).
    assert "Route to the clinical team" in out
    assert "route_clinical_question" not in out
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:", out) is None
    assert "Urgent (red flag): chest pain" in out  # the rules that fired, in words
    # The clinical queue while the clinic is open, the after-hours line when it is not (the CLI
    # runs on the real clock: either is right, whichever hour the test runs).
    assert "Clinical Triage" in out or "After-hours Nurse Line" in out


def test_invalid_input_names_the_field(db: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, *db, "leads", "add", "--phone", "5125550142", "--channel", "fax", "--json")
    assert code == 1
    assert data["error"] == "invalid_inquiry"
    assert data["field"] == "channel"


def test_an_unknown_lead_is_reported(db: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, *db, "leads", "show", "nh_nope", "--json")
    assert (code, data["error"]) == (4, "not_found")


def test_keygen_prints_a_data_key_the_hub_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.store.crypto import Vault

    assert main(["keygen"]) == 0
    key = capsys.readouterr().out.strip()
    vault = Vault(key)
    assert vault.decrypt(vault.encrypt(b"x")) == b"x"


def test_every_command_that_prints_takes_json() -> None:
    """README promises --json: every command but the long-running processes that only log."""
    from hub.cli.parser import _leaf_parsers
    from jobs.cli import add_commands, build_parser

    parser, sub = build_parser()
    add_commands(sub)
    without = [
        leaf.prog
        for leaf in _leaf_parsers(parser)
        if not any("--json" in action.option_strings for action in leaf._actions)
    ]
    assert without == ["nurturehub serve", "nurturehub worker"]


def test_the_weekly_review_as_json_holds_its_figures_and_writes_the_file(
    db: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from hub.review.period import iso_week_label

    code, added = run_json(capsys, *db, "leads", "add", "--channel", "paid_search", "--phone", "5125550142",
                           "--text", "I need an appointment for my knee", "--json")  # fmt: skip
    assert code == 0
    created = datetime.fromisoformat(str(added["lead"]["created_at"]).replace("Z", "+00:00"))  # type: ignore[index]
    week = iso_week_label(created.astimezone(ZoneInfo("America/Chicago")).date())  # the example clinic's zone
    out = tmp_path / "review.csv"
    weekly = ["report", "weekly", "--week", week, "--format", "csv", "--out", str(out), "--json"]
    code, data = run_json(capsys, *db, *weekly)
    assert code == 0
    assert (data["week"], data["out"], data["format"]) == (week, str(out), "csv")
    review = data["review"]
    assert isinstance(review, dict)
    channels = {row["channel"]: row for row in review["sections"]["funnel_by_channel"]}
    assert channels["paid_search"]["inquiries"] == 1
    assert out.read_text(encoding="utf-8").startswith("section,meta")


def test_a_command_of_the_demo_does_not_warn_about_the_data_key_and_check_config_says_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NURTUREHUB_DATA_KEY", raising=False)
    monkeypatch.delenv("NURTUREHUB_DATABASE_URL", raising=False)
    assert main(["init"]) == 0  # the embedded default: the instance folder's own store and key file
    capsys.readouterr()
    assert main(["leads", "list"]) == 0
    assert "WARNING" not in capsys.readouterr().err  # the log goes to standard error
    code, data = run_json(capsys, "check-config", "--json")
    assert code == 0 and data["data_key"] == "missing"
    assert main(["check-config"]) == 0
    assert "NURTUREHUB_DATA_KEY is not set" in capsys.readouterr().out
    monkeypatch.setenv("NURTUREHUB_DATA_KEY", "not-a-fernet-key")
    code, data = run_json(capsys, "check-config", "--json")
    assert data["data_key"] == "unusable: NURTUREHUB_DATA_KEY: not a Fernet key (32 url-safe base64-encoded bytes)"
    assert "not-a-fernet-key" not in json.dumps(data)


def test_a_command_on_another_store_without_the_data_key_says_so(
    db: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A production store named by --database-url, from a shell without the services' key: the
    instance's key file is not the services' key, and the command says so."""
    monkeypatch.delenv("NURTUREHUB_DATA_KEY", raising=False)
    capsys.readouterr()
    assert main([*db, "leads", "list"]) == 0
    assert "WARNING hub.app.bootstrap: NURTUREHUB_DATA_KEY is not set" in capsys.readouterr().err


def test_help_builds_every_command_without_loading_the_application() -> None:
    # `nurturehub --help` and the parser every command starts with import no database, ORM,
    # cryptography or triage (issue 15: a quick command starts quickly) — counted, not timed.
    import subprocess
    import sys

    from tests.support import child_environ

    probe = (
        "import sys; from jobs.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('sqlalchemy', 'cryptography', 'nurture.triage', 'authlib', 'hub.app.bootstrap') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=child_environ()
    )
    assert done.stdout.strip() == "[]"
