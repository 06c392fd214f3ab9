"""Secrets (issue 18): every secret read from the environment is registered for masking when the
configuration is loaded; URLs are printed without passwords; check-config refuses secrets in the TOML
and names the environment variable to use."""

from __future__ import annotations

import base64
import io
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hub.app.bootstrap import build_hub
from hub.app.logs import PhiMaskFilter
from hub.cli import main as hub_main
from hub.settings.config import load_config, printable_url, secret_env_names
from tests.support import child_environ
from webapp import create_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")


def planted() -> dict[str, str]:
    """A distinct secret-looking value in every variable the example config reads a secret from."""
    config = load_config(None, environ={})
    env = {name: f"planted-{name.lower()}-Zq81x" for name in secret_env_names(config.raw)}
    env["NURTUREHUB_DATA_KEY"] = Fernet.generate_key().decode() + "," + Fernet.generate_key().decode()
    env["NURTUREHUB_DATABASE_URL"] = "postgresql+psycopg://hub:planted-db-password-Zq81x@db.internal:5432/hub"
    for name in [n for n in env if n.startswith("NURTUREHUB_SECRET_") and n != "NURTUREHUB_SECRET_KEY"]:
        env[name] = "whsec_" + base64.b64encode(f"planted {name} 32 bytes or more!".encode()).decode()
    return env


def masked_lines(*messages: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PhiMaskFilter())
    logger = logging.getLogger("tests.security.secrets")
    logger.addHandler(handler)
    try:
        for message in messages:
            logger.warning("value: %s", message)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_every_secret_read_from_the_environment_is_masked_in_the_logs(tmp_path: Path) -> None:
    env = planted()
    assert len(env) >= 12  # every source's secret, both CRMs, FHIR, Cal.com, OIDC, cookie and data keys
    config = load_config(None, environ=env)
    hub = build_hub(config, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}", environ=env)
    try:
        create_app(hub, TESTING=True)
        values = [v for k, v in env.items() if k not in ("NURTUREHUB_DATABASE_URL", "NURTUREHUB_DATA_KEY")]
        values += [*env["NURTUREHUB_DATA_KEY"].split(","), "planted-db-password-Zq81x"]
        out = masked_lines(*values, f"connecting to {env['NURTUREHUB_DATABASE_URL']}")
        leaked = [v for v in values if v in out]
        assert leaked == []
        assert out.count("[secret]") == len(values) + 1
    finally:
        hub.close()


def test_a_process_never_writes_a_planted_secret_to_its_logs(tmp_path: Path) -> None:
    env = child_environ()
    secrets = planted()
    secrets["NURTUREHUB_DATABASE_URL"] = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    result = subprocess.run(
        [sys.executable, "-m", "jobs", "-v", "worker", "--duration", "3"],
        cwd=tmp_path, env={**env, **secrets, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    logs = result.stdout + result.stderr
    assert "worker" in logs
    assert [name for name, value in secrets.items() if value in logs and name != "NURTUREHUB_DATABASE_URL"] == []


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://postgres:PW-s3cret@db:5432/hub", "postgresql+psycopg://postgres:***@db:5432/hub"),
        ("postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:***@h/db"),
        ("sqlite:////srv/hub/app/instance/nurturehub.sqlite3", "sqlite:////srv/hub/app/instance/nurturehub.sqlite3"),
        ("postgresql://h/db?password=leak", "postgresql://h/db"),
    ],
)
def test_urls_are_printed_without_passwords(url: str, shown: str) -> None:
    assert printable_url(url) == shown


@pytest.mark.postgres
@pytest.mark.slow
def test_the_run_banner_shows_the_database_url_without_its_password(tmp_path: Path, pg_schema_url: str) -> None:
    url = pg_schema_url.replace("postgres@", "postgres:Banner-PW-9911@", 1)
    env = child_environ()
    process = subprocess.Popen(
        [sys.executable, "-m", "jobs", "--database-url", url, "run", "--port", "0", "--no-demo", "--duration", "5"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    out, _ = process.communicate(timeout=180)
    assert "store:              postgresql+psycopg://postgres:***@" in out, out
    assert "Banner-PW-9911" not in out


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[store]\ndatabase_url = "postgresql+psycopg://hub:PW@db/hub"\n',
            "store.database_url: the URL carries a password, and secrets do not belong in the config file; "
            "set the whole URL in the environment variable NURTUREHUB_DATABASE_URL instead",
        ),
        (
            '[scheduling.fhir]\ncredential = "-----BEGIN PRIVATE KEY-----"\n',
            "scheduling.fhir.credential: secrets do not belong in the config file; put it in the environment "
            "variable NURTUREHUB_FHIR_CREDENTIAL (and name it with 'credential_env' if you choose another)",
        ),
        (
            '[crm.salesforce]\nclient_secret = "abc"\n',
            "crm.salesforce.client_secret: secrets do not belong in the config file; put it in the environment "
            "variable NURTUREHUB_SALESFORCE_CLIENT_SECRET",
        ),
        (
            '[web]\nsecret_key = "abc"\n',
            "web.secret_key: secrets do not belong in the config file; put it in the environment variable "
            "NURTUREHUB_SECRET_KEY",
        ),
    ],
)
def test_check_config_refuses_secrets_in_the_file_and_names_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, message: str
) -> None:
    path = tmp_path / "clinic.toml"
    # Appended sections must not collide with the example's own tables.
    text = EXAMPLE
    for table in re.findall(r"^\[([a-z.]+)\]", toml, re.M):
        text = re.sub(rf"^\[{re.escape(table)}\]\n(?:(?!\[).*\n)*", "", text, flags=re.M)
    path.write_text(text + "\n" + toml, encoding="utf-8")
    assert hub_main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "PW@" not in err and '"abc"' not in err  # the secret itself is not repeated
