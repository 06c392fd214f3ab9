"""identity keys, lead links, inquiry touches, replay counts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 18:00:00

One lead per person is a constraint: ``lead_identity_keys`` holds each normalised email and E.164
phone once, with the lead it identifies. ``lead_links`` records leads that may be one person or one
household for a coordinator to decide. Touches gain the inquiry's channel (an *inquiry touch* has
no contact channel, so ``channel`` may be empty).

The backfill claims the keys of the leads there are: each email and phone goes to the lead intake
would have chosen (the newest open lead, else the newest), and every other lead sharing that email
or phone is linked to it ("same_email" / "same_phone") so that duplicates made before identity was
enforced show up on the lead page to be merged.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

CLOSED = ("declined", "not_a_fit", "unreachable", "duplicate")


def upgrade() -> None:
    op.create_table(
        "lead_identity_keys",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_identity_keys_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_lead_identity_keys")),
    )
    with op.batch_alter_table("lead_identity_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_identity_keys_lead_id"), ["lead_id"], unique=False)
    op.create_table(
        "lead_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("other_lead_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_links_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["other_lead_id"], ["leads.id"], name=op.f("fk_lead_links_other_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_links")),
        sa.UniqueConstraint("lead_id", "other_lead_id", name="uq_lead_links_lead_id_other_lead_id"),
    )
    with op.batch_alter_table("lead_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_links_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_links_other_lead_id"), ["other_lead_id"], unique=False)
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_leads_merged_into"), ["merged_into"], unique=False)
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inquiry_channel", sa.String(length=32), nullable=True))
        batch_op.alter_column("channel", existing_type=sa.String(length=16), nullable=True)
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replays", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("outbox_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retries", sa.Integer(), server_default="0", nullable=False))
    _backfill()


def _backfill() -> None:
    """Claim the existing leads' keys; link the leads that share one with the lead that got it."""
    bind = op.get_bind()
    leads = sa.table(
        "leads",
        sa.column("id", sa.String),
        sa.column("phone", sa.String),
        sa.column("email", sa.String),
        sa.column("stage", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    keys = sa.table(
        "lead_identity_keys",
        sa.column("kind", sa.String),
        sa.column("value", sa.String),
        sa.column("lead_id", sa.String),
        sa.column("claimed_at", sa.DateTime(timezone=True)),
    )
    links = sa.table(
        "lead_links",
        sa.column("lead_id", sa.String),
        sa.column("other_lead_id", sa.String),
        sa.column("reason", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as hub.store.models.UtcDateTime stores it
    rows = bind.execute(
        sa.select(leads.c.id, leads.c.phone, leads.c.email, leads.c.stage, leads.c.created_at).order_by(
            leads.c.created_at.desc(), leads.c.id.desc()
        )
    ).all()
    for kind, column in (("email", 2), ("phone", 1)):
        holders: dict[str, list[tuple[bool, str]]] = {}
        for row in rows:  # newest first
            value = row[column]
            if value:
                holders.setdefault(value, []).append((row[3] in CLOSED, row[0]))
        claims, pairs = [], []
        for value, found in holders.items():
            # Open before closed, newest first (the list is already newest first; sort is stable).
            ordered = sorted(found, key=lambda f: f[0])
            holder = ordered[0][1]
            claims.append({"kind": kind, "value": value, "lead_id": holder, "claimed_at": now})
            pairs += [
                {"lead_id": other, "other_lead_id": holder, "reason": f"same_{kind}", "status": "open",
                 "created_at": now}
                for _, other in ordered[1:]
            ]  # fmt: skip
        for start in range(0, len(claims), 1000):
            op.bulk_insert(keys, claims[start : start + 1000])
        seen = {(r[0], r[1]) for r in bind.execute(sa.select(links.c.lead_id, links.c.other_lead_id)).all()}
        fresh = [p for p in pairs if (p["lead_id"], p["other_lead_id"]) not in seen]
        for start in range(0, len(fresh), 1000):
            op.bulk_insert(links, fresh[start : start + 1000])


def downgrade() -> None:
    with op.batch_alter_table("outbox_items", schema=None) as batch_op:
        batch_op.drop_column("retries")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_column("replays")
    op.execute("DELETE FROM touches WHERE channel IS NULL")  # inquiry touches have no contact channel
    with op.batch_alter_table("touches", schema=None) as batch_op:
        batch_op.alter_column("channel", existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_column("inquiry_channel")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_merged_into"))
        batch_op.drop_column("merged_into")
    op.drop_table("lead_links")
    op.drop_table("lead_identity_keys")
