"""The process commands, run as a newcomer would: ``nurturehub run`` on its embedded defaults, and
``connect`` / ``sync`` / ``send-test-event`` against the sandboxes."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from hub.cli import main as hub_main
from jobs.cli import main
from sandboxes.common import SandboxServer, free_port
from tests.support import child_environ

EXAMPLE = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text(encoding="utf-8")


def test_run_starts_everything_and_leads_reach_the_sandbox_crms_within_seconds(tmp_path: Path) -> None:
    env = child_environ()
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs", "run", "--port", "0", "--duration", "90"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Ctrl-C stops everything"):
                break
        text = "".join(banner)
        web = re.search(r"web UI:\s+(http://\S+)", text)
        assert web, text
        assert requests.get(f"{web.group(1)}/readyz", timeout=5).json()["status"] == "ok"
        crm = tmp_path / "instance" / "sandbox" / "salesforce.sqlite3"
        deadline = time.monotonic() + 60
        leads = tasks = 0
        while time.monotonic() < deadline and (leads < 4 or tasks < 4):
            time.sleep(1)
            with sqlite3.connect(crm) as conn:
                rows = conn.execute("SELECT sobject, body FROM sf_records").fetchall()
            leads = sum(1 for kind, body in rows if kind == "Lead" and "Nurture_Id__c" in body)
            tasks = sum(1 for kind, body in rows if kind == "Task" and "Nurture_Task_Key__c" in body)
        assert leads >= 4, text
        assert tasks >= 4
    finally:
        process.terminate()
        process.wait(timeout=30)
        rest = process.stdout.read()
        process.stdout.close()
    assert "could not be sent" not in rest, rest  # the demo's inquiries stop before the server they go to


def test_other_terminals_work_against_the_running_demo_and_stop_when_it_stops(tmp_path: Path) -> None:
    """While `nurturehub run` runs, `send-test-event`, `leads add` and `sync` in another terminal
    (another process, the same folder, no flags) reach its web server, sandboxes and secrets; when
    it stops, its record goes and those commands no longer find a CRM."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**child_environ(), "PYTHONPATH": root}
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs", "run", "--port", "0", "--no-demo", "--duration", "240", "--json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None

    def other(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jobs", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    record = tmp_path / "instance" / "running-demo.json"
    try:
        banner = json.loads(next(line for line in process.stdout if line.startswith("{")))  # `run --json`
        assert banner["sign_in"]["username"] and banner["demo"] is None
        assert record.exists() and (record.stat().st_mode & 0o777) == 0o600
        sent = other("send-test-event", "landing_page", "--json")
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert json.loads(sent.stdout)["status"] == 202
        assert json.loads(sent.stdout)["url"] == banner["web"]
        added = other("leads", "add", "--channel", "phone_call", "--first-name", "Wren", "--last-name", "Calloway",
                      "--phone", "(512) 555-0177", "--text", "Looking for a new patient visit", "--json")  # fmt: skip
        assert added.returncode == 0, added.stdout + added.stderr
        synced = other("sync", "--json")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert set(json.loads(synced.stdout)["crm"]) == {"salesforce", "hubspot"}
        crm = tmp_path / "instance" / "sandbox" / "salesforce.sqlite3"
        deadline = time.monotonic() + 60
        names: list[str] = []
        while time.monotonic() < deadline and not any("Calloway" in n for n in names):
            with sqlite3.connect(crm) as conn:
                names = [b for k, b in conn.execute("SELECT sobject, body FROM sf_records") if k == "Lead"]
            time.sleep(0.5)
        assert any("Calloway" in n for n in names)  # the CLI's lead reached the demo's Salesforce sandbox
    finally:
        process.terminate()
        process.wait(timeout=60)
        process.stdout.close()
    assert not record.exists()
    after = other("sync")
    assert after.returncode == 2 and "no enabled CRM" in after.stderr, after.stdout + after.stderr


@pytest.fixture
def sandbox_config(tmp_path: Path, hubspot_server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose HubSpot section points at the sandbox, and the environment it needs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NURTUREHUB_DATA_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("NURTUREHUB_HUBSPOT_CLIENT_SECRET", "sandbox-secret")
    monkeypatch.setenv("NURTUREHUB_SECRET_LANDING_PAGE", "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=")
    port = free_port()
    hs_server_url = hubspot_server.url
    path = tmp_path / "clinic.toml"
    path.write_text(
        EXAMPLE
        + f"""
[crm.hubspot]
enabled = true
api_host = "{hs_server_url}"
authorize_url = "{hs_server_url}/oauth/authorize"
token_url = "{hs_server_url}/oauth/v1/token"
client_id = "nurturehub-sandbox"
redirect_uri = "http://127.0.0.1:{port}/connections/hubspot/callback"
""",
        encoding="utf-8",
    )
    return path


def test_connect_then_crm_setup_then_sync(sandbox_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = ["--config", str(sandbox_config)]
    assert hub_main([*config, "init"]) == 0
    capsys.readouterr()

    def browser() -> None:  # the admin approves in a browser: the sandbox approves at once
        deadline = time.monotonic() + 20  # as long as `connect --timeout 20` waits
        while time.monotonic() < deadline:
            out = capsys.readouterr().out
            match = re.search(r"(http://\S+/oauth/authorize\S+)", out)
            if match:
                session = requests.Session()
                session.trust_env = False
                session.get(match.group(1), timeout=10)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=browser)
    thread.start()
    assert hub_main([*config, "connect", "hubspot", "--timeout", "20"]) == 0
    thread.join()
    assert hub_main([*config, "crm", "setup"]) == 0
    assert "created" in capsys.readouterr().out
    assert hub_main([*config, "leads", "add", "--phone", "5125550142", "--text", "I need an appointment"]) == 0
    capsys.readouterr()
    assert hub_main([*config, "sync", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["crm"]["hubspot"]["written"] == 2  # the lead and its Day 0 call task
    assert main([*config, "sync", "--json"]) == 0  # again, through the console script's entry point
    assert json.loads(capsys.readouterr().out)["crm"]["hubspot"]["written"] == 0
