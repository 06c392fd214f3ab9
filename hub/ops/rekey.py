"""Re-encrypting what the store keeps encrypted (raw inbound payloads, CRM tokens) with the first
data key, so that older keys can be dropped from ``NURTUREHUB_DATA_KEY``.

The encrypted columns are the ones the models mark ``info={"encrypted": True}``; a new one is
picked up without a change here. The work runs beside the live hub: a batch of rows is read, each
value the first key cannot open is re-encrypted (Fernet's ``MultiFernet.rotate``, which keeps the
value's timestamp), and the batch is written back in one short transaction. A value is replaced
only if it is still the one that was read, so a row the hub rewrote meanwhile is left as the hub
wrote it (and is counted; running again settles it). Plaintext never leaves this process and is
never logged.

:func:`check_keys` answers the question an operator asks before dropping a key: does every stored
value open with the first key alone?
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, Table, select, update

from hub.crypto import Vault
from hub.store import Store
from hub.store.models import Base
from nurture.errors import FatalError

log = logging.getLogger(__name__)

__all__ = ["KeyReport", "TableReport", "check_keys", "encrypted_columns", "rekey"]


@dataclass(slots=True, kw_only=True)
class TableReport:
    """One encrypted column's values.

    Attributes:
        column: ``table.column``.
        values: stored values seen (NULLs, such as purged payloads, are not values).
        first_key: values the first key opens (already, or after this run re-encrypted them).
        rotated: values this run re-encrypted with the first key.
        changed: values the hub rewrote while this run was re-encrypting them (run again).
        unreadable: ids of values no configured key opens (a key was dropped too early).
    """

    column: str
    values: int = 0
    first_key: int = 0
    rotated: int = 0
    changed: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def older_key_needed(self) -> int:
        """Values that still need a key other than the first."""
        return self.values - self.first_key - len(self.unreadable)


@dataclass(slots=True, kw_only=True)
class KeyReport:
    """Every encrypted column's report, and the verdict."""

    tables: list[TableReport]
    keys: int

    @property
    def first_key_opens_everything(self) -> bool:
        """True when no stored value needs any key but the first: the others can be dropped."""
        return all(t.older_key_needed == 0 and not t.unreadable and not t.changed for t in self.tables)

    def as_dict(self) -> dict[str, object]:
        return {
            "keys_configured": self.keys,
            "first_key_opens_everything": self.first_key_opens_everything,
            "columns": {
                t.column: {
                    "values": t.values,
                    "first_key": t.first_key,
                    "rotated": t.rotated,
                    "changed_meanwhile": t.changed,
                    "older_key_needed": t.older_key_needed,
                    "unreadable": t.unreadable,
                }
                for t in self.tables
            },
        }


def encrypted_columns() -> list[tuple[Table, Column[object], Column[bytes]]]:
    """(table, primary key, encrypted column) for every column the models mark as encrypted."""
    found: list[tuple[Table, Column[object], Column[bytes]]] = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.info.get("encrypted"):
                (pk,) = table.primary_key.columns
                found.append((table, pk, column))
    return found


def rekey(store: Store, vault: Vault, *, batch: int = 200) -> KeyReport:
    """Re-encrypt, with the first key, every stored value that needs an older one."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    return _walk(store, vault, batch=batch, write=True)


def check_keys(store: Store, vault: Vault, *, batch: int = 500) -> KeyReport:
    """Count, without changing anything, which stored values the first key opens."""
    return _walk(store, vault, batch=batch, write=False)


def _walk(store: Store, vault: Vault, *, batch: int, write: bool) -> KeyReport:
    reports = []
    for table, pk, column in encrypted_columns():
        report = TableReport(column=f"{table.name}.{column.name}")
        for rows in _batches(store, table, pk, column, batch):
            replacements: list[tuple[object, bytes, bytes]] = []
            for key, blob in rows:
                report.values += 1
                if vault.opens_with_first_key(blob):
                    report.first_key += 1
                    continue
                try:
                    fresh = vault.rotate(blob)
                except FatalError:
                    report.unreadable.append(str(key))
                    continue
                if write:
                    replacements.append((key, blob, fresh))
            if replacements:
                with store.tx() as session:
                    for key, old, fresh in replacements:
                        result = session.execute(
                            update(table).where(pk == key, column == old).values({column.name: fresh})
                        )
                        if result.rowcount == 1:  # type: ignore[attr-defined]
                            report.rotated += 1
                            report.first_key += 1
                        else:
                            report.changed += 1
        if report.unreadable:
            log.warning("rekey: %s: %d value(s) open with no configured key", report.column, len(report.unreadable))
        log.info(
            "rekey: %s: %d value(s), %d re-encrypted, %d changed meanwhile",
            report.column,
            report.values,
            report.rotated,
            report.changed,
        )
        reports.append(report)
    return KeyReport(tables=reports, keys=vault.key_count)


def _batches(
    store: Store, table: Table, pk: Column[object], column: Column[bytes], size: int
) -> Iterator[list[tuple[object, bytes]]]:
    """The non-NULL values of ``column`` in primary-key order, ``size`` at a time (keyset paging: a
    short read transaction per batch, never one long one over the whole table)."""
    last: object = None
    while True:
        query = select(pk, column).where(column.is_not(None)).order_by(pk).limit(size)
        if last is not None:
            query = query.where(pk > last)
        with store.read() as session:
            rows = [(key, bytes(blob)) for key, blob in session.execute(query)]
        if not rows:
            return
        yield rows
        last = rows[-1][0]
