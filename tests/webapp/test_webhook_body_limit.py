"""413 for any body over the limit, chunked or not, before the signature is looked at: a signed
chunked body one byte over the limit used to be cut at a chunk and answered 401 signature_mismatch.
Sent over real HTTP (chunked transfer encoding needs a real server), on Werkzeug and on gunicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from connectors.inbound import sign_request
from hub.app.bootstrap import Hub, build_hub
from hub.settings.config import HubConfig
from hub.store.models import InboxRow
from sandboxes.common import SandboxServer, free_port
from tests.fixtures.clock import ManualClock
from tests.webapp.conftest import SECRETS, environ
from webapp import create_app

LIMIT = 256 * 1024  # [inbox] max_body_kb of the example configuration
ROOT = Path(__file__).resolve().parents[2]


def _chunks(body: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _signed(body: bytes, clock: ManualClock) -> dict[str, str]:
    secret = SECRETS["NURTUREHUB_SECRET_LANDING_PAGE"]
    return {**sign_request("standard_webhook", body, secret=secret, now=clock.now), "Content-Type": "application/json"}


def _post_chunked(url: str, body: bytes, clock: ManualClock) -> requests.Response:
    return requests.post(f"{url}/webhooks/landing_page", data=_chunks(body), headers=_signed(body, clock), timeout=30)


def _body(size: int) -> bytes:
    head = b'{"channel": "paid_search", "phone": "(512) 555-0101", "text": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.fixture
def served(tmp_path: Path, config: HubConfig, clock: ManualClock) -> Iterator[tuple[Hub, str]]:
    hub = build_hub(config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=environ(), clock=clock)
    with SandboxServer(create_app(hub)) as server:
        yield hub, server.url
    hub.close()


def _inbox(hub: Hub) -> int:
    with hub.store.tx() as s:
        return len(s.query(InboxRow.id).all())


def test_a_signed_chunked_body_one_byte_over_the_limit_is_413_and_writes_nothing(
    served: tuple[Hub, str], clock: ManualClock
) -> None:
    hub, url = served
    body = _body(LIMIT + 1)
    response = _post_chunked(url, body, clock)
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")
    assert _inbox(hub) == 0


def test_a_signed_chunked_body_at_the_limit_is_read_whole_and_accepted(
    served: tuple[Hub, str], clock: ManualClock
) -> None:
    hub, url = served
    body = _body(LIMIT)
    response = _post_chunked(url, body, clock)
    assert response.status_code == 202, response.text
    assert _inbox(hub) == 1


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
    served: tuple[Hub, str], clock: ManualClock
) -> None:
    hub, url = served
    body = _body(LIMIT + 1)
    response = requests.post(f"{url}/webhooks/landing_page", data=body, headers=_signed(body, clock), timeout=30)
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")
    assert _inbox(hub) == 0


@pytest.mark.slow
def test_gunicorn_answers_413_for_a_chunked_body_over_the_limit(tmp_path: Path, clock: ManualClock) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NURTUREHUB_")},
        **environ(),
        "NURTUREHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(),
        "PYTHONPATH": str(ROOT),
    }
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--log-level", "warning",
         "webapp.wsgi:app"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.2)
        from datetime import UTC, datetime

        now = ManualClock(datetime.now(UTC))
        over, at = _body(LIMIT + 1), _body(LIMIT)
        url = f"http://127.0.0.1:{port}/webhooks/landing_page"
        refused = requests.post(url, data=_chunks(over), headers=_signed(over, now), timeout=30)
        accepted = requests.post(url, data=_chunks(at), headers=_signed(at, now), timeout=30)
        assert (refused.status_code, refused.json()["error"]) == (413, "body_too_large")
        assert accepted.status_code == 202, accepted.text
    finally:
        web.terminate()
        web.wait(timeout=30)
