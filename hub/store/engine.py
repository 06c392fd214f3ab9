"""The engine, transactions and migrations."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, Row, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.base import Executable

from hub.store.errors import StoreUnavailable
from nurture.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic is imported only when a migration runs or the schema is inspected in full: a command on a
# store that is already current checks the revision with one query (see Store.migrate), which keeps
# a quick command's start-up short (alembic's import alone takes a quarter of a second).

log = logging.getLogger(__name__)

__all__ = ["SchemaState", "Store", "Transaction", "shipped_heads", "shipped_revisions"]

#: One transaction, as :meth:`Store.tx` and :meth:`Store.read` hand it out. Outside ``hub/`` it is
#: only passed on, to the store's and the hub's functions: they are the ones that query with it.
Transaction: TypeAlias = Session

READ_ONLY = "nurturehub_read_only"
#: Prefix of the advisory lock key migrations take on PostgreSQL (the schema's name completes it).
_MIGRATE_LOCK = "nurturehub migrate "


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaState:
    """The database's schema against this version's migrations.

    Attributes:
        current: the revisions the database is at (empty: no schema yet).
        heads: the newest revisions this version ships.
        unknown: current revisions this version does not know (a newer version migrated the database).
    """

    current: tuple[str, ...]
    heads: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return set(self.current) == set(self.heads)

    @property
    def is_newer(self) -> bool:
        return bool(self.unknown)


def _alembic_config(engine: Engine | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("hub").joinpath("migrations")))
    cfg.attributes["engine"] = engine
    return cfg


@functools.cache
def shipped_revisions() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every schema revision this version's migrations know, and the newest (the heads). Read once:
    the migrations a process ships do not change while it runs (and /readyz asks at every probe)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return frozenset(rev.revision for rev in script.walk_revisions()), tuple(sorted(script.get_heads()))


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*(None|\"[^\"]*\"|'[^']*')\s*$", re.MULTILINE)


@functools.cache
def shipped_heads() -> tuple[str, ...]:
    """The newest revisions of this version's migrations, read from the migration files' own
    ``revision`` / ``down_revision`` lines without importing alembic (the same answer as
    :func:`shipped_revisions`; a test holds them together)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in resources.files("hub").joinpath("migrations", "versions").iterdir():
        if not path.name.endswith(".py") or path.name.startswith("__"):
            continue
        found = {m.group(1): m.group(2) for m in _REVISION.finditer(path.read_text(encoding="utf-8"))}
        if "revision" not in found or "down_revision" not in found:
            return ()  # a form this reader does not know: no quick answer, alembic decides
        revisions.add(found["revision"].strip("\"'"))
        if found["down_revision"] != "None":
            parents.add(found["down_revision"].strip("\"'"))
    return tuple(sorted(revisions - parents))


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

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration (or to ``revision``: tests start old stores).

        Refuses (ConfigError) a database that a newer version of nurturehub has migrated past what
        this version knows: running old code on a newer schema would lose or corrupt data. On
        PostgreSQL the check and the upgrade run under an advisory lock (one per schema), so several
        processes starting at once migrate once.
        """
        if revision == "head" and self._at_shipped_head():
            return
        from alembic import command

        if self.dialect != "postgresql":
            self._refuse_newer()
            command.upgrade(_alembic_config(self.engine), revision)
            return
        with self.engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(hashtext(:key || current_schema()))"), {"key": _MIGRATE_LOCK})
            lock.commit()  # the lock is held by the session, not by a transaction
            try:
                self._refuse_newer()
                command.upgrade(_alembic_config(self.engine), revision)
            finally:
                lock.execute(
                    text("SELECT pg_advisory_unlock(hashtext(:key || current_schema()))"), {"key": _MIGRATE_LOCK}
                )
                lock.commit()

    def _at_shipped_head(self) -> bool:
        """The schema is at this version's newest migration: one query, no alembic import. Any doubt
        (no version table yet, another revision) leaves the decision to alembic."""
        heads = shipped_heads()
        if not heads:
            return False
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        return current == set(heads)

    def schema_state(self) -> SchemaState:
        """Where the database's schema stands against the migrations this version ships."""
        from alembic.runtime.migration import MigrationContext

        known, heads = shipped_revisions()
        with self.engine.connect() as conn:
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
        return SchemaState(current=current, heads=heads, unknown=tuple(rev for rev in current if rev not in known))

    def is_current(self) -> bool:
        """True when the schema is at the newest migration."""
        return self.schema_state().is_current

    def probe(self) -> bool:
        """Whether the database answers (one round trip) with its schema at the newest migration:
        True when current, False when behind. For readiness checks.

        Raises:
            StoreUnavailable: the database could not be reached or failed the check.
        """
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return self.is_current()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(exc) from exc

    def _refuse_newer(self) -> None:
        state = self.schema_state()
        if state.unknown:
            raise ConfigError(
                [
                    f"store: the database is at schema revision {', '.join(state.unknown)}, newer than this version "
                    f"of nurturehub knows (its newest is {', '.join(state.heads)}): a newer version has upgraded it. "
                    "Run that version, or restore the backup taken before the upgrade (docs/operations.md, "
                    "Upgrades); downgrades are not supported"
                ],
                source="the database",
            )

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
