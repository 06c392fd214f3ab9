"""Fixtures shared by the whole suite: settings, a clock, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.settings.config import HubConfig, load_config
from hub.store import Store
from hub.store.models import Base
from nurture.settings import NurtureSettings
from tests.canary import CANARIES
from tests.fixtures.clock import ManualClock
from tests.support import SERVICES, pg_dsn, pg_url, postgres_missing, skip_or_fail

pytest_plugins = [
    "tests.fixtures.salesforce_sandbox",
    "tests.fixtures.hubspot_sandbox",
    "tests.fixtures.fake_crm",
    "tests.fixtures.salesforce_connector",
    "tests.fixtures.hubspot_connector",
    "tests.fixtures.fhir_sandbox",
]


@pytest.fixture(scope="session")
def config() -> HubConfig:
    """The embedded defaults (config.example.toml)."""
    return load_config(None, environ={})


@pytest.fixture(scope="session")
def settings(config: HubConfig) -> NurtureSettings:
    return config.settings


@pytest.fixture
def clock() -> ManualClock:
    # Tuesday 1 December 2026, 10:00 in Austin (16:00 UTC): the clinic is open.
    return ManualClock(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A fresh schema in the test database, dropped at the end of the session."""
    reason = postgres_missing()
    if reason:
        skip_or_fail(reason)
    import psycopg

    url = pg_url()
    schema = f"nh_test_{secrets.token_hex(4)}"
    dsn = pg_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that needs a service skips (fails in CI) before any of its fixtures is set up, so a
    module- or session-scoped fixture never meets the missing service first."""
    for marker, missing in SERVICES.items():
        if item.get_closest_marker(marker) is not None and (reason := missing()):
            skip_or_fail(reason)


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
