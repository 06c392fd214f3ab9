"""A failed token refresh says what the caller must do (issue 16, item 5): the network or a busy
authorization server is "retry later" (the writes wait in the outbox); a refused refresh token is
"connect again". Against a real HTTP token endpoint on loopback."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hub.app.bootstrap import build_hub
from hub.connections.crm import StoredTokens
from hub.settings.config import HubConfig
from nurture.errors import ConfigError, RetryLater
from sandboxes.common import free_port

ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "busy": (503, {"Content-Type": "text/html"}, b"<html>maintenance</html>"),
    "throttled": (429, {"Retry-After": "30", "Content-Type": "text/plain"}, b"slow down"),
    "revoked": (
        400,
        {"Content-Type": "application/json"},
        b'{"error": "invalid_grant", "error_description": "expired"}',
    ),
    "unavailable": (400, {"Content-Type": "application/json"}, b'{"error": "temporarily_unavailable"}'),
    "fine": (
        200,
        {"Content-Type": "application/json"},
        json.dumps(
            {"access_token": "new-access", "token_type": "Bearer", "instance_url": "https://x.example"}
        ).encode(),
    ),
}


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[str]]]:
    """A token endpoint answering with ``ANSWERS[scenario]``; the scenario is set by the test."""
    scenario: list[str] = ["fine"]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers, body = ANSWERS[scenario[0]]
            self.send_response(status)
            for key, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token", scenario
    finally:
        server.shutdown()
        server.server_close()


def _tokens(tmp_path: Path, config: HubConfig, token_url: str) -> tuple[StoredTokens, object]:
    environ = {"NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(), "NURTUREHUB_SALESFORCE_CLIENT_SECRET": "s3cret"}
    hub = build_hub(config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=environ)
    tokens = hub.tokens("salesforce")
    tokens.settings = dataclasses.replace(tokens.settings, token_url=token_url)
    tokens.save(
        {"access_token": "old", "refresh_token": "r-1", "instance_url": "https://x.example"}, now=datetime.now(UTC)
    )
    return tokens, hub


@pytest.mark.parametrize(
    ("scenario", "error", "said"),
    [
        ("busy", RetryLater, "the token endpoint answered HTTP 503; retrying later"),
        ("throttled", RetryLater, "the token endpoint answered HTTP 429; retrying later"),
        ("unavailable", RetryLater, "the authorization server is busy (temporarily_unavailable)"),
        ("revoked", ConfigError, "refreshing the token failed (invalid_grant); connect again"),
    ],
)
def test_a_refresh_failure_says_whether_to_retry_or_connect_again(
    tmp_path: Path, config: HubConfig, endpoint: tuple[str, list[str]], scenario: str, error: type, said: str
) -> None:
    url, current = endpoint
    tokens, hub = _tokens(tmp_path, config, url)
    current[0] = scenario
    try:
        with pytest.raises(error) as raised:
            tokens.refresh()
        assert said in str(raised.value)
        if scenario == "throttled":
            assert raised.value.retry_after == 30
        current[0] = "fine"
        assert tokens.refresh().access_token == "new-access"  # the stored refresh token still works
    finally:
        hub.close()  # type: ignore[attr-defined]


def test_an_unreachable_token_endpoint_is_retry_later(tmp_path: Path, config: HubConfig) -> None:
    tokens, hub = _tokens(tmp_path, config, f"http://127.0.0.1:{free_port()}/token")  # nothing listens
    try:
        with pytest.raises(RetryLater, match="could not be reached"):
            tokens.refresh()
    finally:
        hub.close()  # type: ignore[attr-defined]
