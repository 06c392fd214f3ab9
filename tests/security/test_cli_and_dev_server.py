"""CLI views of PHI are audited like the web's, and Werkzeug's development server (``serve --dev``)
masks path tokens (issue 18: ``leads show`` showed PHI without an audit entry; ``serve --dev`` logged
the Jotform path token)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import select

from connectors.inbound.jotform import encode_jotform_submission
from hub.cli import main
from hub.store import Store
from hub.store.models import AuditRow
from sandboxes.common import free_port
from tests.support import child_environ

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "jotform-path-token-DoNotLog-0123456789"


def test_leads_show_and_leads_add_are_audited_like_a_web_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    db = ["--database-url", url]
    assert main([*db, "init"]) == 0
    capsys.readouterr()
    assert main([*db, "leads", "add", "--phone", "5125550142", "--first-name", "Ana", "--json"]) == 0
    lead_id = json.loads(capsys.readouterr().out)["lead"]["id"]
    assert main([*db, "leads", "show", lead_id, "--json"]) == 0
    store = Store(url)
    try:
        with store.tx() as s:
            views = s.scalars(select(AuditRow).where(AuditRow.action == "lead.view").order_by(AuditRow.id)).all()
            assert [(a.subject_id, a.detail) for a in views] == [
                (lead_id, {"page": "cli", "command": "leads add"}),
                (lead_id, {"page": "cli", "command": "leads show"}),
            ]
            assert all(a.actor.startswith("cli") for a in views)
    finally:
        store.dispose()


@pytest.mark.slow
def test_serve_dev_masks_the_path_token_in_its_log(tmp_path: Path) -> None:
    port = free_port()
    env = child_environ()
    env.update(
        PYTHONPATH=str(ROOT),
        NURTUREHUB_DATA_KEY=Fernet.generate_key().decode(),
        NURTUREHUB_SECRET_CONTACT_FORM=TOKEN,
        NURTUREHUB_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs", "serve", "--dev", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.3)
        form, content_type = encode_jotform_submission(
            {"submissionID": "5801", "rawRequest": json.dumps({"q3_name": {"first": "Ana"}, "q5_phone": "5125550142"})}
        )
        response = requests.post(
            f"{base}/webhooks/contact_form/{TOKEN}?utm=x", data=form, headers={"Content-Type": content_type}, timeout=10
        )
        assert response.status_code == 202, response.text
        requests.get(f"{base}/sign-in?next=/leads%3Fsecret%3D1", timeout=10)
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert "POST /webhooks/contact_form/***?… HTTP/1.1" in out, out
    assert "GET /sign-in?… HTTP/1.1" in out
    assert TOKEN not in out
    assert "secret%3D1" not in out
