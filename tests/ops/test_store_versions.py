"""Schema versions: `nurturehub migrate`, a database from a newer version refused, and processes
that start together migrating once (PostgreSQL's advisory lock)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from hub.cli import main
from hub.store import Store
from hub.store.engine import shipped_heads, shipped_revisions
from nurture.errors import ConfigError
from tests.support import child_environ, pg_dsn, pg_url


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


def _from_the_future(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_newer'")


def test_migrate_says_where_the_schema_stands_and_brings_it_up_to_date(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, (newest,) = shipped_revisions()
    assert main(["--database-url", url, "migrate", "--check"]) == 1
    assert capsys.readouterr().out.strip() == f"schema (none), newest {newest}: behind (run `nurturehub migrate`)"
    assert main(["--database-url", url, "migrate"]) == 0
    assert capsys.readouterr().out.strip() == f"schema upgraded from (none) to {newest}"
    assert main(["--database-url", url, "migrate", "--check", "--json"]) == 0
    assert '"state": "current"' in capsys.readouterr().out
    assert main(["--database-url", url, "migrate"]) == 0
    assert capsys.readouterr().out.strip() == f"schema already current ({newest})"


def test_a_database_from_a_newer_version_is_refused_and_left_untouched(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(url)
    store.migrate()
    _from_the_future(store)

    with pytest.raises(ConfigError) as refused:
        store.migrate()
    assert "schema revision 9999_newer, newer than this version of nurturehub knows" in str(refused.value)
    assert store.schema_state().is_newer and not store.is_current()
    store.dispose()

    for command in (["migrate"], ["migrate", "--check"], ["leads", "overdue"]):
        assert main(["--database-url", url, *command]) == 2
        assert "downgrades are not supported" in capsys.readouterr().err
    untouched = Store(url)
    try:
        with untouched.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999_newer"
    finally:
        untouched.dispose()


def test_the_quick_revision_check_reads_the_same_heads_as_alembic_and_spares_its_import(url: str) -> None:
    assert shipped_heads() == shipped_revisions()[1]
    Store(url).migrate()
    probe = (
        "import sys; from hub.store import Store; store = Store(sys.argv[1]); store.migrate(); "
        "print('alembic' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, url], capture_output=True, text=True, check=True, env=child_environ()
    )
    assert done.stdout.strip() == "False"  # a current store: one query, no alembic


@pytest.fixture
def fresh_schema() -> Iterator[str]:
    """The URL of an empty schema of the test database (the session's is migrated already)."""
    url = pg_url()
    schema = f"nh_ops_lock_{secrets.token_hex(4)}"
    dsn = pg_dsn(url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
def test_on_postgresql_a_migration_waits_for_one_already_running(fresh_schema: str) -> None:
    """The advisory lock (one per schema) keeps processes that start together from creating the
    same tables twice: a migration started while another holds the lock waits for it."""
    url = fresh_schema
    holder, migrating = Store(url), Store(url)
    lock = holder.engine.connect()
    key = lock.execute(text("SELECT hashtext('nurturehub migrate ' || current_schema())")).scalar_one()
    lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
    lock.commit()
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            migrating.migrate()
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=migrate)
    thread.start()
    try:
        assert _someone_waits_for(url, key), "the migration did not wait for the lock"
        assert migrating.schema_state().current == ()
    finally:
        lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        lock.commit()
        lock.close()
        thread.join(timeout=120)
    assert not errors and migrating.is_current()
    holder.dispose()
    migrating.dispose()


def _someone_waits_for(url: str, key: int) -> bool:
    """True once a session waits for the advisory lock ``key`` (polled: the event is a pg_locks row)."""
    objid, classid = key & 0xFFFFFFFF, (key >> 32) & 0xFFFFFFFF
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND objid = :objid AND classid = :classid AND database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database())"
    )
    watcher = Store(url)
    try:
        with watcher.engine.connect() as conn:
            for _ in range(600):  # up to a minute
                if conn.execute(query, {"objid": objid, "classid": classid}).scalar_one():
                    return True
                conn.execute(text("SELECT pg_sleep(0.1)"))
        return False
    finally:
        watcher.dispose()


def test_the_error_codes_migration_reads_the_codes_of_the_rows_there_are(url: str) -> None:
    """0014 keeps a failed write's and a parked event's code and field as columns; the rows made
    before it get theirs from their messages, once."""
    store = Store(url)
    store.migrate(revision="0013")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO outbox_items (destination, kind, key, lead_id, created_at, status, attempts, next_attempt_at,"
            " last_error, retries) VALUES ('salesforce', 'upsert_lead', 'nh_1', 'nh_1', '2026-12-01 10:00:00',"
            " 'failed', 1, '2026-12-01 10:00:00', 'INVALID_FIELD: bad value [field Intent__c] (lead nh_1)', 0),"
            " ('hubspot', 'upsert_lead', 'nh_2', 'nh_2', '2026-12-01 10:00:00', 'dead', 8, '2026-12-01 10:00:00',"
            " 'retry_later: HubSpot answered 503', 0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO inbox_events (source, event_id, event_type, received_at, status, attempts, error, replays)"
            " VALUES ('website_form', 'evt_1', '', '2026-12-01 10:00:00', 'parked', 1,"
            " 'unmapped_fields: firstName, phoneNumber', 0)"
        )
    store.migrate()
    with store.engine.connect() as conn:
        outbox = conn.execute(text("SELECT key, error_code, error_field FROM outbox_items ORDER BY key")).all()
        inbox = conn.execute(text("SELECT error_code, error_field FROM inbox_events")).all()
    store.dispose()
    assert [tuple(r) for r in outbox] == [("nh_1", "INVALID_FIELD", "Intent__c"), ("nh_2", "retry_later", None)]
    assert [tuple(r) for r in inbox] == [("unmapped_fields", "firstName")]
