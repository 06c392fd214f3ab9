"""The Salesforce sandbox's API budget: the daily request allocation and its usage, ``/limits``, and
the ``Sforce-Limit-Info`` header on every JSON answer (injected faults are rolled in ``server``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from werkzeug.wrappers import Request, Response

from sandboxes.salesforce.state import _JSON_TYPE, SalesforceState

#: The daily allocation reported (and enforced) when ``Faults.daily_budget`` is None.
DEFAULT_DAILY_BUDGET: Final = 100_000


class LimitsMixin(SalesforceState):
    """The daily API budget, ``/limits`` and the ``Sforce-Limit-Info`` header."""

    def reset_day(self) -> None:
        """Start a new API "day": the usage counter goes back to zero."""
        with self._state.tx() as conn:
            self._usage = 0
            self._save_meta(conn)

    @property
    def api_usage(self) -> int:
        """API calls counted in the current day."""
        return self._usage

    @property
    def daily_budget(self) -> int:
        budget = self.faults.daily_budget
        return DEFAULT_DAILY_BUDGET if budget is None else budget

    def _json(
        self,
        status: int,
        body: Any,
        request: Request,
        *,
        headers: Mapping[str, str] | None = None,
        limit_info: bool = False,
    ) -> Response:
        if body is None:
            response = Response(status=status)
        else:
            if request.headers.get("X-PrettyPrint") == "1":
                text = json.dumps(body, indent=2, separators=(",", " : "), ensure_ascii=False)
            else:
                text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
            response = Response(text, status=status, content_type=_JSON_TYPE)
        for key, value in (headers or {}).items():
            response.headers[key] = value
        if limit_info:
            response.headers["Sforce-Limit-Info"] = f"api-usage={self._usage}/{self.daily_budget}"
        return response

    def _h_limits(self, request: Request, version: str) -> tuple[int, Any, dict[str, str]]:
        budget = self.daily_budget
        return (
            200,
            {
                "DailyApiRequests": {"Max": budget, "Remaining": max(budget - self._usage, 0)},
                "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
                "DataStorageMB": {"Max": 5, "Remaining": 5},
            },
            {},
        )
