"""crm conversions

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_conversions",
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("contact_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("person_account", sa.Boolean(), nullable=False),
        sa.Column("converted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_crm_conversions_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lead_id", "system", name=op.f("pk_crm_conversions")),
    )


def downgrade() -> None:
    op.drop_table("crm_conversions")
