"""Signing in to the admin UI: local accounts, the throttle, sessions, CSRF, cookies and headers."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.accounts import users, web_settings
from hub.accounts.users import AccountError, Role
from hub.app.bootstrap import Hub
from hub.store.models import AuditRow, SignInFailureRow, WebSessionRow
from nurture.errors import ConfigError
from tests.fixtures.clock import ManualClock
from tests.webapp.admin_support import PASSWORD, add_account, post, sign_in, signed_in, text_of, token, token_from
from tests.webapp.conftest import signed
from webapp import create_app

PAGES = [
    "/",
    "/connections",
    "/mappings",
    "/mappings/typeform_default",
    "/channels",
    "/cadence",
    "/templates",
    "/settings/channels/history",
    "/sync-errors",
    "/leads",
    "/users",
]


def session_token(app: Flask, client: FlaskClient) -> str | None:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return None
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)  # type: ignore[attr-defined]
    value = data.get("sid")
    return str(value) if value else None


def sessions(hub: Hub) -> int:
    with hub.store.tx() as s:
        return int(s.scalar(select(func.count()).select_from(WebSessionRow)) or 0)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_sends_a_signed_out_visitor_to_sign_in(client: FlaskClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in?next=")


def test_the_right_password_signs_in_with_a_new_session_id(app: Flask, client: FlaskClient, hub: Hub) -> None:
    add_account(hub, "ada", "admin")
    page = client.get("/sign-in")
    before = token_from(page.text)
    response = sign_in(client, "ada")
    assert response.status_code == 303  # type: ignore[attr-defined]
    first = session_token(app, client)
    assert first and sessions(hub) == 1
    # The CSRF secret was replaced too: a token from before signing in no longer works.
    assert client.post("/channels", data={"csrf_token": before}).status_code == 400
    again = sign_in(client, "ada")
    assert again.status_code == 303  # type: ignore[attr-defined]
    assert session_token(app, client) not in (None, first)
    assert client.get("/").status_code == 200


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client: FlaskClient, hub: Hub) -> None:
    add_account(hub, "ada", "admin")
    wrong_password = sign_in(client, "ada", "not the password at all")
    unknown_user = sign_in(client, "nobody", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 401  # type: ignore[attr-defined]
    message = "The user name or password is not right."
    assert message in text_of(wrong_password.text) and message in text_of(unknown_user.text)  # type: ignore[attr-defined]
    assert sessions(hub) == 0


def sign_in_from(client: FlaskClient, address: str, username: str, password: str = PASSWORD) -> object:
    """Sign in as a browser at ``address`` would (the throttle counts per address)."""
    client.environ_base["REMOTE_ADDR"] = address
    return sign_in(client, username, password)


def test_failures_from_one_address_bring_a_growing_delay_not_a_lockout(
    app: Flask, hub: Hub, clock: ManualClock
) -> None:
    add_account(hub, "ada", "admin")
    guesser = app.test_client()
    for _ in range(users.PAIR_FREE):
        assert sign_in_from(guesser, "203.0.113.9", "ada", "a wrong guess!!").status_code == 401  # type: ignore[attr-defined]
    refused = sign_in_from(guesser, "203.0.113.9", "ada")  # even the right password waits
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert refused.headers["Retry-After"] == "2"  # type: ignore[attr-defined]
    assert "Wait 2 seconds" in text_of(refused.text)  # type: ignore[attr-defined]
    clock.advance(seconds=2)
    assert sign_in_from(guesser, "203.0.113.9", "ada", "another guess!!").status_code == 401  # type: ignore[attr-defined]
    doubled = sign_in_from(guesser, "203.0.113.9", "ada")
    assert doubled.headers["Retry-After"] == "4"  # type: ignore[attr-defined]
    clock.advance(seconds=4)
    assert sign_in_from(guesser, "203.0.113.9", "ada").status_code == 303  # type: ignore[attr-defined]


def test_a_stranger_guessing_cannot_lock_the_admin_out(app: Flask, hub: Hub, clock: ManualClock) -> None:
    add_account(hub, "admin", "admin")
    stranger = app.test_client()
    for _ in range(100):
        sign_in_from(stranger, "198.51.100.7", "admin", "guess guess guess")
        clock.advance(seconds=1)
    assert sign_in_from(stranger, "198.51.100.7", "admin").status_code == 429  # type: ignore[attr-defined]
    admin = app.test_client()
    assert sign_in_from(admin, "192.0.2.10", "admin").status_code == 303  # type: ignore[attr-defined]


def test_one_address_guessing_many_names_is_slowed_too(app: Flask, hub: Hub, clock: ManualClock) -> None:
    add_account(hub, "ada", "admin")
    sprayer = app.test_client()
    for i in range(users.SOURCE_FREE):
        assert sign_in_from(sprayer, "198.51.100.8", f"name{i}", "spray spray 1").status_code == 401  # type: ignore[attr-defined]
    assert sign_in_from(sprayer, "198.51.100.8", "ada").status_code == 429  # type: ignore[attr-defined]
    assert sign_in_from(app.test_client(), "198.51.100.9", "ada").status_code == 303  # type: ignore[attr-defined]


def test_a_flood_from_a_throttled_address_costs_no_store_read_and_one_log_line(
    app: Flask, hub: Hub, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Once the store has said an address must wait, this process answers its further guesses from
    memory until the delay ends (a flood of 429s must not slow the webhooks sharing the workers)."""
    flooder = app.test_client()
    for i in range(users.SOURCE_FREE):
        sign_in_from(flooder, "198.51.100.11", f"name{i}", "spray spray 1")
    reads = [0]
    real_read = hub.store.read

    def counting_read() -> object:
        reads[0] += 1
        return real_read()

    hub.store.read = counting_read  # type: ignore[method-assign]
    # The app looks for newer saved settings at most once a second of real time (one read): on a
    # busy machine the 50 requests below may span two such seconds. Not what is counted here.
    hub._refreshed_at = float("inf")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hub.accounts.users"):
        answers = [sign_in_from(flooder, "198.51.100.11", f"other{i}", "spray spray 2") for i in range(50)]
    assert {a.status_code for a in answers} == {429}  # type: ignore[attr-defined]
    assert {a.headers["Retry-After"] for a in answers} == {"2"}  # type: ignore[attr-defined]
    assert reads[0] == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "sign-in refused: too many recent failures from one address"
    ]
    clock.advance(seconds=2)  # the delay is over: the next guess is checked (and fails) again
    assert sign_in_from(flooder, "198.51.100.11", "again", "spray spray 3").status_code == 401  # type: ignore[attr-defined]
    assert sign_in_from(app.test_client(), "198.51.100.12", "ada", "another address").status_code == 401  # type: ignore[attr-defined]


def test_a_success_clears_the_failures(app: Flask, hub: Hub, clock: ManualClock) -> None:
    add_account(hub, "ada", "admin")
    browser = app.test_client()
    for _ in range(users.PAIR_FREE - 1):
        sign_in_from(browser, "192.0.2.20", "ada", "typo typo typo")
    assert sign_in_from(browser, "192.0.2.20", "ada").status_code == 303  # type: ignore[attr-defined]
    with hub.store.tx() as s:
        assert s.scalar(select(func.count()).select_from(SignInFailureRow)) == 0
    for _ in range(users.PAIR_FREE - 1):  # a fresh allowance: no delay before the next success
        sign_in_from(browser, "192.0.2.20", "ada", "typo typo typo")
    assert sign_in_from(browser, "192.0.2.20", "ada").status_code == 303  # type: ignore[attr-defined]


def test_failures_older_than_an_hour_are_forgotten(app: Flask, hub: Hub, clock: ManualClock) -> None:
    add_account(hub, "ada", "admin")
    with hub.store.tx() as s:
        s.add_all(
            SignInFailureRow(username="ada", source="192.0.2.30", at=clock.now - timedelta(minutes=61))
            for _ in range(50)
        )
    assert sign_in_from(app.test_client(), "192.0.2.30", "ada").status_code == 303  # type: ignore[attr-defined]


def test_the_password_is_hashed_outside_any_write_transaction(hub: Hub, clock: ManualClock) -> None:
    add_account(hub, "ada", "admin")
    writes_open: list[bool] = []
    real_verify = users._verify
    depth = [0]
    real_tx = hub.store.tx

    @contextlib.contextmanager
    def counting_tx() -> Iterator[Any]:
        depth[0] += 1
        try:
            with real_tx() as session:
                yield session
        finally:
            depth[0] -= 1

    def watching_verify(digest: str, password: str) -> bool:
        writes_open.append(depth[0] > 0)
        return real_verify(digest, password)

    with (
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setattr(hub.store, "tx", counting_tx)
        mp.setattr(users, "_verify", watching_verify)
        assert users.authenticate(hub.store, "ada", "wrong wrong wrong", now=clock.now, source="x").refused
        assert users.authenticate(hub.store, "ada", PASSWORD, now=clock.now, source="x").ok
    assert writes_open == [False, False]


def test_sign_ins_waiting_for_a_hash_never_take_every_web_thread(app: Flask, hub: Hub, clock: ManualClock) -> None:
    """Two sign-ins of a process may wait for the hashing thread; a third is answered "busy" at once,
    without a hash and without counting a failure, so the worker's other threads stay free for the
    webhooks."""
    add_account(hub, "ada", "admin")
    release = threading.Event()
    waiting = [threading.Event() for _ in range(users.HASH_WAITERS)]
    calls = iter(waiting)
    real_check, real_thread = users._check, users._hashing_thread

    def slow_check(digest: str, password: str) -> bool:
        release.wait(30)
        return real_check(digest, password)

    def handing_out() -> Any:
        next(calls).set()  # called once a sign-in holds a waiting place
        return real_thread()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "_check", slow_check)
        mp.setattr(users, "_hashing_thread", handing_out)
        waiters = [
            threading.Thread(
                target=users.authenticate, args=(hub.store, "ada", f"guess {k} guess"), kwargs={"now": clock.now}
            )
            for k in range(users.HASH_WAITERS)
        ]
        for waiter in waiters:
            waiter.start()
        for event in waiting:
            assert event.wait(30)
        busy = sign_in_from(app.test_client(), "192.0.2.40", "ada")
        release.set()
        for waiter in waiters:
            waiter.join(30)
    assert busy.status_code == 503  # type: ignore[attr-defined]
    assert busy.headers["Retry-After"] == "1"  # type: ignore[attr-defined]
    assert "Sign-in is busy this moment. Wait 1 second and try again." in text_of(busy.text)  # type: ignore[attr-defined]
    with hub.store.tx() as s:  # the two guesses are counted; the busy answer is not
        assert s.scalar(select(func.count()).select_from(SignInFailureRow)) == users.HASH_WAITERS
    assert sign_in_from(app.test_client(), "192.0.2.40", "ada").status_code == 303  # type: ignore[attr-defined]


def test_a_session_ends_after_30_idle_minutes(app: Flask, hub: Hub, clock: ManualClock) -> None:
    client = signed_in(app, hub, "admin")
    clock.advance(minutes=29)
    assert client.get("/mappings").status_code == 200
    clock.advance(minutes=29)  # activity keeps it alive
    assert client.get("/mappings").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/mappings")
    assert response.status_code == 303
    assert "expired=1" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert "Your session ended after 30 minutes without activity" in text_of(page.text)
    assert sessions(hub) == 0


def test_a_form_posted_after_the_session_expired_changes_nothing(app: Flask, hub: Hub, clock: ManualClock) -> None:
    client = signed_in(app, hub, "admin")
    csrf = token(client)
    clock.advance(minutes=31)
    response = client.post(
        "/users", data={"csrf_token": csrf, "username": "eve", "password": PASSWORD, "role": "admin"}
    )
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]
    assert users.get_user(hub.store, username="eve") is None


def test_signing_out_ends_the_session_for_good(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "viewer")
    name = app.config["SESSION_COOKIE_NAME"]
    stolen = client.get_cookie(name)
    assert stolen is not None
    assert post(client, "/sign-out").status_code == 303  # type: ignore[attr-defined]
    assert client.get("/").status_code == 303
    replay = app.test_client()
    replay.set_cookie(name, stolen.value)
    assert replay.get("/").status_code == 303


def test_switching_an_account_off_ends_its_sessions(app: Flask, hub: Hub, clock: ManualClock) -> None:
    client = signed_in(app, hub, "coordinator", "cora")
    account = users.get_user(hub.store, username="cora")
    assert account is not None
    users.set_active(hub.store, account.id, False, now=clock.now, actor="test")
    assert client.get("/leads").status_code == 303
    assert sign_in(app.test_client(), "cora").status_code == 403  # type: ignore[attr-defined]


@pytest.mark.parametrize("data", [{}, {"csrf_token": ""}, {"csrf_token": "abc.def"}, {"csrf_token": "x" * 40}])
def test_a_form_without_a_valid_csrf_token_is_refused(app: Flask, hub: Hub, data: dict[str, str]) -> None:
    client = signed_in(app, hub, "admin")
    response = client.post("/users", data={**data, "username": "eve", "password": PASSWORD, "role": "admin"})
    assert response.status_code == 400
    assert "This form has expired or was not sent from this site" in text_of(response.text)
    assert users.get_user(hub.store, username="eve") is None


def test_a_token_from_another_session_is_refused(app: Flask, hub: Hub) -> None:
    mallory = signed_in(app, hub, "viewer", "mallory")
    victim = signed_in(app, hub, "admin", "victim")
    response = victim.post(
        "/users", data={"csrf_token": token(mallory), "username": "eve", "password": PASSWORD, "role": "admin"}
    )
    assert response.status_code == 400
    assert users.get_user(hub.store, username="eve") is None


def test_a_form_posted_from_another_site_is_refused(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "admin")
    response = client.post(
        "/users",
        data={"csrf_token": token(client), "username": "eve", "password": PASSWORD, "role": "admin"},
        headers={"Origin": "https://attacker.example"},
    )
    assert response.status_code == 400
    assert users.get_user(hub.store, username="eve") is None


def test_the_sign_in_form_needs_its_token_too(client: FlaskClient, hub: Hub) -> None:
    add_account(hub, "ada", "admin")
    response = client.post("/sign-in", data={"username": "ada", "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in text_of(response.text)
    assert sessions(hub) == 0


def test_webhooks_stay_exempt_from_csrf_they_are_signed(client: FlaskClient, clock: ManualClock) -> None:
    inquiry = {"channel": "paid_search", "first_name": "Maya", "phone": "(512) 555-0101", "text": "book me in"}
    assert signed(client, "landing_page", inquiry, now=clock.now).status_code == 202


def test_the_session_cookie_is_secure_http_only_and_same_site_lax(client: FlaskClient) -> None:
    cookie = client.get("/sign-in").headers["Set-Cookie"]
    assert cookie.startswith("__Host-nurturehub=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie


def test_secure_cookies_can_be_turned_off_for_http_localhost(hub: Hub) -> None:
    raw = {**hub.config.raw, "web": {"secure_cookies": False}}
    app = create_app(replace(hub, config=replace(hub.config, raw=raw)), TESTING=True)
    cookie = app.test_client().get("/sign-in").headers["Set-Cookie"]
    assert cookie.startswith("nurturehub=") and "Secure" not in cookie and "HttpOnly" in cookie


def test_pages_carry_a_strict_content_security_policy_and_are_not_cached(app: Flask, hub: Hub) -> None:
    response = signed_in(app, hub, "viewer").get("/mappings")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_sign_in_only_returns_to_pages_of_this_site(client: FlaskClient, hub: Hub) -> None:
    add_account(hub, "ada", "admin")
    csrf = token_from(client.get("/sign-in").text)
    response = client.post(
        "/sign-in", data={"username": "ada", "password": PASSWORD, "csrf_token": csrf, "next": "//evil.example/x"}
    )
    assert response.headers["Location"] == "/"


def test_sign_in_returns_to_the_page_asked_for(client: FlaskClient, hub: Hub) -> None:
    add_account(hub, "ada", "admin")
    asked = client.get("/cadence").headers["Location"]
    page = client.get(asked)
    response = client.post(
        "/sign-in",
        data={"username": "ada", "password": PASSWORD, "csrf_token": token_from(page.text), "next": "/cadence"},
    )
    assert response.headers["Location"] == "/cadence"


def test_signing_in_and_out_is_audited(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "viewer", "vic")
    post(client, "/sign-out")
    with hub.store.tx() as s:
        actions = [a for (a,) in s.execute(select(AuditRow.action).order_by(AuditRow.id))]
    assert actions[-2:] == ["user.sign_in", "user.sign_out"]


def test_a_viewer_is_refused_what_only_an_admin_may_do(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "viewer")
    response = post(client, "/users", {"username": "eve", "password": PASSWORD, "role": "admin"})
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert "Your role (viewer) cannot do this" in text_of(response.text)  # type: ignore[attr-defined]


# --- accounts ---------------------------------------------------------------------------------------


def test_new_accounts_need_a_long_password_a_free_name_and_a_known_role(hub: Hub, clock: ManualClock) -> None:
    add_account(hub, "ada", "admin")
    cases = [
        ({"username": "ada", "password": PASSWORD, "role": "admin"}, "username"),
        ({"username": "bo", "password": PASSWORD, "role": "admin"}, "username"),
        ({"username": "bob smith", "password": PASSWORD, "role": "admin"}, "username"),
        ({"username": "bob", "password": "short", "role": "admin"}, "password"),
        ({"username": "bob", "password": PASSWORD, "role": "owner"}, "role"),
    ]
    for values, field in cases:
        with pytest.raises(AccountError) as caught:
            users.add_user(hub.store, now=clock.now, **values)
        assert caught.value.field == field


def test_passwords_are_stored_as_argon2id_hashes(hub: Hub) -> None:
    from hub.store.models import UserRow

    add_account(hub, "ada", "admin")
    with hub.store.tx() as s:
        digest = s.scalars(select(UserRow.password_hash)).one()
    assert digest is not None and digest.startswith("$argon2id$") and PASSWORD not in digest


def test_the_demo_admin_is_made_once_with_a_password_kept_in_the_instance_folder(
    hub: Hub, tmp_path: Path, clock: ManualClock
) -> None:
    name, password = users.demo_admin(hub.store, tmp_path, now=clock.now)
    again = users.demo_admin(hub.store, tmp_path, now=clock.now)
    assert again == (name, password)
    assert (tmp_path / "admin-password").stat().st_mode & 0o777 == 0o600
    assert users.authenticate(hub.store, name, password, now=clock.now).ok


def test_the_last_admin_cannot_be_demoted_or_switched_off(hub: Hub, clock: ManualClock) -> None:
    ada = add_account(hub, "ada", "admin")
    with pytest.raises(AccountError):
        users.set_role(hub.store, ada.id, Role.VIEWER, now=clock.now, actor="test")
    with pytest.raises(AccountError):
        users.set_active(hub.store, ada.id, False, now=clock.now, actor="test")


def test_the_web_section_is_validated_with_every_problem_named() -> None:
    with pytest.raises(ConfigError) as caught:
        web_settings.load_web_settings(
            {"web": {"session_idle_minutes": 1, "oidc": {"issuer": "not a url", "roles": {"staff": "owner"}}}}
        )
    problems = "\n".join(caught.value.problems)
    assert "web.session_idle_minutes" in problems
    assert "web.oidc.issuer" in problems
    assert "web.oidc.client_id" in problems
    assert "web.oidc.roles" in problems
    assert web_settings.load_web_settings({}).session_idle_minutes == 30


def test_without_a_secret_key_the_demo_key_file_is_made_when_a_session_is_first_needed(
    hub: Hub, tmp_path: Path, clock: ManualClock
) -> None:
    instance = tmp_path / "instance"
    app = create_app(replace(hub, config=replace(hub.config, instance_path=instance)))
    client = app.test_client()
    inquiry = {"channel": "paid_search", "first_name": "Maya", "phone": "(512) 555-0101", "text": "book me in"}
    assert signed(client, "landing_page", inquiry, now=clock.now).status_code == 202
    assert not (instance / "secret.key").exists()  # webhooks never open a session
    assert client.get("/sign-in").status_code == 200
    assert (instance / "secret.key").stat().st_mode & 0o777 == 0o600
