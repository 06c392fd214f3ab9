"""Patient data and keys are readable by the hub's account only (issue 18: the SQLite database, its
-wal/-shm files and the sandbox TLS key were 0644): the instance folder 0700 and every file in it
0600 whatever the umask; start-up and check-config warn about an existing instance readable by
others. Tested on the real processes: ``nurturehub run`` and ``serve`` + ``worker``."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from connectors.inbound import sign_request
from hub.app.instance import exposed, make_private, write_private
from hub.cli import main as hub_main
from sandboxes.common import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="
PERMISSIVE = "umask 022; "


def readable_by_others(instance: Path) -> list[str]:
    assert instance.is_dir()
    files = [instance, *instance.rglob("*")]
    assert len(files) > 3
    return [f"{oct(p.lstat().st_mode & 0o777)} {p}" for p in files if p.lstat().st_mode & 0o077]


@pytest.fixture
def loose(tmp_path: Path) -> Path:
    instance = tmp_path / "instance"
    (instance / "sandbox" / "tls").mkdir(parents=True)
    for name in ("nurturehub.sqlite3", "nurturehub.sqlite3-wal", "sandbox/tls/server.key", "data.key"):
        (instance / name).write_text("x")
        (instance / name).chmod(0o644)
    for folder in (instance, instance / "sandbox", instance / "sandbox" / "tls"):
        folder.chmod(0o755)
    return instance


def test_make_private_repairs_an_instance_and_says_so(loose: Path, caplog: pytest.LogCaptureFixture) -> None:
    previous = os.umask(0o022)
    try:
        with caplog.at_level(logging.WARNING, logger="hub.app.instance"):
            found = make_private(loose)
        assert len(found) == 7
        assert exposed(loose) == []
        assert stat.S_IMODE(loose.stat().st_mode) == 0o700
        assert stat.S_IMODE((loose / "sandbox/tls/server.key").stat().st_mode) == 0o600
        assert "had 7 file(s) or folder(s) readable by other accounts; made them private" in caplog.text
        assert os.umask(0o022) == 0o077  # what the process makes from now on is private too
    finally:
        os.umask(previous)


def test_check_config_warns_about_an_instance_readable_by_others(
    loose: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(loose.parent)
    previous = os.umask(0o022)
    try:
        assert hub_main(["check-config"]) == 0
    finally:
        os.umask(previous)
    out = capsys.readouterr().out
    assert "warning: the instance folder" in out and "has 7 file(s) or folder(s) readable by other accounts" in out
    assert exposed(loose)  # check-config reports; it changes nothing
    assert hub_main(["check-config", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["instance_readable_by_others"]) == 7


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_write_private_makes_a_0600_file_with_the_content(tmp_path: Path) -> None:
    write_private(tmp_path / "secret.txt", "clé\n")
    write_private(tmp_path / "secret.bin", b"\x00\xff", atomic=True)

    assert (tmp_path / "secret.txt").read_bytes() == "clé\n".encode()
    assert (tmp_path / "secret.bin").read_bytes() == b"\x00\xff"
    assert {mode(p) for p in tmp_path.iterdir()} == {0o600}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.bin", "secret.txt"]  # no draft left


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("atomic", [False, True])
def test_write_private_never_touches_a_file_that_exists_unless_asked(tmp_path: Path, atomic: bool) -> None:
    path = tmp_path / "data.key"
    write_private(path, "first\n", atomic=atomic)

    with pytest.raises(FileExistsError):
        write_private(path, "second\n", atomic=atomic)

    assert path.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["data.key"]


@pytest.mark.usefixtures("permissive_umask")
@pytest.mark.parametrize("atomic", [False, True])
def test_write_private_replaces_a_readable_file_with_a_private_one(tmp_path: Path, atomic: bool) -> None:
    path = tmp_path / "running-demo.json"
    path.write_text("an older, longer record\n")
    path.chmod(0o644)

    write_private(path, "{}", exclusive=False, atomic=atomic)

    assert path.read_text() == "{}"
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["running-demo.json"]


@pytest.mark.usefixtures("permissive_umask")
def test_an_atomic_replace_swaps_the_whole_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "running-demo.json"
    write_private(path, "old", exclusive=False, atomic=True)
    with path.open("rb") as reader:  # a reader that opened the old file keeps reading the old file whole
        write_private(path, "new", exclusive=False, atomic=True)
        assert reader.read() == b"old"

    assert path.read_text() == "new"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NURTUREHUB_", "PROMETHEUS_"))}
    return {**env, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_nothing_under_the_instance_is_readable_by_others_after_run(tmp_path: Path) -> None:
    process = subprocess.Popen(
        ["/bin/sh", "-c", PERMISSIVE + f"exec {sys.executable} -m jobs run --port 0 --duration 60"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops everything"):
                break
        web = re.search(r"web UI:\s+(http://\S+)", "".join(lines))
        assert web, "".join(lines)
        instance = tmp_path / "instance"
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and len(list((instance / "demo-events").glob("*.json"))) < 5:
            time.sleep(0.5)  # the demo inquiries arrive; leads, WAL and sandbox state are written
        assert readable_by_others(instance) == []
        for name in ("nurturehub.sqlite3", "data.key", "secret.key", "demo-secrets.json", "sandbox/tls/server.key"):
            assert (instance / name).exists() or name == "secret.key", name
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
    assert readable_by_others(tmp_path / "instance") == []


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {
        **_env(),
        "NURTUREHUB_DATA_KEY": Fernet.generate_key().decode(),
        "NURTUREHUB_SECRET_LANDING_PAGE": SECRET,
    }
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "left-over.json").write_text("{}")  # from an older hub, made before this fix
    (instance / "left-over.json").chmod(0o644)
    port = free_port()
    processes = [
        subprocess.Popen(
            ["/bin/sh", "-c", PERMISSIVE + f"exec {sys.executable} -m jobs {args}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for args in (f"serve --port {port} --workers 2", "worker --duration 120")
    ]
    try:
        yield f"http://127.0.0.1:{port}", instance
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


@pytest.mark.slow
def test_nothing_under_the_instance_is_readable_by_others_after_serve_and_worker(served: tuple[str, Path]) -> None:
    url, instance = served
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.3)
    body = json.dumps({"channel": "paid_search", "first_name": "Ana", "phone": "+15125550188"}).encode()
    headers = sign_request("standard_webhook", body, secret=SECRET, now=datetime.now(UTC), event_id="msg_private_1")
    response = requests.post(
        f"{url}/webhooks/landing_page", data=body, headers={**headers, "Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 202
    database = instance / "nurturehub.sqlite3"
    import sqlite3

    while time.monotonic() < deadline:  # the worker made the lead: the store was written by both
        with sqlite3.connect(database) as conn:
            if conn.execute("SELECT count(*) FROM leads").fetchone()[0] == 1:
                break
        time.sleep(0.3)
    assert readable_by_others(instance) == []
