"""Fixtures shared by the whole suite: settings, a clock, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.config import HubConfig, load_config
from hub.store import Store
from hub.store.models import Base
from nurture.settings import NurtureSettings
from tests.canary import CANARIES
from tests.support import skip_or_fail

pytest_plugins = [
    "tests.fixtures.salesforce_sandbox",
    "tests.fixtures.hubspot_sandbox",
    "tests.fixtures.fake_crm",
    "tests.fixtures.salesforce_connector",
    "tests.fixtures.hubspot_connector",
    "tests.fixtures.fhir_sandbox",
]

PG_URL = os.environ.get("NURTUREHUB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Clock:
    """A controllable clock: tests move time explicitly."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(scope="session")
def config() -> HubConfig:
    """The embedded defaults (config.example.toml)."""
    return load_config(None, environ={})


@pytest.fixture(scope="session")
def settings(config: HubConfig) -> NurtureSettings:
    return config.settings


@pytest.fixture
def clock() -> Clock:
    # Tuesday 1 December 2026, 10:00 in Austin (16:00 UTC): the clinic is open.
    return Clock(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))


def _pg_available() -> str | None:
    try:
        import psycopg

        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=2):
            return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {PG_URL.split('@')[-1]} ({type(exc).__name__})"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped at the end of the session."""
    reason = _pg_available()
    if reason:
        skip_or_fail(reason)
    import psycopg

    schema = f"nh_test_{secrets.token_hex(4)}"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
        s.migrate()
        yield s
        s.dispose()
        return
    base = request.getfixturevalue("pg_schema_url")
    s = Store(base)
    s.migrate()
    try:
        yield s
    finally:
        with s.engine.begin() as conn:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
        s.dispose()


class _CanaryWatch(logging.Handler):
    """Sees every log record of the run, unmasked, and remembers any that carries a canary."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is checked by its raw parts
            text = f"{record.msg} {record.args}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]}"
        for canary in CANARIES:
            if canary in text:
                with self._lock2:
                    self.leaks.append(f"{record.name}: {canary!r} in a log line")


_WATCH = _CanaryWatch()


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_WATCH)
    root.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _WATCH.leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("PHI canary found in log output:", red=True)
            for leak in sorted(set(_WATCH.leaks)):
                reporter.write_line(f"  {leak}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
