"""Metrics in the production topology: ``nurturehub serve`` (gunicorn, several workers) and a
separate ``nurturehub worker``, as real processes over one store. Whichever gunicorn worker answers a
scrape, /metrics shows the whole web tier; queue depth comes from the store; the worker serves its
own counters on --metrics-port."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from connectors.inbound import sign_request
from sandboxes.common import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + base64.b64encode(b"metrics-test-secret-of-32-bytes!").decode()
EVENTS = 12


def _sample(text: str, name: str, labels: str) -> float | None:
    match = re.search(rf"^{name}\{{{re.escape(labels)}\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("NURTUREHUB_", "PROMETHEUS_", "XDG_RUNTIME_DIR"))
    }
    environ.update(
        HOME=str(tmp_path / "home"),  # where gunicorn would put a control socket
        XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")),  # the word lists' cache
        NURTUREHUB_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        NURTUREHUB_DATA_KEY=Fernet.generate_key().decode(),
        NURTUREHUB_SECRET_LANDING_PAGE=SECRET,
        PYTHONPATH=str(ROOT),
    )
    subprocess.run([sys.executable, "-m", "jobs", "init"], cwd=tmp_path, env=environ, check=True, capture_output=True)
    return environ


@pytest.fixture
def start(tmp_path: Path, env: dict[str, str]) -> Iterator[object]:
    processes: list[subprocess.Popen[bytes]] = []

    def run(*args: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "jobs", *args],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        return process

    yield run
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def test_every_scrape_sees_the_whole_web_tier_and_the_worker_serves_its_own(start, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    web_port, worker_port = free_port(), free_port()
    serve = start("serve", "--port", str(web_port), "--workers", "3")
    web = f"http://127.0.0.1:{web_port}"
    _wait_for(f"{web}/readyz")
    with requests.Session() as session:
        session.trust_env = False
        for n in range(EVENTS):
            body = json.dumps({"channel": "paid_search", "last_name": f"Metrics{n}", "phone": f"+1512555{n:04d}"})
            headers = sign_request(
                "standard_webhook", body.encode(), secret=SECRET, now=datetime.now(UTC), event_id=f"msg_metrics_{n}"
            )
            headers["Content-Type"] = "application/json"
            response = session.post(f"{web}/webhooks/landing_page", data=body, headers=headers, timeout=10)
            assert response.status_code == 202, response.text
        # Fresh connections spread the scrapes over the gunicorn workers.
        scrapes = [requests.get(f"{web}/metrics", timeout=10).text for _ in range(9)]

    for text in scrapes:
        assert _sample(text, "nurturehub_webhooks_accepted_total", 'source="landing_page"') == EVENTS
        assert _sample(text, "nurturehub_queue_depth", 'queue="inbox"') == EVENTS

    start("worker", "--metrics-port", str(worker_port))
    _wait_for(f"http://127.0.0.1:{worker_port}/metrics")
    deadline = time.monotonic() + 60
    worker_text = ""
    while time.monotonic() < deadline:
        worker_text = requests.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=5).text
        if _sample(worker_text, "nurturehub_inbox_processed_total", 'outcome="done"') == EVENTS:
            break
        time.sleep(0.5)
    assert _sample(worker_text, "nurturehub_inbox_processed_total", 'outcome="done"') == EVENTS, worker_text
    assert re.search(r"^nurturehub_scheduler_leader \S+$", worker_text, re.MULTILINE)
    web_text = requests.get(f"{web}/metrics", timeout=10).text
    assert _sample(web_text, "nurturehub_queue_depth", 'queue="inbox"') == 0

    serve.terminate()  # serve forwards the stop to gunicorn and removes its metrics folder
    assert serve.wait(timeout=30) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{web}/healthz", timeout=2)
    assert not (tmp_path / "home" / ".gunicorn").exists()  # no control socket outside the instance
