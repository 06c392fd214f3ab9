"""Server-side web sessions.

A web session is a random token in the browser's cookie; the store keeps only its SHA-256. It ends
after ``session_idle_minutes`` without a request (default 30), after :data:`ABSOLUTE_LIFETIME`, at
sign-out, and when the account is deactivated.

Nothing here logs a token or its digest."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hub.accounts.users import User, _user, token_digest
from hub.store import Store, repo
from hub.store.models import UserRow, WebSessionRow

log = logging.getLogger(__name__)

#: A session ends this long after sign-in, however active.
ABSOLUTE_LIFETIME = timedelta(hours=12)
#: ``last_seen_at`` is written at most this often (every request would be a write).
_TOUCH_EVERY = timedelta(seconds=60)


def start_session(store: Store, user: User, *, now: datetime, method: str = "password") -> str:
    """A new session for ``user``: returns the token for the cookie (a new one at every sign-in)."""
    token = secrets.token_urlsafe(32)
    with store.tx() as session:
        session.add(
            WebSessionRow(id=token_digest(token), user_id=user.id, created_at=now, last_seen_at=now, method=method)
        )
        repo.audit(
            session,
            actor=user.actor,
            action="user.sign_in",
            subject_type="user",
            subject_id=str(user.id),
            now=now,
            detail={"method": method},
        )
    log.info("account %d signed in (%s)", user.id, method)
    return token


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionCheck:
    """What a session token is worth now.

    Attributes:
        user: the signed-in account, when the session is valid.
        ended: why there is none: ``unknown`` (no such session, or signed out), ``expired`` (idle
            too long, or older than the absolute lifetime), ``inactive`` (account deactivated).
    """

    user: User | None = None
    ended: Literal["unknown", "expired", "inactive"] | None = None


def check_session(store: Store, token: str, *, now: datetime, idle: timedelta) -> SessionCheck:
    """The account behind ``token``, and the session kept alive; expired sessions are deleted."""
    with store.tx() as session:
        row = session.get(WebSessionRow, token_digest(token))
        if row is None:
            return SessionCheck(ended="unknown")
        if now - row.last_seen_at > idle or now - row.created_at > ABSOLUTE_LIFETIME:
            session.delete(row)
            return SessionCheck(ended="expired")
        user_row = session.get(UserRow, row.user_id)
        if user_row is None or not user_row.active:
            session.delete(row)
            return SessionCheck(ended="inactive")
        if now - row.last_seen_at >= _TOUCH_EVERY:
            row.last_seen_at = now
        return SessionCheck(user=_user(user_row))


def end_session(store: Store, token: str, *, now: datetime) -> None:
    """Sign out: forget the session."""
    with store.tx() as session:
        row = session.get(WebSessionRow, token_digest(token))
        if row is not None:
            repo.audit(
                session,
                actor=f"user:{row.user_id}",
                action="user.sign_out",
                subject_type="user",
                subject_id=str(row.user_id),
                now=now,
            )
            session.delete(row)
