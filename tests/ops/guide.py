"""The operations guide as something a test can perform.

``docs/operations.md`` marks each shell block it shows::

    <!-- test: NAME as root|nurturehub -->      the test runs it, as written
    <!-- untested: REASON -->                   it needs root, systemd, DNS or the network

and ``deploy/*.service`` are systemd units whose ``ExecStart=`` the test starts as processes, with
their ``EnvironmentFile=`` and ``WorkingDirectory=``, the way systemd would.

A :class:`Site` is the server the guide installs, moved into a temporary folder. It changes the
guide's text in exactly these ways and no other:

- the absolute paths in :data:`PATHS` point into the temporary folder (``/opt/nurturehub/venv`` is
  the virtual environment running the tests, or ``$NURTUREHUB_GUIDE_VENV``, one made by the guide's
  own ``pip install``; ``/opt/nurturehub/src`` is this checkout);
- the ports of the first web and worker unit (8001, 9464) become free ports;
- "as root" and "as nurturehub" blocks both run as the test's own user: "as root" with a clean
  environment (systemd's PATH, a HOME), "as nurturehub" with the environment file loaded on top of
  it and the units' working directory, as the guide's *service shell* does.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"
DEPLOY = ROOT / "deploy"

#: The guide's absolute paths, by what the test puts in their place (relative: under the site).
PATHS = {
    "/opt/nurturehub/venv": Path(os.environ.get("NURTUREHUB_GUIDE_VENV") or sys.prefix),
    "/opt/nurturehub/src": ROOT,
    "/etc/nurturehub": Path("etc/nurturehub"),
    "/var/lib/nurturehub": Path("var/lib/nurturehub"),
    "/var/backups/nurturehub": Path("var/backups/nurturehub"),
}
#: The first web unit's and the first worker unit's ports, as the guide writes them.
WEB_PORT, WORKER_PORT = 8001, 9464

_MARK = re.compile(r"<!-- (test|untested): ([^>]*?) -->\n```sh\n(.*?)```", re.DOTALL)
_SH_BLOCK = re.compile(r"^```sh$", re.MULTILINE)
_SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Block:
    """One tested shell block of the guide: its name, who runs it, its text."""

    name: str
    user: str
    text: str


def guide_blocks(text: str | None = None) -> tuple[dict[str, Block], list[str]]:
    """The tested blocks by name, and the reasons given for the untested ones.

    Raises:
        AssertionError: a shell block carries neither mark, a mark is malformed, or a name repeats.
    """
    text = DOC.read_text(encoding="utf-8") if text is None else text
    tested: dict[str, Block] = {}
    untested: list[str] = []
    for kind, label, body in _MARK.findall(text):
        if kind == "untested":
            untested.append(label)
            continue
        name, sep, user = label.partition(" as ")
        assert sep and user in ("root", "nurturehub"), f"<!-- test: {label} -->: say 'as root' or 'as nurturehub'"
        assert name not in tested, f"two blocks are named {name!r}"
        tested[name] = Block(name=name, user=user, text=body)
    marked = len(tested) + len(untested)
    assert marked == len(_SH_BLOCK.findall(text)), "every ```sh block of the guide is marked test or untested"
    return tested, untested


@dataclass(frozen=True, slots=True)
class Unit:
    """A systemd unit file of deploy/, as systemd reads the parts the test uses."""

    name: str
    service: Mapping[str, str]

    @classmethod
    def load(cls, name: str) -> Unit:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
        parser.read(DEPLOY / name, encoding="utf-8")
        return cls(name=name, service=dict(parser["Service"]))

    def command(self, instance: str = "") -> str:
        """``ExecStart=`` with systemd's specifier ``%i`` and its escapes (``%%``, ``$$``) resolved."""
        line = self.service["ExecStart"].replace("%i", instance).replace("%%", "%")
        return line.replace("$$", "$")


class Site:
    """The server of the guide, under ``root``, with the database the ``PG*`` variables name."""

    def __init__(self, root: Path, *, web_port: int, worker_port: int) -> None:
        self.root = root
        self.ports = {
            f"127.0.0.1:{WEB_PORT}": f"127.0.0.1:{web_port}",
            f"127.0.0.1:{WORKER_PORT}": f"127.0.0.1:{worker_port}",
        }
        self.web_port, self.worker_port = web_port, worker_port
        self.processes: list[subprocess.Popen[bytes]] = []
        # useradd --create-home makes the service user's home, the units' working directory.
        self.path("/var/lib/nurturehub").mkdir(parents=True)

    def path(self, guide_path: str) -> Path:
        """Where a path of the guide is on this site."""
        for prefix, here in PATHS.items():
            if guide_path == prefix or guide_path.startswith(prefix + "/"):
                base = here if here.is_absolute() else self.root / here
                return Path(str(base) + guide_path[len(prefix) :])
        raise AssertionError(f"{guide_path} is not one of the guide's paths")

    def place(self, text: str) -> str:
        """The guide's text with its paths and ports moved to this site."""
        for prefix in PATHS:
            text = text.replace(prefix, str(self.path(prefix)))
        for port, here in self.ports.items():
            text = text.replace(port, here)
        return text

    # --- environments -------------------------------------------------------------------------

    def base_environ(self) -> dict[str, str]:
        """A login's clean environment: nothing of the test run's leaks in (no NURTUREHUB_* or PG*,
        and no libfaketime: the hub's processes run on the machine's clock, which the scenario never
        compares with the test's)."""
        return {"PATH": _SYSTEMD_PATH, "HOME": str(self.root), "LANG": "C.UTF-8"}

    def env_file(self) -> Path:
        return self.path("/etc/nurturehub/nurturehub.env")

    def service_environ(self) -> dict[str, str]:
        """The environment of the units (``EnvironmentFile=`` over a clean one), read as systemd reads it."""
        return {**self.base_environ(), **read_environment_file(self.env_file())}

    def append_env(self, **values: str) -> None:
        """Add lines to the environment file (later lines win, for systemd and for the shell)."""
        with self.env_file().open("a", encoding="utf-8") as fh:
            fh.writelines(f"{key}={value}\n" for key, value in values.items())

    # --- running the guide ----------------------------------------------------------------------

    def run(self, block: Block, *, stdin: str = "", expect: int = 0) -> subprocess.CompletedProcess[str]:
        """Run a block of the guide in bash with -e (every command must succeed) and pipefail."""
        as_service = block.user == "nurturehub"
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.place(block.text)],
            cwd=self.path("/var/lib/nurturehub") if as_service else self.root,
            env=self.service_environ() if as_service else self.base_environ(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == expect, (
            f"guide block {block.name!r} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
        return result

    def run_command(self, argv: list[str], *, env: Mapping[str, str]) -> str:
        """Run one command (not from the guide: what happens between its steps); its output."""
        result = subprocess.run(
            argv, cwd=self.root, env=dict(env), capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, f"{argv[1:]} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def run_unit_once(self, unit: Unit) -> None:
        """``systemctl start`` of a oneshot unit: ExecStart, then ExecStartPost, with its UMask."""
        for key in ("ExecStart", "ExecStartPost"):
            if key not in unit.service:
                continue
            line = unit.service[key].replace("%%", "%").replace("$$", "$")
            result = subprocess.run(
                shlex.split(self.place(line)),
                cwd=self.root,
                env=self.service_environ(),
                umask=int(unit.service.get("UMask", "0022"), 8),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, f"{unit.name} {key} exited {result.returncode}: {result.stderr}"

    def argv(self, unit: Unit, instance: str = "") -> list[str]:
        return shlex.split(self.place(unit.command(instance)))

    def start(self, unit: Unit, instance: str, *, environ: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a unit's ``ExecStart=`` as systemd would: its environment file, its working
        directory; output to a log file named after the unit (the journal's stand-in)."""
        assert Path(self.place(unit.service["EnvironmentFile"])) == self.env_file()
        log = (self.root / f"{unit.name.replace('@.service', '')}@{instance}.log").open("ab")
        process = subprocess.Popen(
            self.argv(unit, instance),
            cwd=self.place(unit.service["WorkingDirectory"]),
            env=dict(environ) if environ is not None else self.service_environ(),
            stdout=log,
            stderr=subprocess.STDOUT,
            umask=int(unit.service.get("UMask", "0022"), 8),
            start_new_session=True,  # its own process group: the unit's control group
        )
        log.close()
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 45) -> int:
        """``systemctl stop`` with ``KillMode=mixed``: SIGTERM to the main process, wait for it, then
        SIGKILL whatever is left of its group (as systemd does after the main process or the
        timeout). Returns the main process's exit status (-9 when it had to be killed)."""
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = -signal.SIGKILL
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        return status

    def stop_all(self) -> None:
        """Stop every unit still running (a failed test leaves no gunicorn behind)."""
        for process in self.processes:
            if process.poll() is None:
                self.stop(process)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(self.root.glob("*.log")))


def read_environment_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd's ``EnvironmentFile=`` reads them (comments, blank lines and
    surrounding quotes aside); a later line for the same key wins."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not KEY=VALUE: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def sourced_environment_file(path: Path) -> dict[str, str]:
    """The same file as the guide's service shell reads it (``set -a; . FILE``)."""
    out = subprocess.run(
        ["bash", "-c", 'set -a && . "$1" && env -0', "bash", str(path)],
        env={"PATH": _SYSTEMD_PATH},
        capture_output=True,
        check=True,
    ).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def wait_until_answers(url: str, timeout: float = 60, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until it answers 200 (or the process behind it exits)."""
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        session.trust_env = False
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"the process behind {url} exited with {process.returncode}")
            try:
                if session.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")
