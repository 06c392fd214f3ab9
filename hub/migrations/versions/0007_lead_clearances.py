"""lead clearances

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 00:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_clearances",
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("referral_documents_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("insurance_collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authorization_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_clearances_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_lead_clearances")),
    )


def downgrade() -> None:
    op.drop_table("lead_clearances")
