"""Log configuration at the entry points: services write our modules' INFO lines as JSON, masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from hub.app.logs import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("hub", "jobs", "webapp", "connectors", "urllib3")}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


@pytest.mark.usefixtures("restore_logging")
def test_a_service_logs_its_own_modules_routine_lines_as_json_and_libraries_only_when_wrong() -> None:
    out = io.StringIO()
    configure_logging(json_lines=True, stream=out)

    logging.getLogger("jobs.leader").info("scheduler: leadership taken by %s", "worker-1")
    logging.getLogger("webapp.webhooks").info("webhook %s refused: %s", "landing_page", "signature_mismatch")
    logging.getLogger("urllib3.connectionpool").info("Starting new HTTPS connection")
    logging.getLogger("urllib3.connectionpool").warning("Retrying")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("jobs.leader", "info"),
        ("webapp.webhooks", "info"),
        ("urllib3.connectionpool", "warning"),
    ]
    assert lines[0]["msg"] == "scheduler: leadership taken by worker-1"


@pytest.mark.usefixtures("restore_logging")
def test_the_command_line_stays_quiet_about_routine_work() -> None:
    out = io.StringIO()
    configure_logging(stream=out)

    logging.getLogger("hub.inbound.inbox").info("inbox: accepted landing_page event msg_1 (lead.created)")
    logging.getLogger("hub.inbound.inbox").warning("inbox: event 7 parked")

    assert out.getvalue().splitlines() == ["WARNING hub.inbound.inbox: inbox: event 7 parked"]
