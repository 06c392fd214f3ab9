"""The Salesforce sandbox's SOQL endpoint: ``/query`` and ``/queryAll`` with ``nextRecordsUrl``
paging, batch sizes and query cursors that expire (the parser and evaluator are ``soql``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from werkzeug.wrappers import Request

from sandboxes.salesforce import soql
from sandboxes.salesforce.ids import make_id
from sandboxes.salesforce.state import ApiError, SalesforceState, _Cursor

#: Records per SOQL page: the default, and the range ``Sforce-Query-Options: batchSize=N`` may pick.
DEFAULT_BATCH_SIZE: Final = 2000
MIN_BATCH_SIZE: Final = 200
#: Open query cursors kept per org; the oldest is dropped first (Salesforce allows 10 per user).
MAX_OPEN_CURSORS: Final = 10
#: A query cursor not used for this long is gone (INVALID_QUERY_LOCATOR), as in Salesforce.
CURSOR_TTL: Final = timedelta(minutes=15)


class QueryMixin(SalesforceState):
    """``/query``, ``/queryAll`` and their cursors."""

    # ------------------------------------------------------------------------------------------
    # SOQL.

    def _batch_size(self, request: Request) -> int:
        header = request.headers.get("Sforce-Query-Options", "")
        m = re.search(r"batchSize\s*=\s*(\d+)", header)
        if m is None:
            return DEFAULT_BATCH_SIZE
        return min(max(int(m.group(1)), MIN_BATCH_SIZE), DEFAULT_BATCH_SIZE)

    def _h_query(self, request: Request, version: str, endpoint_name: str) -> tuple[int, Any, dict[str, str]]:
        text = request.args.get("q")
        if not text:
            raise ApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            query = soql.parse(text)
        except soql.SoqlError as exc:
            raise ApiError(400, [{"message": exc.message, "errorCode": exc.error_code}]) from None
        include_deleted = endpoint_name == "queryAll"
        predicate = soql.compile_where(query.where)
        matched: list[Mapping[str, Any]] = [
            r
            for r in self._store.records(query.sobject.name)
            if (include_deleted or not r.get("IsDeleted")) and predicate(r)
        ]
        if query.order_by:
            matched = soql.order_records(matched, query.order_by)
        if query.offset:
            matched = matched[query.offset :]
        if query.limit is not None:
            matched = matched[: query.limit]
        if query.count_only:
            return 200, {"totalSize": len(matched), "done": True, "records": []}, {}
        cursor = _Cursor(
            sobject=query.sobject.name,
            fields=tuple(f.name for f in query.fields),
            records=matched,
            batch_size=self._batch_size(request),
            endpoint=endpoint_name,
            version=version,
        )
        return 200, self._page(cursor, 0, None), {}

    def _page(self, cursor: _Cursor, start: int, locator: str | None) -> dict[str, Any]:
        end = min(start + cursor.batch_size, len(cursor.records))
        records = [self._project(r, cursor.sobject, cursor.fields, cursor.version) for r in cursor.records[start:end]]
        body: dict[str, Any] = {"totalSize": len(cursor.records), "done": end >= len(cursor.records)}
        if end < len(cursor.records):
            if locator is None:
                locator = make_id("01g", self._counter_bump())
                cursor.touched = time.monotonic()
                self._cursors[locator] = cursor
                while len(self._cursors) > MAX_OPEN_CURSORS:
                    self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{cursor.version}/{cursor.endpoint}/{locator}-{end}"
        body["records"] = records
        return body

    def _counter_bump(self) -> int:
        self._counter += 1
        return self._counter

    def _h_query_more(self, request: Request, version: str, locator: str) -> tuple[int, Any, dict[str, str]]:
        cursor_id, _, position = locator.partition("-")
        cursor = self._cursors.get(cursor_id)
        if cursor is not None and time.monotonic() - cursor.touched > CURSOR_TTL.total_seconds():
            del self._cursors[cursor_id]
            cursor = None
        if cursor is None or not position.isdigit() or int(position) > len(cursor.records):
            raise ApiError.of(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        self._cursors.move_to_end(cursor_id)
        cursor.touched = time.monotonic()
        return 200, self._page(cursor, int(position), cursor_id), {}
