"""The running demo's record (hub.running_demo): found while the demo's process holds it, ignored
once that process is gone (even if its pid now belongs to another process), and only for the same
store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hub.app.running_demo import RUN_FILE, RunningDemo, find_running_demo, store_identity
from tests.support import child_environ

ROOT = Path(__file__).resolve().parents[3]
URL = "postgresql+psycopg://hub:secret@db.example/clinic?options=-csearch_path%3Deastside"


def _demo(pid: int) -> RunningDemo:
    return RunningDemo(pid=pid, base_url="http://127.0.0.1:8123", store=store_identity(URL), crm={}, scheduling={})


def test_the_record_counts_while_its_process_holds_it_and_not_after_a_crash(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, json, time; from pathlib import Path; from hub.app.running_demo import RunningDemo;"
         "d = json.loads(sys.argv[2]); RunningDemo(**d).record(Path(sys.argv[1])); print('held', flush=True);"
         "time.sleep(120)",
         str(tmp_path), json.dumps({"pid": 0, "base_url": "http://127.0.0.1:8123", "store": store_identity(URL),
                                    "crm": {}, "scheduling": {}})],
        cwd=ROOT, env={**child_environ(), "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        found = find_running_demo(tmp_path, URL)
        assert found is not None and found.base_url == "http://127.0.0.1:8123"
        assert find_running_demo(tmp_path, URL.replace("eastside", "westside")) is None  # another schema
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    assert (tmp_path / RUN_FILE).exists()  # a crash leaves the file …
    assert find_running_demo(tmp_path, URL) is None  # … but not the lock


def test_a_record_naming_a_live_pid_without_the_lock_is_not_a_running_demo(tmp_path: Path) -> None:
    """After a crash the system may give the demo's pid to another process: the pid proves nothing."""
    path = tmp_path / RUN_FILE
    d = _demo(os.getppid())
    path.write_text(
        json.dumps({"pid": d.pid, "base_url": d.base_url, "store": d.store, "crm": {}, "scheduling": {}}),
        encoding="utf-8",
    )
    assert find_running_demo(tmp_path, URL) is None


def test_store_identity_tells_stores_apart_and_names_no_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert store_identity(URL) != store_identity(URL.replace("eastside", "westside"))
    assert "secret" not in store_identity(URL)
    monkeypatch.chdir(tmp_path)
    assert store_identity("sqlite:///hub.sqlite3") == f"sqlite:{tmp_path.resolve() / 'hub.sqlite3'}"
