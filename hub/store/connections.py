"""The CRM connections' rows as the admin pages see and change them: each connection's state as
plain data (never its tokens), and the changes an admin makes (disconnect, a check's answer).
Connecting and refreshing tokens is :class:`hub.connections.crm.StoredTokens`'s. Every function takes the
session of the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.models import ConnectionRow

__all__ = ["ConnectionState", "connection_states", "forget_tokens", "is_connected", "record_check"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionState:
    """One CRM connection as stored.

    Attributes:
        name: the CRM (``salesforce``, ``hubspot``).
        connected: tokens are stored.
        status: ``connected``, ``disconnected`` or ``error``.
        detail: what the last change or check said.
        api_used, api_limit: the API usage the CRM last reported.
    """

    name: str
    connected: bool
    status: str
    detail: str | None
    instance_url: str | None
    connected_at: datetime | None
    last_push_at: datetime | None
    last_pull_at: datetime | None
    paused_until: datetime | None
    api_used: int | None
    api_limit: int | None


def _state(row: ConnectionRow) -> ConnectionState:
    return ConnectionState(
        name=row.name,
        connected=bool(row.tokens),
        status=row.status,
        detail=row.detail,
        instance_url=row.instance_url,
        connected_at=row.connected_at,
        last_push_at=row.last_push_at,
        last_pull_at=row.last_pull_at,
        paused_until=row.paused_until,
        api_used=row.api_used,
        api_limit=row.api_limit,
    )


def connection_states(session: Session) -> dict[str, ConnectionState]:
    """Every stored connection, by CRM name."""
    return {row.name: _state(row) for row in session.scalars(select(ConnectionRow))}


def is_connected(session: Session, name: str) -> bool:
    """Tokens are stored for the CRM ``name``."""
    row = session.get(ConnectionRow, name)
    return bool(row is not None and row.tokens)


def forget_tokens(session: Session, name: str, *, detail: str, now: datetime) -> None:
    """Disconnect ``name``: its tokens are forgotten (nothing happens when it was never connected)."""
    row = session.get(ConnectionRow, name)
    if row is not None:
        row.tokens = None
        row.status, row.detail, row.updated_at = "disconnected", detail, now


def record_check(
    session: Session, name: str, *, ok: bool, detail: str, api_used: int | None, api_limit: int | None, now: datetime
) -> None:
    """Record what asking the CRM ``name`` whether the connection works said, and the API usage it
    reported (nothing happens when it was never connected)."""
    row = session.get(ConnectionRow, name)
    if row is not None:
        row.status = "connected" if ok else "error"
        row.detail, row.updated_at = detail, now
        row.api_used, row.api_limit = api_used, api_limit
