"""The operator's commands: ``migrate``, ``backup``, ``restore`` and ``rekey`` (docs/operations.md).

``hub.cli`` registers them with :func:`add_commands`. None of them builds the whole hub: they work
on the store the configuration names (``--database-url`` / ``NURTUREHUB_DATABASE_URL`` win), and
``migrate --check``, ``backup`` and ``restore`` never change the schema.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.cli import EXIT_ERROR, EXIT_OK, emit
from hub.store.crypto import ENV_DATA_KEY

if TYPE_CHECKING:
    from hub.ops.backup import SqliteCopy
    from hub.ops.rekey import KeyReport


__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Add the operator's commands to the ``nurturehub`` parser's sub-commands."""
    migrate = sub.add_parser("migrate", help="bring the database schema up to this version's (Alembic migrations)")
    migrate.add_argument("--check", action="store_true", help="only say whether it is current (exit 1 when behind)")
    migrate.add_argument("--json", action="store_true")
    migrate.set_defaults(func=cmd_migrate)

    backup = sub.add_parser("backup", help="write a consistent copy of a SQLite store (PostgreSQL: pg_dump)")
    backup.add_argument("file", metavar="FILE", help="the backup file to write (must not exist)")
    backup.add_argument("--json", action="store_true")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="copy a SQLite backup into the store (stop the hub first)")
    restore.add_argument("file", metavar="FILE", help="a file written by `nurturehub backup`")
    restore.add_argument("--replace", action="store_true", help="overwrite a store that holds leads")
    restore.add_argument("--json", action="store_true")
    restore.set_defaults(func=cmd_restore)

    rekey_cmd = sub.add_parser(
        "rekey", help=f"re-encrypt stored payloads and tokens with the first key in {ENV_DATA_KEY}"
    )
    rekey_cmd.add_argument(
        "--check", action="store_true", help="change nothing; exit 0 when the first key opens every stored value"
    )
    rekey_cmd.add_argument("--batch", type=int, default=200, help="rows per transaction")
    rekey_cmd.add_argument("--json", action="store_true")
    rekey_cmd.set_defaults(func=cmd_rekey)


def _store_url(args: argparse.Namespace) -> str:
    from hub.settings.config import load_config

    if args.database_url:
        return str(args.database_url)
    return load_config(args.config).effective_database_url


def cmd_migrate(args: argparse.Namespace) -> int:
    from hub.store import Store

    store = Store(_store_url(args))
    try:
        before = store.schema_state()
        if args.check:
            if before.is_newer:
                store.migrate()  # raises the ConfigError that explains it
            state = "current" if before.is_current else "behind"
            data = {"ok": before.is_current, "state": state, "current": before.current, "newest": before.heads}
            human = f"schema {_revs(before.current)}, newest {_revs(before.heads)}: {state}"
            if not before.is_current:
                human += " (run `nurturehub migrate`)"
            emit(data, as_json=args.json, human=human)
            return EXIT_OK if before.is_current else EXIT_ERROR
        store.migrate()
        after = store.schema_state()
    finally:
        store.dispose()
    upgraded = before.current != after.current
    human = (
        f"schema upgraded from {_revs(before.current)} to {_revs(after.current)}"
        if upgraded
        else f"schema already current ({_revs(after.current)})"
    )
    emit(
        {"ok": True, "upgraded": upgraded, "from": before.current, "to": after.current}, as_json=args.json, human=human
    )
    return EXIT_OK


def _revs(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) or "(none)"


def cmd_backup(args: argparse.Namespace) -> int:
    from hub.ops.backup import backup_sqlite

    copy = backup_sqlite(_store_url(args), Path(args.file))
    key_note = (
        f"the data key is not in it: keep {ENV_DATA_KEY} (your env file) apart from the backups"
        if os.environ.get(ENV_DATA_KEY)
        else "the data key is not in it: copy the instance folder's data.key somewhere apart from the backups"
    )
    human = f"backup written: {copy.path} ({copy.leads} leads, schema {copy.revision}, {copy.size} bytes)"
    emit({"ok": True, **_copy_dict(copy)}, as_json=args.json, human=f"{human}\n{key_note}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from hub.ops.backup import restore_sqlite

    copy = restore_sqlite(Path(args.file), _store_url(args), replace=args.replace)
    human = f"restored into {copy.path}: {copy.leads} leads, schema {copy.revision}"
    if copy.behind:
        human += "\nits schema is older than this version's: the hub upgrades it at start (or `nurturehub migrate`)"
    emit({"ok": True, **_copy_dict(copy)}, as_json=args.json, human=human)
    return EXIT_OK


def _copy_dict(copy: SqliteCopy) -> dict[str, Any]:
    return {"file": str(copy.path), "revision": copy.revision, "leads": copy.leads, "bytes": copy.size,
            "schema_behind": copy.behind}  # fmt: skip


def cmd_rekey(args: argparse.Namespace) -> int:
    from hub.ops.rekey import check_keys, rekey
    from hub.store import Store
    from hub.store.crypto import Vault

    vault = Vault.from_env()
    store = Store(_store_url(args))
    try:
        store.migrate()  # as every command does; refuses a database from a newer version
        report = check_keys(store, vault) if args.check else rekey(store, vault, batch=args.batch)
    finally:
        store.dispose()
    emit(report.as_dict(), as_json=args.json, human=_human_report(report, checked=args.check))
    return EXIT_OK if report.first_key_opens_everything else EXIT_ERROR


def _human_report(report: KeyReport, *, checked: bool) -> str:
    lines = []
    for t in report.tables:
        line = f"{t.column}: {t.values} value(s), {t.first_key} open with the first key"
        if not checked:
            line += f" ({t.rotated} re-encrypted now)"
        if t.changed:
            line += f", {t.changed} changed by the hub meanwhile"
        if t.unreadable:
            line += f", {len(t.unreadable)} open with no configured key (ids: {', '.join(t.unreadable[:20])})"
        lines.append(line)
    needed = sum(t.older_key_needed for t in report.tables)
    unreadable = sum(len(t.unreadable) for t in report.tables)
    if report.first_key_opens_everything:
        tail = (
            f"every stored value opens with the first key: the other key(s) in {ENV_DATA_KEY} are no longer needed"
            if report.keys > 1
            else "every stored value opens with the configured key"
        )
    elif unreadable:
        tail = (
            f"{unreadable} value(s) need a key that is no longer in {ENV_DATA_KEY}: put it back after the first "
            "and run `nurturehub rekey`"
        )
    else:
        tail = f"{needed} value(s) still need an older key: keep it and run `nurturehub rekey` again"
    lines.append(tail)
    return "\n".join(lines)
