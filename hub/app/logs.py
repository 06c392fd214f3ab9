"""Logging: configured only at entry points; JSON lines with ids only; a filter that masks what
slipped through anyway (emails, phone numbers, registered secrets and canaries).

Code logs ids (``lead %s``), never names, phones, emails or free text. The mask is the second line
of defence, not the first.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = ["PhiMaskFilter", "configure_logging", "register_secret"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])(\+?\d[\d\s().-]{8,}\d)(?![\w])")
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Mask ``value`` wherever it would appear in a log line (tokens, webhook secrets)."""
    if value and len(value) >= 6:
        _secrets.add(value)


def mask(text: str, extra: Iterable[str] = ()) -> str:
    for value in (*_secrets, *extra):
        if value in text:
            text = text.replace(value, "[secret]")
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group(1)) >= 10 else m.group(1), text)


class PhiMaskFilter(logging.Filter):
    """Renders the message, masks it, and freezes the result (args cleared)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg, record.args = mask(message), None
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text can carry values; keep the type and a masked message only.
            exc = record.exc_info[1]
            record.exc_text = f"{type(exc).__name__}: {mask(str(exc))}"
            record.exc_info = None
        return True


#: The hub's own top-level packages (module loggers are named after their modules).
_OWN_PACKAGES = ("hub", "jobs", "webapp", "connectors", "mapping", "nurture")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False)


def configure_logging(*, verbose: bool = False, json_lines: bool = False, stream: object = None) -> None:
    """Configure the root logger once, at an entry point."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.addFilter(PhiMaskFilter())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("nurturehub").setLevel(logging.INFO)
    if json_lines and not verbose:
        # A service (web, worker): our own modules' routine lines (webhook refusals, leadership,
        # schedules, sync summaries: ids only) at INFO; libraries stay at WARNING.
        for package in _OWN_PACKAGES:
            logging.getLogger(package).setLevel(logging.INFO)
