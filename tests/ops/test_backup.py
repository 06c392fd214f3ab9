"""`nurturehub backup` / `restore` for a SQLite store (PostgreSQL: pg_dump, in test_guide.py)."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.cli import main
from hub.ops.backup import backup_sqlite, restore_sqlite
from hub.store import Store, repo
from nurture.errors import ConfigError, SkipRecord
from tests.factories import lead


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Store]:
    """A running hub's SQLite store (WAL mode, a connection open) holding two leads."""
    store = Store(f"sqlite:///{tmp_path / 'instance' / 'nurturehub.sqlite3'}")
    store.migrate()
    with store.tx() as session:
        repo.save_lead(session, lead(id="nh_backup_one"), expected_version=None)
        repo.save_lead(session, lead(id="nh_backup_two", phone="+15125550143"), expected_version=None)
    yield store
    store.dispose()


def _lead_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM leads ORDER BY id")]


def test_a_backup_of_a_live_store_holds_what_is_still_in_its_wal_file(live: Store, tmp_path: Path) -> None:
    database = Path(live.engine.url.database or "")
    wal = database.with_name(database.name + "-wal")
    assert wal.stat().st_size > 0, "the newest transactions are in the -wal file, not yet in the database file"

    copy = backup_sqlite(live.url, tmp_path / "backups" / "hub.sqlite3")

    assert _lead_ids(copy.path) == ["nh_backup_one", "nh_backup_two"] and copy.leads == 2
    assert stat.S_IMODE(copy.path.stat().st_mode) == 0o600
    assert not Path(f"{copy.path}-wal").exists()
    assert not copy.behind and copy.revision
    with pytest.raises(SkipRecord, match="exists already"):
        backup_sqlite(live.url, copy.path)


def test_restore_puts_the_backup_back_and_refuses_to_overwrite_leads_unasked(live: Store, tmp_path: Path) -> None:
    backup = backup_sqlite(live.url, tmp_path / "backup.sqlite3").path
    with live.tx() as session:
        repo.save_lead(session, lead(id="nh_after_backup", phone="+15125550144"), expected_version=None)

    with pytest.raises(SkipRecord, match="holds 3 leads; add --replace"):
        restore_sqlite(backup, live.url)
    live.dispose()  # the hub is stopped for a restore
    restored = restore_sqlite(backup, live.url, replace=True)

    assert _lead_ids(restored.path) == ["nh_backup_one", "nh_backup_two"]
    again = Store(live.url)
    assert again.is_current()
    again.dispose()


def test_restore_refuses_a_damaged_file_and_one_from_a_newer_version(live: Store, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(SkipRecord, match="not a SQLite database"):
        restore_sqlite(garbage, f"sqlite:///{tmp_path / 'new.sqlite3'}")

    newer = backup_sqlite(live.url, tmp_path / "newer.sqlite3").path
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_newer'")
    with pytest.raises(SkipRecord, match="newer than this version of nurturehub knows"):
        restore_sqlite(newer, f"sqlite:///{tmp_path / 'new.sqlite3'}")
    assert not (tmp_path / "new.sqlite3").exists()


def test_backup_and_restore_name_pg_dump_for_a_postgresql_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="use pg_dump"):
        backup_sqlite("postgresql+psycopg://nurturehub@/nurturehub", tmp_path / "x")
    assert main(["--database-url", "postgresql+psycopg://", "restore", str(tmp_path / "x.dump")]) == 2
    assert "use pg_restore (docs/operations.md" in capsys.readouterr().err
