"""suppressions: opt-outs from contacts without a lead

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("contact_index", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.LargeBinary(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("kind", "contact_index", name=op.f("uq_suppressions_kind_contact_index")),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
