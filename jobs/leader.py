"""Choosing the one process that runs the schedules.

On PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
connection. When the holder dies, its connection closes and the lock is free; another replica takes
it at its next attempt. On SQLite (one machine): an exclusive ``flock`` on a lock file in the
instance folder, released by the kernel when the holder dies.

Workers need no leader; only the scheduler does.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

__all__ = ["FileLease", "Leadership", "PgAdvisoryLease", "leadership_for"]

#: The advisory lock key: the first 8 bytes of sha256("nurturehub scheduler"), as a signed bigint.
LOCK_KEY = 0x3F1B_2C77_51A0_9D42


class Leadership(Protocol):
    """A lease on being the scheduler."""

    def acquire(self) -> bool:
        """Try to become (or stay) the leader; True when this process leads."""
        ...

    def release(self) -> None: ...


class PgAdvisoryLease:
    """Leadership by a PostgreSQL advisory lock held on its own connection."""

    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._held = key
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        if self._conn is not None:
            try:  # still ours while the session lives
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died: so did the lock
                log.warning("scheduler: lost the leadership connection")
                self._drop()
        conn = self.engine.connect()
        try:
            # One scheduler per hub, not per database: hubs of several clinics may share one
            # PostgreSQL database in separate schemas, each with its own leader.
            per_schema = text("SELECT CAST(:k AS bigint) # hashtext(current_schema())::bigint")
            self._held = int(conn.execute(per_schema, {"k": self.key}).scalar_one())
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._held}).scalar())
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        log.info("scheduler: this process is the leader (advisory lock %d)", self._held)
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._held})
            self._conn.commit()
        finally:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already gone
                log.debug("scheduler: closing a dead leadership connection failed")


class FileLease:
    """Leadership by an exclusive lock on a file (SQLite: one machine)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        if self._fh is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+", encoding="ascii")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh
        log.info("scheduler: this process is the leader (%s)", self.path)
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def leadership_for(engine: Engine, instance: Path) -> Leadership:
    """The right kind of lease for the store's database."""
    if engine.dialect.name == "postgresql":
        return PgAdvisoryLease(engine)
    return FileLease(instance / "scheduler.lock")
