"""Reading "everything modified since" out of HubSpot's CRM search, completely and in order.

HubSpot's search answers at most 200 results a page and refuses to page past 10,000 results of one
query; it sorts by one property only and says nothing about the order of ties. Paging a big result
with ``after`` offsets has a second problem: a record edited while the pages are read moves to the
end, every later offset shifts by one, and a record is silently skipped.

So :func:`walk_modified` never pages with offsets. It reads in *adaptive windows*: each query asks
for the first 200 records modified at or after the newest timestamp it has seen (keyset paging on
the modified stamp), holds back the records sharing that newest timestamp until the next query
completes them, and emits in (timestamp, id) order. No query ever asks for more than its first page,
so none comes near the 10,000 cap, however many records changed. When one millisecond holds more
than a page of records (imports), that millisecond is walked by ``hs_object_id`` instead
(``GTE t``, ``LT t+1``, ``hs_object_id GT last``, sorted by id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hubspot.crm.contacts import PublicObjectSearchRequest as ContactsSearch
from hubspot.crm.objects.tasks import PublicObjectSearchRequest as TasksSearch

from nurture.errors import FatalError

if TYPE_CHECKING:
    from connectors.hubspot.edge import HubSpotEdge

__all__ = [
    "PAGE",
    "Row",
    "Search",
    "epoch_ms",
    "from_ms",
    "iso_ms",
    "parse_time",
    "searcher",
    "walk_modified",
]

#: Results per search page (HubSpot's maximum).
PAGE = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Filter = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Row:
    """One search result with its sort keys.

    Attributes:
        stamp: the modified stamp, milliseconds since the epoch.
        id: the record id (``hs_object_id``) as a number.
        item: the SDK's ``SimplePublicObject``.
    """

    stamp: int
    id: int
    item: Any


#: Runs one search: (filters ANDed together, property to sort by ascending) → its first page of rows.
Search = Callable[[list[Filter], str], list[Row]]


def walk_modified(
    search: Search, *, modified: str, since_ms: int | None, extra: Sequence[Filter] = ()
) -> Iterator[Row]:
    """Every record modified at or after ``since_ms`` (all when None), oldest first, ties by id.

    Args:
        search: runs one search and parses its rows.
        modified: the modified-stamp property (``lastmodifieddate``, ``hs_lastmodifieddate``).
        since_ms: the lower bound, epoch milliseconds.
        extra: filters every query carries as well.
    """
    cursor = since_ms
    held: dict[int, Row] = {}
    while True:
        filters = [*extra]
        if cursor is not None:
            filters.append(_filter(modified, "GTE", cursor))
        page = search(filters, modified)
        for row in page:
            held[row.id] = row
        if len(page) < PAGE:  # the last window (HubSpot's ``total`` is not relied on)
            yield from sorted(held.values(), key=_order)
            return
        newest = max(row.stamp for row in page)
        if min(row.stamp for row in page) == newest:
            # A whole page in one millisecond: the cursor cannot move, so walk that millisecond by id.
            yield from sorted((r for r in held.values() if r.stamp < newest), key=_order)
            yield from _walk_instant(search, modified, newest, extra)
            held, cursor = {}, newest + 1
            continue
        yield from sorted((r for r in held.values() if r.stamp < newest), key=_order)
        held = {i: r for i, r in held.items() if r.stamp == newest}
        cursor = newest


def _walk_instant(search: Search, modified: str, stamp: int, extra: Sequence[Filter]) -> Iterator[Row]:
    after_id = 0
    while True:
        rows = search(
            [
                *extra,
                _filter(modified, "GTE", stamp),
                _filter(modified, "LT", stamp + 1),
                _filter("hs_object_id", "GT", after_id),
            ],
            "hs_object_id",
        )
        rows.sort(key=_order)
        yield from rows
        if len(rows) < PAGE:
            return
        after_id = rows[-1].id


def searcher(edge: HubSpotEdge, object_name: str, properties: Sequence[str], modified: str) -> Search:
    """A :data:`Search` over ``contacts`` or ``tasks`` through ``edge`` (limited to the search rate).

    Args:
        edge: sends the calls.
        object_name: ``contacts`` or ``tasks``.
        properties: the properties each result carries.
        modified: the modified-stamp property each row is keyed on.
    """
    model = ContactsSearch if object_name == "contacts" else TasksSearch
    wanted = list(properties)

    def search(filters: list[Filter], sort_by: str) -> list[Row]:
        request = model(
            filter_groups=[{"filters": filters}] if filters else None,
            sorts=[{"propertyName": sort_by, "direction": "ASCENDING"}],
            properties=wanted,
            limit=PAGE,
        )
        data = edge.call(
            f"{object_name}.search",
            lambda a: (a.contacts_search if object_name == "contacts" else a.tasks_search).do_search_with_http_info(
                request, _request_timeout=a.timeout
            ),
            search=True,
        )
        return [Row(stamp=_stamp(item, modified), id=int(item.id), item=item) for item in data.results or []]

    return search


def _stamp(item: Any, modified: str) -> int:
    moment = parse_time((item.properties or {}).get(modified)) or parse_time(getattr(item, "updated_at", None))
    if moment is None:
        raise FatalError(f"hubspot: record {item.id} came without {modified}")
    return epoch_ms(moment)


def _order(row: Row) -> tuple[int, int]:
    return row.stamp, row.id


def _filter(name: str, operator: str, value: int) -> Filter:
    return {"propertyName": name, "operator": operator, "value": str(value)}


# --- time --------------------------------------------------------------------------------------------


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime from what HubSpot sends for a datetime: ISO 8601 with or without
    milliseconds (``2026-11-26T10:00:00.000Z`` / ``2026-11-26T10:00:00Z``), epoch milliseconds, or a
    datetime the SDK already parsed. None for no value."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return _EPOCH + timedelta(milliseconds=int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not a HubSpot datetime: {text[:40]!r}") from exc
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, rounded up: HubSpot stamps are whole milliseconds, so ``GTE``
    the result selects exactly the stamps at or after ``moment``."""
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return -(-micros // 1000)


def from_ms(stamp: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=stamp)


def iso_ms(moment: datetime) -> str:
    """``2026-12-01T16:15:00.000Z``: the form HubSpot writes datetimes in."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
