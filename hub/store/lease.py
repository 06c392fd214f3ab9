"""The scheduler's lease on PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``)
held on a connection of its own. When the holder dies, its connection closes and the lock is free;
another replica takes it at its next attempt. One lock per schema: hubs of several clinics may
share a database in separate schemas, each with its own leader.

The leadership election itself (and the lease on SQLite, a lock file) is ``jobs.leader``'s; a
database that does not answer is :class:`~hub.store.errors.StoreUnavailable`.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from hub.store.engine import Store
from hub.store.errors import unavailable_on_error

log = logging.getLogger(__name__)

__all__ = ["LOCK_KEY", "PgAdvisoryLease", "advisory_lease"]

#: The advisory lock key: the first 8 bytes of sha256("nurturehub scheduler"), as a signed bigint.
LOCK_KEY = 0x3F1B_2C77_51A0_9D42


class PgAdvisoryLease:
    """Leadership by a PostgreSQL advisory lock held on its own connection."""

    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._held = key
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        """Take (or keep) the lock: True when this process holds it.

        Raises:
            StoreUnavailable: the database could not be reached.
        """
        if self._conn is not None:
            try:  # still ours while the session lives
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died: so did the lock
                log.warning("scheduler: lost the leadership connection")
                self._drop()
        with unavailable_on_error():
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
        """Give the lock up (nothing happens when this process does not hold it).

        Raises:
            StoreUnavailable: the database could not be told (the lock goes with the connection).
        """
        if self._conn is None:
            return
        try:
            with unavailable_on_error():
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


def advisory_lease(store: Store) -> PgAdvisoryLease | None:
    """The advisory-lock lease on ``store``'s database; None when it is not PostgreSQL."""
    if store.engine.dialect.name == "postgresql":
        return PgAdvisoryLease(store.engine)
    return None
