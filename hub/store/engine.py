"""The engine, transactions and migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, Row, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.base import Executable

log = logging.getLogger(__name__)

__all__ = ["Store"]

READ_ONLY = "nurturehub_read_only"


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("hub").joinpath("migrations")))
    cfg.attributes["engine"] = engine
    return cfg


class Store:
    """The hub's database.

    Args:
        url: a SQLAlchemy URL. SQLite files get WAL and a busy timeout; their folder is created.
        echo: log SQL (never in production: statements carry PHI parameters only as bound values,
            but there is no reason to log them).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # A small pool of long-lived connections: opening one per transaction costs a WAL
            # checkpoint when the last one closes (milliseconds per webhook). Connections move
            # between threads, never share a transaction (check_same_thread off, one per checkout).
            kwargs["poolclass"] = QueuePool
            kwargs["pool_size"] = 5
            kwargs["max_overflow"] = 20
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        # Its own pool, autocommit from each connection's start (switching a pooled connection to
        # autocommit and back costs round trips on every checkout); see execute_atomic.
        self._autocommit: Engine | None = None
        if self.dialect == "postgresql":
            direct = {**kwargs, "pool_pre_ping": False}
            self._autocommit = create_engine(url, **direct, isolation_level="AUTOCOMMIT")
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin_immediate)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: committed at the end of the block, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session

    def execute_atomic(self, statement: Executable, params: Mapping[str, Any]) -> list[Row[Any]]:
        """Run one statement that is atomic on its own (an INSERT … ON CONFLICT, say); its rows.

        On PostgreSQL it runs in autocommit on a pool of its own: one round trip instead of BEGIN,
        statement, COMMIT, and just as durable (the statement commits, with its WAL flush, before
        this returns). That pool skips the pre-ping round trip; a connection found dead (the server
        restarted) is discarded and the statement runs once more on a fresh one, so the statement
        must be safe to repeat. On SQLite it is an ordinary write transaction (BEGIN IMMEDIATE).
        """
        if self._autocommit is None:
            with self.engine.begin() as conn:
                return list(conn.execute(statement, params))
        try:
            with self._autocommit.connect() as conn:
                return list(conn.execute(statement, params))
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with self._autocommit.connect() as conn:
            return list(conn.execute(statement, params))

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction. On SQLite it does not take the write lock (a deferred BEGIN), so
        it can run while this thread or another holds a write transaction (WAL readers never wait)."""
        with self._sessions() as session:
            session.connection(execution_options={READ_ONLY: True})  # begins the transaction, deferred
            try:
                yield session
            finally:
                session.rollback()

    def session(self) -> Session:
        return self._sessions()

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        command.upgrade(_alembic_config(self.engine), "head")

    def is_current(self) -> bool:
        """True when the schema is at the newest migration."""
        script = ScriptDirectory.from_config(_alembic_config(self.engine))
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
        return set(current) == set(script.get_heads())

    def dispose(self) -> None:
        self.engine.dispose()
        if self._autocommit is not None:
            self._autocommit.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module, so BEGIN IMMEDIATE below is ours.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Writers take the lock at BEGIN: no deadlock-prone read→write upgrades between processes.
    # Read-only transactions (Store.read) begin deferred and never take it.
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")
