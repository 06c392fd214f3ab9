"""Reads beyond one query at a time: several reads run together on one snapshot, and a whole
numeric column set read by the driver itself. Store machinery (connections, transactions,
snapshots), used by the review's queries (hub.review.queries) for the dashboard."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

__all__ = ["driver_rows", "read_together"]

T = TypeVar("T")
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+-[0-9]+")
_FANOUTS = threading.BoundedSemaphore(2)
#: Set in a session's info when it flushes a write (cleared when its transaction ends).
_WROTE = "nurturehub_wrote"


@event.listens_for(Session, "after_flush")
def _note_a_write(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def driver_rows(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` read by the driver itself, in PostgreSQL's binary format, inside
    the session's transaction: for a plain numeric read of a whole cohort (100,000 rows in a
    third of the time SQLAlchemy's row processing takes). PostgreSQL only."""
    connection = session.connection()
    compiled = statement.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return list(cursor.fetchall())


def read_together(
    session: Session, here: Callable[[Session], T], *elsewhere: Callable[[Session], Any], concurrent: bool = True
) -> tuple[T, list[Any]]:
    """Run ``here`` in this thread and each of ``elsewhere`` in a thread of its own, all reading the
    same data: on PostgreSQL each runs on a connection that imports the snapshot of ``session``'s
    transaction (``pg_export_snapshot``, repeatable read), so the figures add up as if one query
    had read them, whatever commits meanwhile; on SQLite they run one after another on
    ``session`` (a WAL read transaction keeps its snapshot). ``here``'s result, then the others'
    in order."""
    if (
        not concurrent
        or session.get_bind().dialect.name != "postgresql"
        or not elsewhere
        # A snapshot leaves out this transaction's own writes, and a savepoint cannot export one.
        or session.new or session.dirty or session.deleted or session.info.get(_WROTE)
        or session.in_nested_transaction()
        # At most a few fan-outs per process (each takes 1 + len(elsewhere) pooled connections).
        or not _FANOUTS.acquire(blocking=False)
    ):  # fmt: skip
        return here(session), [read(session) for read in elsewhere]
    try:
        return _together(session, here, elsewhere)
    finally:
        _FANOUTS.release()


def _together(
    session: Session, here: Callable[[Session], T], elsewhere: Sequence[Callable[[Session], Any]]
) -> tuple[T, list[Any]]:
    snapshot = str(session.execute(text("SELECT pg_export_snapshot()")).scalar_one())
    if not _SNAPSHOT_ID.fullmatch(snapshot):  # the statement takes no parameters: the id is spelled in
        raise ValueError("unexpected snapshot id from PostgreSQL")
    engine = session.get_bind().engine

    def run(read: Callable[[Session], Any]) -> Any:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            with Session(bind=connection) as other:
                try:
                    return read(other)
                finally:
                    connection.rollback()

    with ThreadPoolExecutor(max_workers=len(elsewhere), thread_name_prefix="review-read") as pool:
        pending = [pool.submit(run, read) for read in elsewhere]
        mine = run(here)  # meanwhile, in this thread (its Python work overlaps the others' SQL)
        return mine, [future.result() for future in pending]
