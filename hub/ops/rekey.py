"""Re-encrypting what the store keeps encrypted (raw inbound payloads, CRM tokens) with the first
data key, so that older keys can be dropped from ``NURTUREHUB_DATA_KEY``.

The encrypted columns are the ones the models mark ``info={"encrypted": True}``; a new one is
picked up without a change here. A column marked ``info={"blind_index_of": "<encrypted column>"}``
holds a keyed hash of that column's plaintext (a look-up key, :meth:`hub.store.crypto.Vault.blind_index`):
it is recomputed under the first key too, or the row could no longer be found once the old key is
dropped (a suppressed contact would be contacted again).

The work runs beside the live hub: a batch of rows is read, each value the first key cannot open is
re-encrypted (Fernet's ``MultiFernet.rotate``, which keeps the value's timestamp), and the batch is
written back in one short transaction. A value is replaced only if it is still the one that was
read, so a row the hub rewrote meanwhile is left as the hub wrote it (and is counted; running again
settles it). Plaintext never leaves this process and is
never logged.

:func:`check_keys` answers the question an operator asks before dropping a key: does every stored
value open with the first key alone?
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Column, Table, null, select, update

from hub.store import Store
from hub.store.crypto import Vault
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
        first_key: values the first key opens, and indexes (already, or after this run rewrote them).
        rotated: values this run re-encrypted with the first key (or re-indexed under it).
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


def encrypted_columns() -> list[tuple[Table, Column[object], Column[bytes], Column[str] | None]]:
    """(table, primary key, encrypted column, its blind index column or None) for every column the
    models mark as encrypted."""
    found: list[tuple[Table, Column[object], Column[bytes], Column[str] | None]] = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.info.get("encrypted"):
                (pk,) = table.primary_key.columns
                index = next((c for c in table.columns if c.info.get("blind_index_of") == column.name), None)
                found.append((table, pk, column, index))
    return found


def rekey(store: Store, vault: Vault, *, batch: int = 200) -> KeyReport:
    """Re-encrypt, with the first key, every stored value that needs an older one (and recompute
    its blind index, if it has one)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    return _walk(store, vault, batch=batch, write=True)


def check_keys(store: Store, vault: Vault, *, batch: int = 500) -> KeyReport:
    """Count, without changing anything, which stored values the first key opens (and indexes)."""
    return _walk(store, vault, batch=batch, write=False)


def _walk(store: Store, vault: Vault, *, batch: int, write: bool) -> KeyReport:
    reports = []
    for table, pk, column, index in encrypted_columns():
        report = TableReport(column=f"{table.name}.{column.name}")
        for rows in _batches(store, table, pk, column, index, batch):
            replacements: list[tuple[object, bytes, dict[str, object]]] = []
            for key, blob, indexed in rows:
                report.values += 1
                fresh: dict[str, object] = {}
                try:
                    if not vault.opens_with_first_key(blob):
                        fresh[column.name] = vault.rotate(blob)
                    if index is not None:
                        wanted = vault.blind_index(vault.decrypt(blob).decode("utf-8"))
                        if indexed != wanted:
                            fresh[index.name] = wanted
                except FatalError:
                    report.unreadable.append(str(key))
                    continue
                if not fresh:
                    report.first_key += 1
                elif write:
                    replacements.append((key, blob, fresh))
            if replacements:
                with store.tx() as session:
                    for key, old, fresh in replacements:
                        result = session.execute(update(table).where(pk == key, column == old).values(fresh))
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
    store: Store, table: Table, pk: Column[object], column: Column[bytes], index: Column[str] | None, size: int
) -> Iterator[list[tuple[object, bytes, str | None]]]:
    """The non-NULL values of ``column`` (and their blind index) in primary-key order, ``size`` at a
    time (keyset paging: a short read transaction per batch, never one long one over the table)."""
    last: object = None
    while True:
        query = select(pk, column, index if index is not None else null()).where(column.is_not(None))
        query = query.order_by(pk).limit(size)
        if last is not None:
            query = query.where(pk > last)
        with store.read() as session:
            rows = [(key, bytes(blob), indexed) for key, blob, indexed in session.execute(query)]
        if not rows:
            return
        yield rows
        last = rows[-1][0]
