"""Choosing the one process that runs the schedules.

On PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a dedicated
connection (:class:`hub.store.lease.PgAdvisoryLease`, the store's). When the holder dies, its
connection closes and the lock is free; another replica takes it at its next attempt. On SQLite
(one machine): an exclusive ``flock`` on a lock file in the instance folder, released by the kernel
when the holder dies.

Workers need no leader; only the scheduler does.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO, Protocol

from hub.store import Store
from hub.store.lease import PgAdvisoryLease, advisory_lease

log = logging.getLogger(__name__)

__all__ = ["FileLease", "Leadership", "PgAdvisoryLease", "leadership_for"]


class Leadership(Protocol):
    """A lease on being the scheduler."""

    def acquire(self) -> bool:
        """Try to become (or stay) the leader; True when this process leads."""
        ...

    def release(self) -> None: ...


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


def leadership_for(store: Store, instance: Path) -> Leadership:
    """The right kind of lease for the store's database."""
    lease = advisory_lease(store)
    return lease if lease is not None else FileLease(instance / "scheduler.lock")
