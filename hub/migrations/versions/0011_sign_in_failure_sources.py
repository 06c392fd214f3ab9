"""sign-in failures remember their source address (throttle per account and address, and per address)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sign_in_failures") as batch:
        batch.add_column(sa.Column("source", sa.String(length=64), nullable=False, server_default=""))
        batch.create_index("ix_sign_in_failures_source_at", ["source", "at"])


def downgrade() -> None:
    with op.batch_alter_table("sign_in_failures") as batch:
        batch.drop_index("ix_sign_in_failures_source_at")
        batch.drop_column("source")
