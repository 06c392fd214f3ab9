"""errors as data: the code and field of a failed CRM write and of a parked inbound event

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:20:00
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The rows there are already carry their code and field inside their message ("code: … [field X]",
# "unmapped_fields: a, b"): read once here, the last time anything parses them. (A migration keeps its
# own copy of the rule rather than importing application code that will change.)
_CODE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): ")
_FIELD = re.compile(r"\[field ([^\]]+)\]")
_TARGET = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): ")


def _outbox(message: str) -> tuple[str, str | None]:
    code, field = _CODE.match(message), _FIELD.search(message)
    return (code.group(1) if code else "error"), (field.group(1) if field else None)


def _inbox(message: str) -> tuple[str, str | None]:
    code = _CODE.match(message)
    if not code:
        return (message.split(":")[0][:40] or "error"), None
    rest = message[code.end() :]
    if code.group(1) == "unmapped_fields":
        return code.group(1), rest.split(",")[0].strip()[:80] or None
    target = _TARGET.match(rest) if code.group(1) == "unmappable" else None
    return code.group(1), target.group(1) if target else None


def upgrade() -> None:
    for table in ("outbox_items", "inbox_events"):
        op.add_column(table, sa.Column("error_code", sa.String(80), nullable=True))
        op.add_column(table, sa.Column("error_field", sa.String(200), nullable=True))
    bind = op.get_bind()
    for table, column, read in (("outbox_items", "last_error", _outbox), ("inbox_events", "error", _inbox)):
        rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")).all()  # noqa: S608
        for row_id, message in rows:
            code, field = read(str(message))
            bind.execute(
                sa.text(f"UPDATE {table} SET error_code = :code, error_field = :field WHERE id = :id"),  # noqa: S608
                {"code": code[:80], "field": field[:200] if field else None, "id": row_id},
            )


def downgrade() -> None:
    for table in ("outbox_items", "inbox_events"):
        op.drop_column(table, "error_field")
        op.drop_column(table, "error_code")
