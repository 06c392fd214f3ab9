"""the queues each person works (My queue); each touch's place in its lead's sequence (review)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 18:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Each touch's outbound attempt number, and whether the lead's next touch is the patient's (and a
# reply): the window the review used to compute on every read, computed once here for the rows
# there are, then kept by hub.store.repo.renumber_touches.
_BACKFILL = """
UPDATE touches SET attempt = seq.attempt, answered = seq.answered, replied_next = seq.replied_next
FROM (
    SELECT id,
        CASE WHEN outbound THEN SUM(CASE WHEN outbound THEN 1 ELSE 0 END)
            OVER (PARTITION BY lead_id ORDER BY at, id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) END AS attempt,
        COALESCE(NOT LEAD(outbound) OVER (PARTITION BY lead_id ORDER BY at, id), FALSE) AS answered,
        COALESCE(NOT LEAD(outbound) OVER (PARTITION BY lead_id ORDER BY at, id)
            AND LEAD(outcome) OVER (PARTITION BY lead_id ORDER BY at, id) = 'replied', FALSE) AS replied_next
    FROM touches
    WHERE outcome <> 'inquired'
) AS seq
WHERE touches.id = seq.id
"""


def upgrade() -> None:
    op.create_table(
        "user_queues",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("queue", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_queues_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "queue", name=op.f("pk_user_queues")),
    )
    with op.batch_alter_table("touches") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("answered", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("replied_next", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(_BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("touches") as batch:
        batch.drop_column("replied_next")
        batch.drop_column("answered")
        batch.drop_column("attempt")
    op.drop_table("user_queues")
