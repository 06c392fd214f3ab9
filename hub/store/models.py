"""Tables. Times are stored in UTC (timezone-aware columns on PostgreSQL; ISO text on SQLite via
``UtcDateTime``). Enum-like columns hold the domain's stable snake_case names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime()}  # noqa: RUF012


class LeadRow(Base):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    preferred_language: Mapped[str] = mapped_column(String(2), default="en")
    contact_window: Mapped[str | None] = mapped_column(String(20))
    requested_callback_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(8))
    location: Mapped[str | None] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), index=True)
    campaign: Mapped[str | None] = mapped_column(String(200))
    referral_source: Mapped[str | None] = mapped_column(String(200))
    inquiry_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    stage: Mapped[str] = mapped_column(String(20), index=True)
    intent: Mapped[str | None] = mapped_column(String(40))
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    triage_keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_action_kind: Mapped[str | None] = mapped_column(String(40))
    next_action_due_at: Mapped[datetime | None] = mapped_column(index=True)
    next_action_queue: Mapped[str | None] = mapped_column(String(120))
    next_action_reason: Mapped[str | None] = mapped_column(String(80))
    score: Mapped[str | None] = mapped_column(String(1))
    close_reason: Mapped[str | None] = mapped_column(String(200))
    # Speed-to-lead clock.
    first_attempt_at: Mapped[datetime | None]
    first_contact_at: Mapped[datetime | None]
    booked_at: Mapped[datetime | None]
    # Set when a coordinator merged this lead into another (its stage is then "duplicate").
    merged_into: Mapped[str | None] = mapped_column(String(40), index=True)


class ExternalIdRow(Base):
    """Ids of a lead in other systems: CRMs, form tools, booking tools."""

    __tablename__ = "lead_external_ids"
    __table_args__ = (UniqueConstraint("system", "external_id", name="uq_lead_external_ids_system_external_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))


class ConsentRow(Base):
    __tablename__ = "consent_entries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(120))
    wording: Mapped[str] = mapped_column(Text, default="")


class TouchRow(Base):
    __tablename__ = "touches"
    __table_args__ = (UniqueConstraint("lead_id", "source_ref", name="uq_touches_lead_id_source_ref"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str | None] = mapped_column(String(16))  # None: an inquiry by a form, not a contact channel
    # An inquiry touch's channel (website_form, paid_search …).
    inquiry_channel: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    step: Mapped[str | None] = mapped_column(String(40))
    outbound: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where we learned of it (e.g. "salesforce:task:00T…"), unique per lead so a re-read is a no-op.
    source_ref: Mapped[str | None] = mapped_column(String(200))
    # Its place in the lead's sequence (kept by repo.renumber_touches, read by the review): the
    # outbound attempt number (None for the patient's own touches), and whether the lead's next
    # touch is the patient's (answered) and a reply.
    attempt: Mapped[int | None] = mapped_column(Integer)
    answered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    replied_next: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class IdentityKeyRow(Base):
    """A normalised way to reach a person (``email`` or E.164 ``phone``) and the lead it identifies.

    The primary key makes the claim unique: an email address is one lead's; a phone is the first
    lead's that gave it (others sharing that phone, household members, are linked to it instead).
    Intake claims keys in the transaction that writes the lead, after taking the keys' locks
    (``hub.inbound.identity``); a merge moves the absorbed lead's keys to the lead that stays.
    """

    __tablename__ = "lead_identity_keys"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # email | phone
    value: Mapped[str] = mapped_column(String(254), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    claimed_at: Mapped[datetime]


class LeadLinkRow(Base):
    """Two leads that may be one person or one household (the same phone under different names), for
    a coordinator to merge or keep apart on the lead page. ``lead_id`` is the newer lead."""

    __tablename__ = "lead_links"
    __table_args__ = (UniqueConstraint("lead_id", "other_lead_id", name="uq_lead_links_lead_id_other_lead_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    other_lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    # phone_other_name (a household?) | same_email | same_phone (found by the backfill)
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | kept_apart | merged
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))


class FollowUpRow(Base):
    """A planned cadence step. Keyed by lead + step: CRM tasks are upserted by that key."""

    __tablename__ = "follow_ups"
    __table_args__ = (UniqueConstraint("lead_id", "step_key", name="uq_follow_ups_lead_id_step_key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    step_key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(80))
    channel: Mapped[str | None] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    template_kind: Mapped[str | None] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(index=True)
    owner_queue: Mapped[str] = mapped_column(String(120))
    # planned → task_requested → (done | cancelled); skipped steps are not stored.
    status: Mapped[str] = mapped_column(String(20), index=True, default="planned")
    updated_at: Mapped[datetime]


class InboxRow(Base):
    """A raw inbound event, stored before anything else happens to it."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_inbox_events_source_event_id"),
        Index("ix_inbox_events_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime]
    # encrypted (info: `nurturehub rekey` re-encrypts it); purged after retention
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, info={"encrypted": True})
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|parked|dead|dismissed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Why it was parked or given up, as data for Sync errors (no parsing of ``error`` back).
    error_code: Mapped[str | None] = mapped_column(String(80))
    error_field: Mapped[str | None] = mapped_column(String(200))
    processed_at: Mapped[datetime | None]
    lead_id: Mapped[str | None] = mapped_column(String(40), index=True)
    # Times an admin sent it through again (a replay that is parked again says so on Sync errors).
    replays: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OutboxRow(Base):
    """One external write to make. The payload is built from the store when it is sent, so a
    retry always sends the newest state; ``key`` makes the write idempotent at the destination."""

    __tablename__ = "outbox_items"
    __table_args__ = (Index("ix_outbox_items_status_destination_next", "status", "destination", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    destination: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # upsert_lead | upsert_task | cancel_task | …
    key: Mapped[str] = mapped_column(String(200))  # lead id, or lead id + step key
    lead_id: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|failed|dead|dismissed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Why it failed, as data for Sync errors: the code it is grouped by and the field at fault.
    error_code: Mapped[str | None] = mapped_column(String(80))
    error_field: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[datetime | None]
    # Times an admin sent it again after it failed (one that fails again says so on Sync errors).
    retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class SyncCursorRow(Base):
    __tablename__ = "sync_cursors"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class AuditRow(Base):
    """Who did what, when. ``detail`` carries ids and codes, never PHI."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(120), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConnectionRow(Base):
    """A connected CRM: its OAuth tokens (encrypted) and its sync state."""

    __tablename__ = "connections"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # "salesforce" | "hubspot"
    tokens: Mapped[bytes | None] = mapped_column(LargeBinary, info={"encrypted": True})  # encrypted JSON
    instance_url: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="connected")  # connected|disconnected|error
    detail: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    paused_until: Mapped[datetime | None]  # a spent daily budget pauses calls until then
    last_push_at: Mapped[datetime | None]
    last_pull_at: Mapped[datetime | None]
    api_used: Mapped[int | None] = mapped_column(Integer)
    api_limit: Mapped[int | None] = mapped_column(Integer)


class ViolationRow(Base):
    """A policy violation found in a change the hub could not accept (e.g. a CRM status moved to
    "contacted" without a next action). Resolved when a later change for the lead is accepted."""

    __tablename__ = "lead_violations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(String(60), index=True)  # a hub id, or "crm:<system>:<id>"
    source: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class JobRunRow(Base):
    """One run of a scheduled job for one tick. The unique key is what makes a schedule run at
    most once per tick, even when the scheduler's leadership moves to another process mid-tick."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "tick", name="uq_job_runs_job_tick"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(120))
    tick: Mapped[datetime]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    runner: Mapped[str] = mapped_column(String(120))
    outcome: Mapped[str | None] = mapped_column(String(200))


# --- admin UI: accounts, web sessions, versioned settings (hub.users, hub.settings_store) ----------


class UserRow(Base):
    """A person who signs in to the admin UI: a local account (argon2 hash) or one made at the first
    single sign-on (``sso_subject``, no password)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(120), unique=True)  # lower case
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin | coordinator | viewer
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sso_subject: Mapped[str | None] = mapped_column(String(400), unique=True)  # "<issuer>|<sub>"
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]


class SignInFailureRow(Base):
    """One failed sign-in, per account name (known or not) and source address: what the throttle
    counts (per account and address, and per address)."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_username_at", "username", "at"),
        Index("ix_sign_in_failures_source_at", "source", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(64), default="", server_default="")
    at: Mapped[datetime]


class WebSessionRow(Base):
    """A signed-in browser. The cookie holds a random token; the store keeps only its SHA-256, so a
    copy of the database does not sign anyone in."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16), default="password")  # password | sso


class SettingsVersionRow(Base):
    """One saved version of an admin-editable document: a field mapping (``kind = "mapping"``) or a
    configuration section (``kind = "section"``: channels, sources, routing, cadence, templates).
    Versions are never changed or deleted; a roll back saves the old document as a new version."""

    __tablename__ = "settings_versions"
    __table_args__ = (UniqueConstraint("kind", "name", "version", name="uq_settings_versions_kind_name_version"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[Any] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(16), default="save")  # save | rollback | import
    restored_from: Mapped[int | None] = mapped_column(Integer)


class WeeklyReportRow(Base):
    """A rendered weekly review, kept in the hub (HTML to read, PDF and CSV to download)."""

    __tablename__ = "weekly_reports"

    week: Mapped[str] = mapped_column(String(10), primary_key=True)  # ISO week, "2026-W48"
    generated_at: Mapped[datetime]
    html: Mapped[str] = mapped_column(Text)
    csv: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, info={"encrypted": False})


class AppointmentRow(Base):
    """A lead's appointment in a scheduling system (Cal.com, FHIR): what the preparation sequence
    is timed from, and what a cancellation or no-show changes."""

    __tablename__ = "appointments"
    __table_args__ = (UniqueConstraint("system", "ref", name="uq_appointments_system_ref"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    system: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    booked_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    telehealth: Mapped[bool] = mapped_column(Boolean, default=False)
    provider: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime]


class ClearanceRow(Base):
    """What a lead has already provided or the clinic confirmed (referral documents in, insurance on
    file, authorization approved): until then a service that needs it offers no slots. Recorded by
    a coordinator (admin UI or CLI), each change audited."""

    __tablename__ = "lead_clearances"

    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    referral_documents_at: Mapped[datetime | None]
    insurance_collected_at: Mapped[datetime | None]
    authorization_approved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class OpeningRow(Base):
    """A free slot in the scheduling system, as last read by the capacity job: what the next action
    and the capacity summary are based on (availability is read ahead, never during intake)."""

    __tablename__ = "capacity_openings"

    ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), index=True)
    location: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column(index=True)
    end_at: Mapped[datetime]
    provider: Mapped[str | None] = mapped_column(String(120))
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    interpreter_languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    telehealth: Mapped[bool] = mapped_column(Boolean, default=False)
    read_at: Mapped[datetime]


class UserQueueRow(Base):
    """A queue a person works (the admin UI's "My queue" shows its leads). Chosen by the person or
    an admin; a person in no queue sees every queue."""

    __tablename__ = "user_queues"

    user_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    queue: Mapped[str] = mapped_column(String(120), primary_key=True)


class SuppressionRow(Base):
    """An opt-out from a phone number or email address the hub had no lead for. Every later lead with
    that contact inherits the denial. The contact is PHI: stored encrypted, found by a blind index
    (a keyed hash under the data key; ``hub.store.crypto.Vault.blind_index``)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("kind", "contact_index", name="uq_suppressions_kind_contact_index"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # "phone" (E.164) or "email" (normalised)
    # The blind index of ``contact`` (info: `nurturehub rekey` recomputes it under the first key).
    contact_index: Mapped[str] = mapped_column(String(64), info={"blind_index_of": "contact"})
    contact: Mapped[bytes] = mapped_column(LargeBinary, info={"encrypted": True})
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CrmConversionRow(Base):
    """A lead's CRM record that the CRM converted (a Salesforce lead that became a Contact and
    Account, or a Person Account): the hub stops writing to that record and sends the lead's tasks
    to the contact it became. One row per lead and CRM; written by the sync engine."""

    __tablename__ = "crm_conversions"

    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True)
    system: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(200))
    contact_id: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[str | None] = mapped_column(String(200))
    person_account: Mapped[bool] = mapped_column(Boolean, default=False)
    converted_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]
