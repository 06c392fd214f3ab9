"""Readiness: ready with the database answering and its schema current; not ready, saying why, when
the schema is behind or the database does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from hub.app.bootstrap import Hub
from hub.store import Store

#: Nothing listens on port 1: connecting is refused at once.
NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2"


def test_ready_when_the_database_answers_and_is_current(app: Flask) -> None:
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok", "database": "ok", "migrations": "current"}


def test_not_ready_when_the_schema_is_behind(
    app: Flask, hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = Store(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    monkeypatch.setattr(hub.store, "probe", empty.probe)  # the rest of the app keeps its store
    try:
        answer = app.test_client().get("/readyz")
    finally:
        empty.dispose()
    assert answer.status_code == 503
    assert answer.json == {"status": "unavailable", "database": "ok", "migrations": "behind"}


def test_not_ready_when_the_database_does_not_answer(app: Flask, hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    nowhere = Store(NOWHERE)
    monkeypatch.setattr(hub.store, "probe", nowhere.probe)
    try:
        answer = app.test_client().get("/readyz")
    finally:
        nowhere.dispose()
    assert answer.status_code == 503
    assert answer.json == {"status": "unavailable", "database": "unreachable", "detail": "OperationalError"}
