"""Backup and restore of a SQLite store, through SQLite's online backup API.

A file copy of a live SQLite database in WAL mode is not a backup: the newest transactions may sit
in the ``-wal`` file, and a copy taken during a write can be torn. The backup API copies a
consistent snapshot page by page while the hub keeps running (readers never wait in WAL mode, and a
writer only delays the copy). The result is one self-contained file (rollback-journal mode, no
``-wal`` beside it), checked with ``PRAGMA integrity_check`` before it is given its final name.

A restore copies a checked backup into the configured store with the same API. It refuses a
backup that a newer version of nurturehub wrote (its schema revision is unknown here) and, unless
told to replace it, a store that already holds leads.

Neither file holds the data key: stored payloads and tokens stay encrypted with
``NURTUREHUB_DATA_KEY``, which is kept apart from the backups. Leads' names and phone numbers are
in the clear in both: a backup is PHI and is written readable by its owner only (mode 0600).

PostgreSQL stores are backed up with ``pg_dump`` and restored with ``pg_restore``
(docs/operations.md); these functions say so when given one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.app.instance import write_private
from hub.store.engine import shipped_revisions
from nurture.errors import ConfigError, SkipRecord

__all__ = ["SqliteCopy", "backup_sqlite", "restore_sqlite", "sqlite_path"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SqliteCopy:
    """What a backup or restore copied.

    Attributes:
        path: the file written (the backup, or the restored store).
        revision: the schema revision of the copy ("" when it has no schema).
        leads: how many leads it holds.
        size: its size in bytes.
        behind: True when its schema is older than this version's newest (the hub upgrades it
            when it next starts, or with ``nurturehub migrate``).
    """

    path: Path
    revision: str
    leads: int
    size: int
    behind: bool

    def __post_init__(self) -> None:
        if self.leads < 0 or self.size < 0:
            raise ValueError("leads and size cannot be negative")


def sqlite_path(database_url: str, *, command: str) -> Path:
    """The file of a SQLite store URL.

    Raises:
        ConfigError: the store is not a SQLite file (PostgreSQL has its own tools).
    """
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        tool = "pg_dump" if command == "backup" else "pg_restore"
        raise ConfigError(
            [f"store: `nurturehub {command}` is for a SQLite store; this one is PostgreSQL: use {tool} "
             "(docs/operations.md, Backups and restore)"],
        )  # fmt: skip
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise ConfigError([f"store: `nurturehub {command}` needs a SQLite database file"])
    return Path(url.database)


def backup_sqlite(database_url: str, target: Path) -> SqliteCopy:
    """Write a consistent copy of the live store at ``database_url`` to ``target`` (a new file).

    Raises:
        ConfigError: not a SQLite store, or it does not exist.
        SkipRecord: ``target`` exists already (a backup is never overwritten).
    """
    source = sqlite_path(database_url, command="backup")
    if not source.is_file():
        raise ConfigError([f"store: no SQLite database at {source}"])
    if target.exists():
        raise SkipRecord(f"{target} exists already; give the backup a new name", field="FILE", code="backup_exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    write_private(draft, b"")  # SQLite writes into a file that is private from the start
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as src,
            contextlib.closing(sqlite3.connect(draft)) as dst,
        ):
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            _check_integrity(dst, draft)
            revision, leads = _describe(dst)
        with draft.open("rb") as fh:
            os.fsync(fh.fileno())
        draft.rename(target)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    _, heads = shipped_revisions()
    size = target.stat().st_size
    return SqliteCopy(path=target, revision=revision, leads=leads, size=size, behind=_behind(revision, heads))


def restore_sqlite(backup: Path, database_url: str, *, replace: bool = False) -> SqliteCopy:
    """Copy the backup file ``backup`` into the store at ``database_url``.

    Stop the hub's processes first: they would otherwise go on from what they had read before.

    Raises:
        ConfigError: not a SQLite store.
        SkipRecord: the backup is missing, damaged, not a nurturehub store or from a newer version;
            or the store holds leads and ``replace`` is False.
    """
    target = sqlite_path(database_url, command="restore")
    if not backup.is_file():
        raise SkipRecord(f"no backup file at {backup}", field="FILE", code="backup_missing")
    known, heads = shipped_revisions()
    # Read-only and immutable: opening the backup must not change it (no journal, no -wal).
    with contextlib.closing(sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as src:
        _check_integrity(src, backup)
        revision, _ = _describe(src)
        if not revision:
            raise SkipRecord(f"{backup} holds no nurturehub schema", field="FILE", code="backup_not_a_store")
        if revision not in known:
            raise SkipRecord(
                f"{backup} is at schema revision {revision}, newer than this version of nurturehub knows "
                f"(its newest is {', '.join(heads)}): restore it with the version that wrote it",
                field="FILE",
                code="backup_from_newer_version",
            )
        if target.exists() and not replace:
            with contextlib.closing(sqlite3.connect(target, timeout=30)) as existing:
                _, held = _describe(existing)
            if held:
                raise SkipRecord(
                    f"the store at {target} holds {held} leads; add --replace to overwrite it with the backup",
                    field="--replace",
                    code="store_not_empty",
                )
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(target, timeout=30)) as dst:
            src.backup(dst)
            _check_integrity(dst, target)
            restored, leads = _describe(dst)
    return SqliteCopy(
        path=target, revision=restored, leads=leads, size=target.stat().st_size, behind=_behind(restored, heads)
    )


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:
        raise SkipRecord(f"{path} is not a SQLite database ({exc})", field="FILE", code="not_sqlite") from None
    if verdict is None or verdict[0] != "ok":
        raise SkipRecord(f"{path} failed SQLite's integrity check", field="FILE", code="integrity_check_failed")


def _describe(conn: sqlite3.Connection) -> tuple[str, int]:
    """The schema revision ("" without one) and the number of leads."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    revision = ""
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = str(row[0]) if row else ""
    leads = int(conn.execute("SELECT count(*) FROM leads").fetchone()[0]) if "leads" in tables else 0
    return revision, leads


def _behind(revision: str, heads: tuple[str, ...]) -> bool:
    return bool(revision) and revision not in heads
