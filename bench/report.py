"""How long the weekly review takes over 100,000 leads and 1,000,000 touches, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.report [--leads 100000] [--touches-per-lead 10] [--week 2026-W48]

Seeds a realistic history (26 weeks of inquiries ending with the review week, about ten touches per
lead) with bulk inserts (SQLite ``executemany`` in one transaction; PostgreSQL ``COPY``), then times
``build_weekly`` (target: under 2 s on PostgreSQL), its renderings, and the dashboard's measures over
the whole 26 weeks. PostgreSQL is taken from ``NURTUREHUB_TEST_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), in a schema of its own dropped afterwards.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.review import Filters, Period, build_weekly, dashboard_measures, render_csv, render_html, render_pdf
from hub.review.dashboard import DASHBOARD_PARTS
from hub.settings.config import HubConfig, load_config
from hub.store import Store, repo
from nurture.vocab import Channel, Intent, Need, NextActionKind, Stage, TouchOutcome
from tests.support import pg_url

PG_URL = pg_url()  # NURTUREHUB_TEST_PG: host:port/database or a postgresql:// URL

LEAD_COLUMNS = (
    "id",
    "version",
    "first_name",
    "last_name",
    "preferred_language",
    "timezone",
    "location",
    "service",
    "channel",
    "campaign",
    "inquiry_text",
    "created_at",
    "updated_at",
    "stage",
    "intent",
    "needs",
    "urgent",
    "triage_keywords",
    "next_action_kind",
    "next_action_due_at",
    "next_action_queue",
    "next_action_reason",
    "score",
    "first_attempt_at",
    "first_contact_at",
    "booked_at",
)
TOUCH_COLUMNS = ("lead_id", "channel", "outcome", "at", "step", "outbound")

CHANNELS: list[tuple[Channel, int, list[str | None]]] = [
    (Channel.WEBSITE_FORM, 30, ["spring_checkup", None]),
    (Channel.PAID_SEARCH, 20, ["pt_google_ads", "sleep_google_ads"]),
    (Channel.APPOINTMENT_REQUEST, 15, [None]),
    (Channel.GBP_CALL, 10, [None]),
    (Channel.SOCIAL_MESSAGE, 8, ["meta_pt_video"]),
    (Channel.REFERRAL_PARTNER, 7, [None]),
    (Channel.NEWSLETTER_REPLY, 4, ["newsletter_nov"]),
    (Channel.WEBINAR, 3, ["sleep_webinar"]),
    (Channel.REVIEW_PLATFORM, 3, [None]),
]
STAGES = [
    (Stage.NEW, 3),
    (Stage.ATTEMPTING, 9),
    (Stage.REACHED, 10),
    (Stage.SCHEDULED, 9),
    (Stage.PREPARED, 5),
    (Stage.KEPT, 26),
    (Stage.NO_SHOW, 3),
    (Stage.DECLINED, 10),
    (Stage.NOT_A_FIT, 6),
    (Stage.UNREACHABLE, 18),
    (Stage.DUPLICATE, 1),
]
INTENTS = [
    (Intent.READY_TO_SCHEDULE, 35),
    (Intent.SERVICE_FIT, 15),
    (Intent.INSURANCE_AUTHORIZATION, 15),
    (Intent.CLINICAL_QUESTION, 8),
    (Intent.LANGUAGE_SUPPORT, 5),
    (Intent.REFERRAL_COORDINATION, 10),
    (Intent.NOT_READY_YET, 7),
    (None, 5),
]
KIND_OF = {
    Intent.INSURANCE_AUTHORIZATION: (NextActionKind.VERIFY_INSURANCE, "Insurance Desk"),
    Intent.REFERRAL_COORDINATION: (NextActionKind.REQUEST_REFERRAL_DOCUMENTS, "Referral Coordinators"),
    Intent.CLINICAL_QUESTION: (NextActionKind.ROUTE_CLINICAL_QUESTION, "Clinical Triage"),
    None: (NextActionKind.TRIAGE, "Front Desk"),
}
OPEN_STAGES = {Stage.NEW, Stage.ATTEMPTING, Stage.REACHED, Stage.SCHEDULED, Stage.PREPARED, Stage.NO_SHOW}
STEPS = ["day0_call", "day0_text", "day1_call", "day3_followup", "day7_final"]


def _weighted(rng: random.Random, items: list[tuple[Any, int]]) -> Any:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def history(
    *, leads: int, touches_per_lead: int, end: datetime, weeks: int = 26, seed: int = 7
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """(lead row, its touch rows) in ``LEAD_COLUMNS`` / ``TOUCH_COLUMNS`` order, times aware UTC."""
    rng = random.Random(seed)
    span = timedelta(weeks=weeks).total_seconds()
    start = end - timedelta(weeks=weeks)
    channel_choices = [(c, w) for c, w, _ in CHANNELS]
    campaigns = {c: camps for c, _, camps in CHANNELS}
    settled = [(s, w) for s, w in STAGES if s not in OPEN_STAGES]
    for i in range(leads):
        created = start + timedelta(seconds=rng.random() * span)
        channel = _weighted(rng, channel_choices)
        stage = _weighted(rng, STAGES)
        if created < end - timedelta(days=10) and stage in OPEN_STAGES and rng.random() < 0.95:
            stage = _weighted(rng, settled)  # the cadence has long closed most old leads
        intent = _weighted(rng, INTENTS)
        language = "es" if rng.random() < 0.2 else "en"
        needs = sorted(
            ({Need.LANGUAGE.value} if language == "es" else set())
            | ({Need.INSURANCE.value} if rng.random() < 0.25 else set())
            | ({Need.REFERRAL_DOCUMENTS.value} if rng.random() < 0.1 else set())
        )
        keywords = ["insurance_authorization:en:insurance"] if Need.INSURANCE.value in needs else []
        attempted = stage != Stage.NEW
        first_attempt = created + timedelta(minutes=rng.lognormvariate(3, 1.2)) if attempted else None
        contacted = stage in {Stage.REACHED, Stage.SCHEDULED, Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW}
        first_contact = (first_attempt or created) + timedelta(hours=rng.expovariate(1 / 20)) if contacted else None
        booked = stage in {Stage.SCHEDULED, Stage.PREPARED, Stage.KEPT, Stage.NO_SHOW}
        booked_at = (first_contact or created) + timedelta(hours=rng.random() * 48) if booked else None
        closed = stage in {Stage.DECLINED, Stage.NOT_A_FIT, Stage.UNREACHABLE, Stage.DUPLICATE, Stage.KEPT}
        kind, queue, due = None, None, None
        if not closed:
            kind, queue = KIND_OF.get(intent, (NextActionKind.BOOK_APPOINTMENT, "Front Desk"))
            if booked:
                kind, queue = NextActionKind.SEND_PREP_INFO, "Front Desk"
            due = created + timedelta(hours=rng.expovariate(1 / 30))
        lead_id = f"nh_b{i:07d}"
        lead: tuple[Any, ...] = (
            lead_id,
            1,
            "",
            "",
            language,
            "America/Chicago",
            rng.choice(["downtown", "eastside", "telehealth"]),
            rng.choice(["primary_care", "physical_therapy", "sleep_study", None]),
            channel.value,
            rng.choice(campaigns[channel]),
            "",
            created,
            created,
            stage.value,
            intent.value if intent else None,
            json.dumps(needs),
            False,
            json.dumps(keywords),
            kind.value if kind else None,
            due,
            queue,
            f"intent_{intent.value}" if intent and kind else None,
            None,
            first_attempt,
            first_contact,
            booked_at,
        )
        touches: list[tuple[Any, ...]] = []
        at = first_attempt or created
        count = rng.randint(1, 2 * touches_per_lead - 1)
        for n in range(count):
            at = at + timedelta(hours=rng.expovariate(1 / 18))
            if n and rng.random() < 0.15:
                touches.append((lead_id, "sms", TouchOutcome.REPLIED.value, at, None, False))
                continue
            outcome = rng.choice(
                [TouchOutcome.MISSED, TouchOutcome.REACHED, TouchOutcome.LEFT_VOICEMAIL, TouchOutcome.TEXTED]
            )
            step = STEPS[min(n, len(STEPS) - 1)] if n < 8 else None
            touches.append((lead_id, "call", outcome.value, at, step, True))
        yield lead, touches


# --- bulk loading -------------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


Rows = list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]


def seed_sqlite(store: Store, rows: Rows) -> tuple[int, int]:
    """Bulk insert in one transaction; the generated rows are consistent, so foreign keys are not
    checked row by row."""
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("BEGIN")
        # Column names are the constants above, values are bound: nothing outside reaches the SQL text.
        lead_sql = f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) VALUES ({', '.join('?' * len(LEAD_COLUMNS))})"  # noqa: S608
        touch_sql = f"INSERT INTO touches ({', '.join(TOUCH_COLUMNS)}) VALUES ({', '.join('?' * len(TOUCH_COLUMNS))})"  # noqa: S608
        n_leads = n_touches = 0
        batch_leads: list[tuple[Any, ...]] = []
        batch_touches: list[tuple[Any, ...]] = []
        for lead, touches in rows:
            batch_leads.append(tuple(_sqlite_value(v) for v in lead))
            batch_touches.extend(tuple(_sqlite_value(v) for v in t) for t in touches)
            if len(batch_leads) >= 10_000:
                cursor.executemany(lead_sql, batch_leads)
                cursor.executemany(touch_sql, batch_touches)
                n_leads += len(batch_leads)
                n_touches += len(batch_touches)
                batch_leads, batch_touches = [], []
        cursor.executemany(lead_sql, batch_leads)
        cursor.executemany(touch_sql, batch_touches)
        n_leads += len(batch_leads)
        n_touches += len(batch_touches)
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.close()
    with store.tx() as session:  # each touch's place in its lead's sequence, as repo.add_touch keeps it
        repo.renumber_all_touches(session)
    raw = store.engine.raw_connection()
    try:
        raw.cursor().execute("ANALYZE")
    finally:
        raw.close()
    return n_leads, n_touches


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def seed_postgres(store: Store, rows: Rows) -> tuple[int, int]:
    """COPY, with the foreign-key triggers off for the load (``session_replication_role``; the
    generated rows are consistent), then ANALYZE."""
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET session_replication_role = replica")
        n_leads = n_touches = 0
        leads_buf, touches_buf = io.StringIO(), io.StringIO()
        for lead, touches in rows:
            leads_buf.write("\t".join(_copy_text(v) for v in lead) + "\n")
            for t in touches:
                touches_buf.write("\t".join(_copy_text(v) for v in t) + "\n")
            n_leads += 1
            n_touches += len(touches)
        with cursor.copy(f"COPY leads ({', '.join(LEAD_COLUMNS)}) FROM STDIN") as copy:
            copy.write(leads_buf.getvalue())
        with cursor.copy(f"COPY touches ({', '.join(TOUCH_COLUMNS)}) FROM STDIN") as copy:
            copy.write(touches_buf.getvalue())
        cursor.execute("SET session_replication_role = DEFAULT")
        raw.commit()
    finally:
        raw.close()
    with store.tx() as session:  # each touch's place in its lead's sequence, as repo.add_touch keeps it
        repo.renumber_all_touches(session)
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("ANALYZE leads")
        cursor.execute("ANALYZE touches")
        raw.commit()
    finally:
        raw.close()
    return n_leads, n_touches


# --- the run ------------------------------------------------------------------------------------


def _timed(label: str, fn: Any, *, repeat: int = 3, seconds: bool = False) -> Any:
    """Print the best of ``repeat`` runs of ``fn``; answer its result (or, ``seconds``, the time)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    print(f"  {label:<44} {best:8.3f} s  (best of {repeat})")
    return best if seconds else result


def run(backend: str, store: Store, config: HubConfig, args: argparse.Namespace, rows: Rows) -> None:
    week = Period.iso_week(args.week, config.settings.hours.timezone)
    now = week.end + timedelta(hours=14)  # Monday morning after the week, as the weekly job runs
    started = time.perf_counter()
    seeder = seed_sqlite if backend == "sqlite" else seed_postgres
    n_leads, n_touches = seeder(store, rows)
    print(f"{backend}: seeded {n_leads:,} leads and {n_touches:,} touches in {time.perf_counter() - started:.1f} s")
    with store.session() as session:
        review = _timed(f"build_weekly {args.week}", lambda: build_weekly(session, config, args.week, now=now))
        _timed("render_html", lambda: render_html(review))
        _timed("render_csv", lambda: render_csv(review))
        _timed("render_pdf", lambda: render_pdf(review))
        whole = Period(start=week.end - timedelta(weeks=26), end=week.end, label="26 weeks")
        _timed(
            "every measure (the review's set), 26 weeks", lambda: dashboard_measures(session, config, whole, now=now)
        )
        alone = _timed(
            "dashboard page, reads one after another, 26 weeks",
            lambda: dashboard_measures(
                session, config, whole, now=now, trend_weeks=26, parts=DASHBOARD_PARTS, concurrent=False
            ),
            seconds=True,
        )
        together = _timed(
            "dashboard page (what /dashboard computes), 26 weeks",
            lambda: dashboard_measures(session, config, whole, now=now, trend_weeks=26, parts=DASHBOARD_PARTS),
            seconds=True,
        )
        print(f"  {'  reads together / one after another':<44} {together / alone:8.2f} ×")
        _timed(
            "dashboard_measures, 26 weeks, one channel",
            lambda: dashboard_measures(session, config, whole, Filters(channel="paid_search"), now=now),
        )
    cohort = review.measures.funnel("channel").total.inquiries
    print(f"  (the week's cohort: {cohort:,} inquiries; stalled now: {review.measures.stalled.total:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--touches-per-lead", type=int, default=10)
    parser.add_argument("--week", default="2026-W48")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    config = load_config(None, environ={})
    week = Period.iso_week(args.week, config.settings.hours.timezone)
    started = time.perf_counter()
    rows = list(history(leads=args.leads, touches_per_lead=args.touches_per_lead, end=week.end))
    print(f"generated the history in {time.perf_counter() - started:.1f} s (not counted in seeding)")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
            store.migrate()
            run("sqlite", store, config, args, rows)
            store.dispose()
    if args.only != "sqlite":
        import psycopg

        schema = f"nh_bench_{secrets.token_hex(4)}"
        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
        except psycopg.OperationalError as exc:
            print(f"postgresql: skipped, not reachable at {PG_URL.split('@')[-1]} ({type(exc).__name__})")
            return
        sep = "&" if "?" in PG_URL else "?"
        store = Store(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
        try:
            store.migrate()
            run("postgresql", store, config, args, rows)
        finally:
            store.dispose()
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
