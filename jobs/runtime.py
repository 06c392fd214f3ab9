"""The processes' moving parts: worker loops (inbox, outbox per CRM) and the scheduler.

Workers run in every worker process and need no leader: they claim rows (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, SQLite's single writer otherwise). The APScheduler schedules run in exactly one
process at a time — the holder of the leadership lease (``jobs.leader``); every process keeps
trying, so when the leader dies another takes over within ``[jobs] leader_poll_seconds``. Each scheduled
run first records its (job, tick) in ``job_runs``; a second run for the same tick — a new leader
repeating the old one's last tick — finds the row and does nothing.

Job functions take names and ids, not objects: they find the running hub through this module.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from apscheduler.schedulers.background import BackgroundScheduler

from hub.app.bootstrap import Hub
from hub.app.metrics import LEADER, update_queue_metrics
from hub.bookings.calendly import pull_calendly
from hub.bookings.capacity import load_fhir_config, refresh_openings
from hub.bookings.scheduling import pull_bookings
from hub.inbound.inbox import PULL_REQUESTED
from hub.lifecycle.cadence import advance_cadence
from hub.lifecycle.speed import breaches
from hub.review.reports import generate_weekly, previous_week
from hub.store import repo
from hub.store.job_runs import claim_tick, finish_tick, forget_runs
from jobs.leader import Leadership, leadership_for

log = logging.getLogger(__name__)

#: How long the record of a job's run is kept (the 15-second metrics job alone writes 5,760 a day).
JOB_RUNS_KEPT = timedelta(days=7)

__all__ = ["Runtime", "run_job"]

_current: Runtime | None = None


def _kind(exc: BaseException) -> str:
    """An exception as a log line may name it: its type and our stable code, never its text (which
    can quote a record's values or a statement's parameters)."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__} ({code})" if isinstance(code, str) and code.isidentifier() else type(exc).__name__


class _Failures:
    """One log line per failure: the first time a job or loop fails a given way, a line (no
    traceback: ``-v`` adds it); the same failure again only at debug level, with a reminder line
    every ``remind`` seconds while it lasts, and a line when it works again."""

    def __init__(self, *, remind: float = 900.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._failing: dict[str, tuple[str, float, int]] = {}  # what -> (kind, last line's time, repeats)
        self._remind = remind
        self._monotonic = monotonic

    def failed(self, what: str, exc: BaseException, then: str) -> None:
        kind, now = _kind(exc), self._monotonic()
        with self._lock:
            earlier = self._failing.get(what)
            if earlier is not None and earlier[0] == kind and now - earlier[1] < self._remind:
                self._failing[what] = (kind, earlier[1], earlier[2] + 1)
                line = None
            else:
                repeats = earlier[2] if earlier is not None and earlier[0] == kind else 0
                self._failing[what] = (kind, now, 0)
                line = (
                    f"{what} still failing: {kind} ({repeats} more time(s))"
                    if repeats
                    else f"{what} failed: {kind}; {then}"
                )
        if line is None:
            log.debug("%s failed again: %s", what, kind, exc_info=exc)
        else:
            log.error("%s", line, exc_info=exc if log.isEnabledFor(logging.DEBUG) else None)

    def worked(self, what: str) -> None:
        with self._lock:
            earlier = self._failing.pop(what, None)
        if earlier is not None:
            log.info("%s works again (it had failed: %s)", what, earlier[0])


def run_job(job: str, **ids: str) -> None:
    """The entry point APScheduler calls: finds the running hub and runs ``job`` once per tick. A
    failure is this module's one log line, not APScheduler's traceback."""
    runtime = _current
    if runtime is None:
        log.warning("job %s fired with no runtime", job)
        return
    what = "job " + ":".join([job, *ids.values()])
    try:
        ran = runtime.run_scheduled(job, **ids)
    except Exception as exc:
        runtime.failures.failed(what, exc, "it runs again at its next tick")
    else:
        if ran:  # a tick another run already took says nothing about the job working again
            runtime.failures.worked(what)


def _floor(at: datetime, every: timedelta) -> datetime:
    seconds = int(every.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=at.tzinfo)


class Runtime:
    """Worker loops and (when leading) the scheduler, for one process.

    Args:
        hub: the wired hub.
        workers: run the inbox and outbox loops.
        scheduler: take part in the leadership election and run the schedules when leading.
        idle: how long a loop sleeps when it found nothing to do.
    """

    def __init__(self, hub: Hub, *, workers: bool = True, scheduler: bool = True, idle: float | None = None) -> None:
        self.hub = hub
        self.workers = workers
        self.scheduler_enabled = scheduler
        self.idle = hub.config.jobs.worker_idle_seconds if idle is None else idle
        self.leader_poll = hub.config.jobs.leader_poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._scheduler: BackgroundScheduler | None = None
        self._lease: Leadership = leadership_for(hub.store, hub.config.instance_path)
        self.jobs_run: list[tuple[str, datetime]] = []
        self.failures = _Failures()
        # One pull per CRM at a time: the schedule's and the one a CRM event asked for.
        self._pull_locks: dict[str, threading.Lock] = {name: threading.Lock() for name in hub.crm}
        # The leads already reported past their response target: the warning is for a new breach,
        # not the same ones again every minute until somebody calls.
        self._breached: set[str] = set()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Runtime:
        global _current
        _current = self
        if self.workers:
            self._spawn("inbox", self._inbox_loop)
            for name in self.hub.destinations():
                self._spawn(f"outbox:{name}", self._outbox_worker(name))
        if self.scheduler_enabled:
            self._spawn("leader", self._leader_loop)
        return self

    def stop(self) -> None:
        global _current
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._stop_scheduler()
        self._lease.release()
        if _current is self:
            _current = None

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._guard(name, target), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guard(self, name: str, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    target()
                    return
                except Exception as exc:
                    self.failures.failed(f"loop {name}", exc, "restarting it in 5 s")
                    self._stop.wait(5)

        return run

    # --- workers ------------------------------------------------------------------------------

    def _inbox_loop(self) -> None:
        while not self._stop.is_set():
            self.hub.refresh()  # settings an admin saved in the web UI
            report = self.hub.inbox.process(now=self.hub.clock(), limit=50)
            self.failures.worked("loop inbox")
            if report.handled == 0:
                self._stop.wait(self.idle)

    def _outbox_worker(self, name: str) -> Callable[[], None]:
        return lambda: self._outbox_loop(name)

    def _outbox_loop(self, name: str) -> None:
        while not self._stop.is_set():
            engine = self.hub.sync_engine()
            if engine is None or name not in engine.destinations:
                self._stop.wait(self.idle * 10)
                continue
            report = engine.push(name, now=self.hub.clock(), limit=1000)
            self.failures.worked(f"loop outbox:{name}")
            if report.calls == 0 or report.paused:
                self._stop.wait(self.idle)

    # --- scheduler ----------------------------------------------------------------------------

    def _leader_loop(self) -> None:
        while not self._stop.is_set():
            try:
                leading = self._lease.acquire()
            except Exception as exc:
                self.failures.failed("scheduler leadership check", exc, "checking again shortly")
                leading = False
            else:
                self.failures.worked("scheduler leadership check")
            if leading and self._scheduler is None:
                self._start_scheduler()
            elif not leading and self._scheduler is not None:
                self._stop_scheduler()
            LEADER.set(1 if leading else 0)
            self._stop.wait(self.leader_poll)

    def schedules(self) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
        """(trigger, trigger arguments, job arguments) for every schedule."""
        tz = self.hub.config.settings.hours.timezone
        out: list[tuple[str, dict[str, Any], dict[str, str]]] = [
            ("interval", {"seconds": 60}, {"job": "cadence"}),
            ("interval", {"seconds": 60}, {"job": "breaches"}),
            ("interval", {"seconds": 15}, {"job": "metrics"}),
            ("cron", {"hour": 2, "minute": 30, "timezone": tz}, {"job": "reconcile"}),
            ("cron", {"hour": 3, "minute": 15, "timezone": tz}, {"job": "purge"}),
            ("cron", {"day_of_week": "mon", "hour": 6, "minute": 30, "timezone": tz}, {"job": "weekly_review"}),
        ]
        fhir = load_fhir_config(self.hub.config)
        if fhir.enabled:
            out.append(("interval", {"minutes": int(fhir.refresh.total_seconds() // 60)}, {"job": "capacity"}))
        for system, every in self.hub.bookings_intervals().items():
            minutes = int(every.total_seconds() // 60)
            out.append(("interval", {"minutes": minutes}, {"job": "bookings", "system": system}))
        for name, settings in self.hub.crm.items():
            if settings.enabled:
                minutes = int(settings.pull_interval.total_seconds() // 60)
                out.append(("interval", {"minutes": minutes}, {"job": "pull", "crm": name}))
        if any(settings.enabled for settings in self.hub.crm.values()):
            out.append(("interval", {"seconds": 15}, {"job": "crm_events"}))
        return out

    def _start_scheduler(self) -> None:
        scheduler = BackgroundScheduler(timezone=self.hub.config.settings.hours.timezone)
        for trigger, args, job_args in self.schedules():
            job_id = ":".join(job_args.values())
            scheduler.add_job(
                run_job,
                trigger,
                id=job_id,
                kwargs=job_args,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=30,
                replace_existing=True,
                **args,
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started with %d schedules", len(scheduler.get_jobs()))

    def _stop_scheduler(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
            log.info("scheduler stopped")

    #: Tick length per job: a run records its tick, so a tick never runs twice.
    TICKS: ClassVar[Mapping[str, timedelta]] = {
        "cadence": timedelta(minutes=1),
        "breaches": timedelta(minutes=1),
        "metrics": timedelta(seconds=15),
        "crm_events": timedelta(seconds=15),
        "reconcile": timedelta(days=1),
        "purge": timedelta(days=1),
        "weekly_review": timedelta(days=7),
    }

    def run_scheduled(self, job: str, **ids: str) -> bool:
        """Run ``job`` for the current tick unless it already ran for it. Returns True if it ran."""
        now = self.hub.clock()
        every = self.TICKS.get(job)
        if every is None and job == "pull":
            every = self.hub.crm[ids["crm"]].pull_interval
        if every is None and job == "capacity":
            every = load_fhir_config(self.hub.config).refresh
        if every is None and job == "bookings":
            every = self.hub.bookings_intervals().get(ids["system"])
        tick = _floor(now, every or timedelta(minutes=1))
        key = ":".join([job, *ids.values()])
        if not claim_tick(self.hub.store, key, tick, started_at=now, runner=self.name):
            log.info("job %s already ran for tick %s", key, tick.isoformat())
            return False
        try:
            outcome = self._run(job, now=now, **ids)
        except Exception as exc:  # recorded (no message: it may quote data), then left to APScheduler's log
            self._finish(key, tick, f"failed: {type(exc).__name__}")
            raise
        self._finish(key, tick, outcome)
        self.jobs_run.append((key, tick))
        return True

    def _finish(self, key: str, tick: datetime, outcome: str) -> None:
        finish_tick(self.hub.store, key, tick, finished_at=self.hub.clock(), outcome=outcome)

    def _run(self, job: str, *, now: datetime, **ids: str) -> str:
        hub = self.hub
        engine = hub.sync_engine()
        destinations = engine.names if engine else ()
        if job == "cadence":
            report = advance_cadence(hub.store, hub.config, destinations=destinations, now=now)
            return f"tasks={report.tasks_requested} closed={report.closed}"
        if job == "breaches":
            with hub.store.tx() as session:
                found = breaches(session, now=now)
            breached = {b.lead_id for b in found}
            new = breached - self._breached
            self._breached = breached
            if new:
                log.warning(
                    "speed to lead: %d more lead(s) past their response target (%d in all)", len(new), len(breached)
                )
            return f"breached={len(found)} new={len(new)}"
        if job == "pull":
            if engine is None or ids["crm"] not in engine.destinations:
                return "not connected"
            with self._pull_locks.setdefault(ids["crm"], threading.Lock()):
                pulled = engine.pull(ids["crm"], now=now)
            return f"records={pulled.records} changed={pulled.changed} touches={pulled.touches}"
        if job == "crm_events":
            return self._prompted_pulls(now)
        if job == "reconcile":
            missing = [m for name in destinations for m in engine.reconcile(name, now=now)] if engine else []
            return f"missing={len(missing)}"
        if job == "purge":
            purged = hub.inbox.purge(now=now)
            # a tick's row only matters while the tick can fire
            forgotten = forget_runs(hub.store, started_before=now - JOB_RUNS_KEPT)
            return f"purged={purged} job_runs_forgotten={forgotten}"
        if job == "capacity":
            connector = hub.scheduling_connector()
            return (
                "not configured" if connector is None else f"openings={refresh_openings(hub.store, connector, now=now)}"
            )
        if job == "bookings":
            connector = hub.bookings_connector(ids["system"])
            if connector is None:
                return "not configured"
            if ids["system"] == "calendly":
                got = pull_calendly(hub.store, hub.config, connector, destinations=destinations, now=now)
            else:
                got = pull_bookings(hub.store, hub.config, connector, destinations=destinations, now=now)
            return f"read={got.read} applied={got.applied} unmatched={got.unmatched} refused={got.refused}"
        if job == "weekly_review":
            week = previous_week(now.astimezone(hub.config.settings.hours.tz).date())
            generate_weekly(hub.store, hub.config, week, now=now)
            return f"week={week}"
        if job == "metrics":
            self.update_metrics(now)
            return "ok"
        raise ValueError(f"unknown job {job!r}")

    def _prompted_pulls(self, now: datetime) -> str:
        """Pull the CRMs whose webhooks announced changes (HubSpot v3) since the last look, so the
        change arrives within seconds instead of at the next scheduled pull."""
        engine = self.hub.sync_engine()
        if engine is None:
            return "not connected"
        done = []
        for name in engine.names:
            key = f"{PULL_REQUESTED}{name}"
            with self.hub.store.tx() as session:
                asked = repo.get_cursor(session, key)
            if not asked:
                continue
            with self._pull_locks.setdefault(name, threading.Lock()):
                engine.pull(name, now=now)
            with self.hub.store.tx() as session:
                if repo.get_cursor(session, key) == asked:  # an event that came meanwhile asks again
                    repo.set_cursor(session, key, "", now=now)
            done.append(name)
        return f"pulled={','.join(done) or '-'}"

    def update_metrics(self, now: datetime) -> None:
        update_queue_metrics(self.hub.store, now)
