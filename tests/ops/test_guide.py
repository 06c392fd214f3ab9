"""docs/operations.md, performed: the guide's own commands and the units' own ExecStart lines, run
against a real PostgreSQL server (see tests/ops/guide.py for the few things the test changes).

One scenario, in the guide's order, with the hub's processes started once: configure, initialise,
start web and worker, a health check and a signed webhook, Prometheus targets, a backup, stop, lose
the database, restore it, find the lead again; then an old database holding that data, migrated
from the first schema revision to the newest; a database from a newer version refused; the data
key and the session secret rotated.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import sqlite3
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import yaml
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import make_url

from hub.app.bootstrap import build_hub
from hub.coordinator.views import lead_view
from hub.store import Store, repo
from hub.store.models import ConnectionRow, InboxRow, LeadRow
from nurture.vocab import TouchOutcome
from sandboxes.common import free_port
from tests.ops.guide import (
    DEPLOY,
    DOC,
    Site,
    Unit,
    guide_blocks,
    read_environment_file,
    sourced_environment_file,
    wait_until_answers,
)
from tests.support import pg_url, skip_or_fail

SOURCE_SECRET = "whsec_" + base64.b64encode(b"operations-guide-landing-page-32").decode()
ADMIN_PASSWORD = "a long passphrase for the first admin"
SAMPLE = json.loads(resources.files("mapping").joinpath("samples", "standard_webhook_referral.json").read_text())
WEB, WORKER = "nurturehub-web@.service", "nurturehub-worker@.service"


class Databases:
    """Databases of the test's PostgreSQL server, made and dropped as its superuser would."""

    def __init__(self) -> None:
        self.url = make_url(pg_url())
        self.made: list[str] = []

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url.set(drivername="postgresql").render_as_string(hide_password=False),
                               autocommit=True)  # fmt: skip

    def create(self, name: str) -> str:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def sqlalchemy_url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def libpq_environ(self, name: str) -> dict[str, str]:
        """The PG* variables a site's environment file names its database with."""
        env = {"PGHOST": self.url.host or "127.0.0.1", "PGPORT": str(self.url.port or 5432), "PGDATABASE": name}
        if self.url.username:
            env["PGUSER"] = self.url.username
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        return env


@pytest.fixture
def databases() -> Iterator[Databases]:
    for tool in ("pg_dump", "pg_restore", "curl", "bash"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} not found (Debian packages postgresql-client, curl)")
    dbs = Databases()
    yield dbs
    for name in dbs.made:
        dbs.drop(name)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    the_site = Site(tmp_path / "server", web_port=free_port(), worker_port=free_port())
    yield the_site
    the_site.stop_all()


@pytest.mark.postgres
@pytest.mark.slow
def test_the_operations_guide_performed_on_postgresql(site: Site, databases: Databases) -> None:
    blocks, _ = guide_blocks()
    name = databases.create(f"nh_ops_{secrets.token_hex(4)}")
    url = databases.sqlalchemy_url(name)

    # 2. Configuration and secrets; then this site's database and webhook source secret, as an
    # operator adds them.
    site.run(blocks["configure"])
    assert stat.S_IMODE(site.env_file().stat().st_mode) & 0o007 == 0, "the environment file is not world-readable"
    site.append_env(**databases.libpq_environ(name), NURTUREHUB_SECRET_LANDING_PAGE=SOURCE_SECRET)
    as_systemd, as_shell = read_environment_file(site.env_file()), sourced_environment_file(site.env_file())
    assert {key: as_shell.get(key) for key in as_systemd} == as_systemd, "systemd and the shell read it alike"
    data_key = as_systemd["NURTUREHUB_DATA_KEY"]

    # 3. Initialise; 4. the units' ExecStart lines.
    site.run(blocks["init"], stdin=ADMIN_PASSWORD + "\n")
    web = site.start(Unit.load(WEB), str(site.web_port))
    worker = site.start(Unit.load(WORKER), str(site.worker_port))
    wait_until_answers(f"http://127.0.0.1:{site.web_port}/readyz", process=web)
    wait_until_answers(f"http://127.0.0.1:{site.worker_port}/metrics", process=worker)

    # 6. Health checks and a signed webhook; the worker makes the lead.
    smoke = site.run(blocks["smoke"]).stdout
    assert '"status":"ok"' in smoke.replace(" ", "") and smoke.rstrip().splitlines()[-1].startswith("202 ")
    lead_id = _wait_for_lead(url, site)
    _scrape_the_prometheus_targets(site)

    # A connected CRM's tokens, as `nurturehub connect` stores them (encrypted with the data key).
    token = {"access_token": "hubspot-access-" + secrets.token_hex(8), "refresh_token": "r-" + secrets.token_hex(8)}
    hub = build_hub(database_url=url, environ=site.service_environ())
    hub.tokens("hubspot").save(token, now=datetime.now(UTC))
    hub.close()
    before = _snapshot(url)
    assert before["leads"] == [lead_id] and before["payloads"] and before["tokens"]

    # 9. A backup while the hub runs: the timer's unit, and the guide's command.
    site.run_unit_once(Unit.load("nurturehub-backup.service"))
    site.run(blocks["backup"])
    dumps = sorted(site.path("/var/backups/nurturehub").glob("nurturehub-*.dump"))
    assert dumps and all(stat.S_IMODE(d.stat().st_mode) == 0o600 for d in dumps)

    # systemctl stop: both stop cleanly; neither logged the patient's name, phone or email.
    assert site.stop(web) == 0 and site.stop(worker) == 0
    logs = site.logs()
    for phi in (SAMPLE["first_name"], SAMPLE["phone"], SAMPLE["email"], "555-0121"):
        assert phi not in logs

    # The database is lost; the superuser gives an empty one; the guide restores the newest dump.
    databases.drop(name)
    databases.create(name)
    restored = site.run(blocks["restore"]).stdout
    assert "current" in restored
    assert _snapshot(url) == before, "the lead, its payload and its tokens are back"

    _upgrade_from_the_first_revision(site, databases, blocks, source_url=url, lead_id=lead_id)
    _a_newer_database_is_refused(site, databases, url)
    _rotate_the_data_key(site, blocks, url, old_key=data_key, before=before, token=token)
    _rotate_the_session_secret(site, blocks)


def _wait_for_lead(url: str, site: Site, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    store = Store(url)
    try:
        while time.monotonic() < deadline:
            with store.read() as session:
                ids = list(session.scalars(select(InboxRow.lead_id).where(InboxRow.status == "done")))
            if ids and ids[0]:
                return str(ids[0])
            time.sleep(0.2)
    finally:
        store.dispose()
    raise AssertionError(f"the worker made no lead of the webhook within a minute; its log:\n{site.logs()[-4000:]}")


def _scrape_the_prometheus_targets(site: Site) -> None:
    """deploy/prometheus.yml's first target of each job answers with the hub's metrics."""
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    expected = {
        "nurturehub-web": ('nurturehub_webhooks_accepted_total{source="landing_page"} 1.0', "nurturehub_queue_depth"),
        "nurturehub-worker": ('nurturehub_inbox_processed_total{outcome="done"} 1.0', "nurturehub_scheduler_leader"),
    }
    for job_name, lines in expected.items():
        job = jobs[job_name]
        target = site.place(job["static_configs"][0]["targets"][0])
        text = requests.get(f"http://{target}{job['metrics_path']}", timeout=10).text
        for line in lines:
            assert line in text, f"{job_name}: {line} not in its metrics"


def _snapshot(url: str) -> dict[str, Any]:
    """What must survive a restore: lead ids, the inbox payloads and the CRM tokens, as stored."""
    store = Store(url)
    try:
        with store.read() as session:
            return {
                "leads": list(session.scalars(select(LeadRow.id).order_by(LeadRow.id))),
                "payloads": [bytes(p) for p in session.scalars(select(InboxRow.payload).order_by(InboxRow.id))],
                "tokens": [
                    bytes(t) for t in session.scalars(select(ConnectionRow.tokens).order_by(ConnectionRow.name))
                ],
            }
    finally:
        store.dispose()


def _upgrade_from_the_first_revision(
    site: Site, databases: Databases, blocks: dict[str, Any], *, source_url: str, lead_id: str
) -> None:
    """A database at the first schema revision, holding the hub's real rows (those its tables had
    then), upgraded by the guide's command to the newest revision this version ships."""
    script = ScriptDirectory(str(resources.files("hub").joinpath("migrations")))
    (first,) = script.get_bases()
    old_name = databases.create(f"nh_ops_old_{secrets.token_hex(4)}")
    old_url = databases.sqlalchemy_url(old_name)
    old = Store(old_url)
    old.migrate(first)
    copied = _copy_rows(source_url, old_url)
    counts = {table: len(rows) for table, (_, rows) in copied.items()}
    assert counts["leads"] == 1 and counts["inbox_events"] == 1 and counts["follow_ups"] >= 1
    old.dispose()

    site.append_env(PGDATABASE=old_name)
    upgraded = site.run(blocks["upgrade"]).stdout
    assert f"schema upgraded from {first} to " in upgraded
    site.append_env(PGDATABASE=make_url(source_url).database or "")

    migrated = Store(old_url)
    try:
        assert migrated.is_current()
        kept = _rows(old_url, {table: cols for table, (cols, _) in copied.items()})
        assert kept == {table: rows for table, (_, rows) in copied.items()}, "every row of the old schema is kept"
        # The same lead, but for the inquiry touches the first revision could not hold.
        assert _lead_view(migrated, lead_id) == _lead_view(Store(source_url), lead_id, inquiries=False)
    finally:
        migrated.dispose()


def _copy_rows(source_url: str, target_url: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Copy the source's rows into the target's (older) tables, in foreign-key order, keeping only
    the columns the older tables have and the rows they could hold; by table, those columns and
    the rows copied."""
    source, target = create_engine(source_url), create_engine(target_url)
    old_tables, new_tables = MetaData(), MetaData()
    old_tables.reflect(bind=target)
    new_tables.reflect(bind=source)
    copied: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
    try:
        with source.connect() as src, target.begin() as dst:
            for table in old_tables.sorted_tables:
                if table.name == "alembic_version":
                    continue
                columns = [c.name for c in table.columns]
                required = [c.name for c in table.columns if not c.nullable]
                rows = [
                    dict(r._mapping)
                    for r in src.execute(select(*(new_tables.tables[table.name].c[c] for c in columns)))
                    # A row of a kind the older version never wrote (an inquiry touch, which has no
                    # contact channel) cannot be in an old database: leave it out.
                    if all(r._mapping[c] is not None for c in required)
                ]
                if rows:
                    dst.execute(table.insert(), rows)
                copied[table.name] = (columns, sorted((tuple(r.values()) for r in rows), key=repr))
    finally:
        source.dispose()
        target.dispose()
    return copied


def _rows(url: str, columns: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of ``url``'s tables, in the given columns only."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(bind=engine, only=list(columns))
    try:
        with engine.connect() as conn:
            return {
                name: sorted(map(tuple, conn.execute(select(*(meta.tables[name].c[c] for c in cols)))), key=repr)
                for name, cols in columns.items()
            }
    finally:
        engine.dispose()


def _lead_view(store: Store, lead_id: str, *, inquiries: bool = True) -> dict[str, Any]:
    try:
        with store.read() as session:
            found = repo.load_lead(session, lead_id)
            assert found is not None
            lead, _ = found
            touches = repo.load_touches(session, lead.id)
            if not inquiries:
                touches = [t for t in touches if t.outcome is not TouchOutcome.INQUIRED]
            return lead_view(lead, follow_ups=repo.follow_ups(session, lead.id), touches=touches)
    finally:
        store.dispose()


def _a_newer_database_is_refused(site: Site, databases: Databases, url: str) -> None:
    """The web unit, started against a database a newer version migrated, stops at once with exit
    status 2 (RestartPreventExitStatus: systemd does not loop) and says why."""
    name = databases.create(f"nh_ops_new_{secrets.token_hex(4)}")
    newer = Store(databases.sqlalchemy_url(name))
    newer.migrate()
    with newer.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    newer.dispose()
    web = Unit.load(WEB)
    assert web.service["RestartPreventExitStatus"] == "2"
    process = site.start(web, str(free_port()), environ={**site.service_environ(), "PGDATABASE": name})
    assert process.wait(timeout=60) == 2
    assert "schema revision 9999_from_the_future, newer than this version of nurturehub knows" in site.logs()


def _rotate_the_data_key(
    site: Site, blocks: dict[str, Any], url: str, *, old_key: str, before: dict[str, Any], token: dict[str, str]
) -> None:
    """New key first, rekey, old key dropped: every payload and token opens with the new key
    alone, reads as it did, and no longer opens with the old one."""
    old = Fernet(old_key.encode())
    plaintexts = [old.decrypt(blob) for blob in before["payloads"] + before["tokens"]]
    assert json.loads(plaintexts[-1]) == token

    site.run(blocks["rotate-data-key-add"])
    keys = read_environment_file(site.env_file())["NURTUREHUB_DATA_KEY"].split(",")
    assert len(keys) == 2 and keys[1] == old_key
    rekeyed = site.run(blocks["rotate-data-key-rekey"]).stdout
    assert "no longer needed" in rekeyed, rekeyed
    site.run(blocks["rotate-data-key-drop"])
    assert read_environment_file(site.env_file())["NURTUREHUB_DATA_KEY"] == keys[0]
    site.run(blocks["rotate-data-key-check"])

    after = _snapshot(url)
    new = Fernet(keys[0].encode())
    assert [new.decrypt(blob) for blob in after["payloads"] + after["tokens"]] == plaintexts
    for blob in after["payloads"] + after["tokens"]:
        with pytest.raises(InvalidToken):
            old.decrypt(blob)


def _rotate_the_session_secret(site: Site, blocks: dict[str, Any]) -> None:
    """The environment file goes through the two states the web app reads (tests/ops/test_keys.py
    shows that a session signed with the old secret survives the first)."""
    old = read_environment_file(site.env_file())["NURTUREHUB_SECRET_KEY"]
    site.run(blocks["rotate-session-secret-add"])
    new, kept = read_environment_file(site.env_file())["NURTUREHUB_SECRET_KEY"].split(",")
    assert kept == old and len(new) >= 48
    site.run(blocks["rotate-session-secret-drop"])
    assert read_environment_file(site.env_file())["NURTUREHUB_SECRET_KEY"] == new


def test_the_guide_sqlite_backup_and_restore(site: Site) -> None:
    """A SQLite store: `nurturehub backup` while it exists, the file lost, `nurturehub restore`."""
    blocks, _ = guide_blocks()
    site.run(blocks["configure"])
    site.append_env(NURTUREHUB_DATABASE_URL="")  # none: SQLite in the instance folder
    env = site.service_environ()
    site.run_command([str(site.path("/opt/nurturehub/venv/bin/nurturehub")), "init"], env=env)  # as the guide's step 3
    add = site.run_command(
        [str(site.path("/opt/nurturehub/venv/bin/nurturehub")), "leads", "add", "--phone", "5125550142",
         "--text", "I need an appointment", "--json"], env=env)  # fmt: skip
    lead_id = json.loads(add)["lead"]["id"]
    database = site.path("/var/lib/nurturehub/nurturehub.sqlite3")
    assert database.exists()

    site.run(blocks["sqlite-backup"])
    (backup,) = site.path("/var/backups/nurturehub").glob("nurturehub-*.sqlite3")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert not list(backup.parent.glob("*-wal")), "one self-contained file"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    site.run(blocks["sqlite-restore"])
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT id FROM leads").fetchall() == [(lead_id,)]


def test_every_command_block_of_the_guide_is_marked_and_the_units_agree_with_it() -> None:
    """No shell block can slip out of the test unmarked; the service shell is the units'
    environment; the container recipe runs the units' commands."""
    tested, untested = guide_blocks()
    assert len(tested) >= 12 and all(reason.strip() for reason in untested)
    doc = DOC.read_text(encoding="utf-8")
    for name in (WEB, WORKER):
        unit = Unit.load(name)
        assert f"cd {unit.service['WorkingDirectory']} && set -a && . {unit.service['EnvironmentFile']}" in doc
        assert unit.service["User"] == "nurturehub" and unit.service["RestartPreventExitStatus"] == "2"
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    web_args = Unit.load(WEB).command("8000").split()[1:]
    worker_args = Unit.load(WORKER).command("9464").split()[1:]
    anywhere = "0.0.0.0"  # noqa: S104 - inside a container, where the port is published on the host's loopback
    assert compose["web"]["command"] == [a if a != "127.0.0.1" else anywhere for a in web_args]
    assert [a for a in compose["worker"]["command"] if a not in ("--metrics-host", anywhere)] == worker_args
    backup = Unit.load("nurturehub-backup.service").command()
    dump = re.search(r"pg_dump [^']*", backup)
    assert dump and dump.group(0) in compose["backup"]["command"][0].replace("$$", "$")
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for line in tested["configure"].text.splitlines()[:3]:
        assert line in dockerfile, f"the image is configured as the guide says: {line}"
