"""Key rotation: the data key (``nurturehub rekey``) and the web session secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from flask.testing import FlaskClient
from sqlalchemy import LargeBinary, select

from hub.app.bootstrap import Hub, build_hub
from hub.inbound.suppression import inherited_denials, suppress
from hub.ops.rekey import check_keys, encrypted_columns, rekey
from hub.settings.config import HubConfig
from hub.store import Store
from hub.store.crypto import Vault
from hub.store.models import Base, ConnectionRow, InboxRow
from nurture.vocab import ContactChannel
from tests.factories import T0
from tests.webapp.admin_support import signed_in
from tests.webapp.conftest import SECRETS
from webapp import create_app

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    s.migrate()
    yield s
    s.dispose()


def _stored(store: Store, key: str, events: int) -> list[bytes]:
    """``events`` inbox payloads and one CRM connection's tokens, encrypted with ``key``; their plaintexts."""
    vault = Vault(key)
    plain = [json.dumps({"n": n, "text": f"inquiry {n}"}).encode() for n in range(events)]
    with store.tx() as session:
        for n, data in enumerate(plain):
            session.add(
                InboxRow(source="landing_page", event_id=f"msg_{n}", event_type="", received_at=T0,
                         payload=vault.encrypt(data), status="done")
            )  # fmt: skip
        session.add(InboxRow(source="landing_page", event_id="purged", event_type="", received_at=T0, status="done"))
        tokens = b'{"access_token": "at", "refresh_token": "rt"}'
        session.add(ConnectionRow(name="hubspot", tokens=Vault(key).encrypt(tokens), updated_at=T0))
    return [*plain, tokens]


def _blobs(store: Store) -> list[bytes]:
    with store.read() as session:
        payloads = session.scalars(select(InboxRow.payload).where(InboxRow.payload.is_not(None)).order_by(InboxRow.id))
        return [*map(bytes, payloads), *map(bytes, session.scalars(select(ConnectionRow.tokens)))]


def test_rekey_reencrypts_every_payload_and_token_so_that_the_old_key_is_no_longer_needed(sqlite_store: Store) -> None:
    plain = _stored(sqlite_store, OLD, events=5)
    rotating = Vault(f"{NEW},{OLD}")
    assert not check_keys(sqlite_store, rotating).first_key_opens_everything

    report = rekey(sqlite_store, rotating, batch=2)  # several batches, each its own transaction

    assert report.first_key_opens_everything
    assert {t.column: (t.values, t.rotated) for t in report.tables} == {
        "inbox_events.payload": (5, 5),  # the purged (NULL) payload is not a value
        "connections.tokens": (1, 1),
        "suppressions.contact": (0, 0),
    }
    assert [Fernet(NEW.encode()).decrypt(b) for b in _blobs(sqlite_store)] == plain
    for blob in _blobs(sqlite_store):
        with pytest.raises(InvalidToken):
            Fernet(OLD.encode()).decrypt(blob)
    assert check_keys(sqlite_store, Vault(NEW)).first_key_opens_everything
    assert rekey(sqlite_store, rotating).tables[0].rotated == 0  # running it again changes nothing


def test_a_value_the_hub_rewrites_during_rekey_is_left_as_the_hub_wrote_it(sqlite_store: Store) -> None:
    _stored(sqlite_store, OLD, events=2)
    hub_wrote = Vault(NEW).encrypt(b'{"access_token": "refreshed meanwhile"}')

    class HubRefreshesTheTokenMeanwhile(Vault):
        def rotate(self, token: bytes) -> bytes:
            fresh = super().rotate(token)
            with sqlite_store.tx() as session:  # the worker refreshed the CRM token just now
                row = session.get(ConnectionRow, "hubspot")
                assert row is not None
                if row.tokens == token:
                    row.tokens = hub_wrote
            return fresh

    report = rekey(sqlite_store, HubRefreshesTheTokenMeanwhile(f"{NEW},{OLD}"))

    tokens = next(t for t in report.tables if t.column == "connections.tokens")
    assert (tokens.rotated, tokens.changed) == (0, 1) and not report.first_key_opens_everything
    assert _blobs(sqlite_store)[-1] == hub_wrote
    assert rekey(sqlite_store, Vault(f"{NEW},{OLD}")).first_key_opens_everything  # the next run settles it


def test_values_no_configured_key_opens_are_named_and_left_alone(sqlite_store: Store) -> None:
    _stored(sqlite_store, OLD, events=1)
    before = _blobs(sqlite_store)

    report = rekey(sqlite_store, Vault(NEW))  # the old key was dropped too early

    assert not report.first_key_opens_everything
    assert {t.column: t.unreadable for t in report.tables} == {
        "inbox_events.payload": ["1"],
        "connections.tokens": ["hubspot"],
        "suppressions.contact": [],
    }
    assert _blobs(sqlite_store) == before
    assert rekey(sqlite_store, Vault(f"{NEW},{OLD}")).first_key_opens_everything  # the key put back


def test_a_suppressed_contact_is_still_found_once_the_old_key_is_gone(sqlite_store: Store) -> None:
    """The suppression list finds a contact by its blind index, a keyed hash under the data key:
    rekey recomputes it under the new key, or the opt-out would be lost with the old key."""
    phone = "+15125550142"
    with sqlite_store.tx() as session:
        suppress(session, Vault(OLD), phone=phone, email=None, channels=[ContactChannel.SMS],
                 source="sms STOP", actor="test", now=T0)  # fmt: skip
    with sqlite_store.read() as session:
        assert not inherited_denials(session, Vault(NEW), phone=phone, email=None), "lost without rekey"
    assert not check_keys(sqlite_store, Vault(f"{NEW},{OLD}")).first_key_opens_everything

    assert rekey(sqlite_store, Vault(f"{NEW},{OLD}")).first_key_opens_everything

    with sqlite_store.read() as session:
        denials = inherited_denials(session, Vault(NEW), phone=phone, email=None)
    assert [d.channel for d in denials] == [ContactChannel.SMS]


def test_every_binary_column_says_whether_it_is_encrypted() -> None:
    """A new encrypted column is re-encrypted by rekey only if its model says so: make it say."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, LargeBinary):
                assert "encrypted" in column.info, f"{table.name}.{column.name}: info={{'encrypted': True|False}}"
    assert {f"{t.name}.{c.name}" for t, _, c, _ in encrypted_columns()} >= {
        "inbox_events.payload",
        "connections.tokens",
        "suppressions.contact",
    }


# --- the session secret ---------------------------------------------------------------------------


def _app_with(hub: Hub, secret: str) -> FlaskClient:
    hub.environ = {**hub.environ, "NURTUREHUB_SECRET_KEY": secret}
    return create_app(hub, TESTING=True).test_client()


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def test_a_new_session_secret_first_keeps_everyone_signed_in_and_the_old_one_can_then_go(
    tmp_path: Path, config: HubConfig
) -> None:
    environ = {"NURTUREHUB_DATA_KEY": OLD, "NURTUREHUB_SECRET_KEY": "old-secret-" + "o" * 40, **SECRETS}
    hub = build_hub(config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=environ)
    try:
        before = create_app(hub, TESTING=True)
        browser = signed_in(before, hub, "admin")
        cookie_name = before.config["SESSION_COOKIE_NAME"]
        signed_with_old = browser.get_cookie(cookie_name)
        assert signed_with_old is not None

        rotating = _app_with(hub, "new-secret-" + "n" * 40 + ",old-secret-" + "o" * 40)
        rotating.set_cookie(cookie_name, signed_with_old.value, domain=signed_with_old.domain)
        assert _signed_in(rotating), "a cookie signed with the old secret is still accepted"
        resigned = rotating.get_cookie(cookie_name)
        assert resigned is not None and resigned.value != signed_with_old.value

        after = _app_with(hub, "new-secret-" + "n" * 40)
        after.set_cookie(cookie_name, resigned.value, domain=resigned.domain)
        assert _signed_in(after), "the re-signed cookie needs only the new secret"
        stale = _app_with(hub, "new-secret-" + "n" * 40)
        stale.set_cookie(cookie_name, signed_with_old.value, domain=signed_with_old.domain)
        assert not _signed_in(stale), "once dropped, the old secret signs nothing in"
    finally:
        hub.close()
