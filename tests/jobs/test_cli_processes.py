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

from connectors.sandbox.harness import SandboxServer, free_port
from hub.cli import main as hub_main
from jobs.cli import main
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
        process.stdout.close()


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
