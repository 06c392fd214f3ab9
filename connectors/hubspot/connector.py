"""The HubSpot CRM connector: leads are contacts, follow-ups are tasks, through ``hubspot-api-client``.

How each protocol method maps to HubSpot's API, the error table and the task-idempotency decision are
in ``docs/connector-hubspot.md``. The parts:

- ``edge``: the SDK client, rate limiting, retries and the error table (every call);
- ``search``: complete, ordered "modified since" reads through CRM search;
- ``batch``: batches, isolating the input HubSpot refused, outcomes;
- ``schema``: the properties the hub writes (``ensure_schema``) and ``describe``;
- ``tasks``: follow-up tasks;
- this module: the settings and the connector.

Nothing here logs a property value: ids, counts and HubSpot's codes only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput as ContactsUpdate
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInputUpsert as ContactsUpsert
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId as ContactsRead
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate, PropertyUpdate

from connectors.base import (
    Change,
    ConnectionStatus,
    FieldInfo,
    RecordWrite,
    TaskChange,
    TaskWrite,
    TokenSource,
    WriteOutcome,
)
from connectors.hubspot.batch import (
    BATCH,
    TRACE,
    batches,
    fit,
    isolate,
    match,
    rejected,
    sets_any,
    settled,
    wire,
    written,
)
from connectors.hubspot.edge import HubSpotEdge, Limits, Refused
from connectors.hubspot.schema import (
    GROUP,
    PropertySpec,
    contact_properties,
    existing_options,
    field_info,
    group_body,
    missing_options,
    task_properties,
)
from connectors.hubspot.search import epoch_ms, from_ms, searcher, walk_modified
from connectors.hubspot.tasks import HubSpotTasks, TaskIdempotency
from nurture.errors import ConfigError, HubError

__all__ = ["HubSpotConnector", "HubSpotSettings", "TaskIdempotency"]

logger = logging.getLogger(__name__)

SYSTEM = "hubspot"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class HubSpotSettings:
    """How the hub talks to one HubSpot portal (the ``[crm.hubspot]`` table of the config file).

    Attributes:
        api_host: the API's base URL (a sandbox's in tests and the demo).
        lead_object: the object leads live in (only ``contacts`` is supported).
        id_property: the unique contact property holding the hub's lead id (the upsert idProperty).
        task_key_property: the task property holding the hub's task key ``<lead id>:<step key>``.
        task_outcome_property: the task enumeration staff set when they complete a task.
        owners: hub queue name → HubSpot owner id, or owner email (resolved once, then cached).
        default_owner: owner id or email for queues not in ``owners``; None leaves tasks unassigned.
        requests_per_second: sustained call rate (9 keeps below Starter's 100 per 10 s).
        burst: calls allowed back to back (``burst + 10 × rate`` must stay within the 10 s limit).
        searches_per_second: sustained search rate (HubSpot allows 5 per second per portal).
        max_retries: retries of one call after 429, 5xx and network errors.
        max_wait_s: longest Retry-After or backoff waited in place; longer raises ``RetryLater``.
        backoff_s: first backoff after a 5xx or network error (doubling).
        timeout_s: socket timeout of one request.
        properties_ttl_s: how long property definitions (``describe``, the fields a read checks)
            are reused before HubSpot is asked again.
        validate_responses: deserialise every answer with the SDK's client-side validation
            (required fields, enums): an answer that does not fit HubSpot's published models is a
            ``FatalError``. On in the contract suite; off by default, so that a field HubSpot
            adds to an enum later does not stop a clinic's sync.
    """

    api_host: str = "https://api.hubapi.com"
    lead_object: str = "contacts"
    id_property: str = "nurturehub_id"
    task_key_property: str = "nurturehub_task_key"
    task_outcome_property: str = "nurturehub_outcome"
    owners: Mapping[str, str] = field(default_factory=dict)
    default_owner: str | None = None
    requests_per_second: float = 9.0
    burst: int = 10
    searches_per_second: float = 4.0
    max_retries: int = 5
    max_wait_s: float = 30.0
    backoff_s: float = 0.5
    timeout_s: float = 30.0
    properties_ttl_s: float = 600.0
    validate_responses: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.api_host.startswith(("https://", "http://")):
            problems.append("api_host must be an http(s) URL")
        if self.lead_object != "contacts":
            problems.append(f"lead_object {self.lead_object!r} is not supported (only 'contacts')")
        for name in ("id_property", "task_key_property", "task_outcome_property"):
            if not _NAME.match(getattr(self, name)):
                problems.append(f"{name} must be a HubSpot internal name (lowercase letters, digits, _)")
        if self.task_key_property == self.task_outcome_property:
            problems.append("task_key_property and task_outcome_property must differ")
        for queue, owner in self.owners.items():
            if not queue.strip() or not _is_owner_ref(owner):
                problems.append(f"owners.{queue or '(empty)'} must be an owner id (digits) or an email")
        if self.default_owner is not None and not _is_owner_ref(self.default_owner):
            problems.append("default_owner must be an owner id (digits) or an email")
        for name in ("requests_per_second", "searches_per_second", "max_wait_s", "timeout_s"):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be positive")
        if self.burst < 1:
            problems.append("burst must be at least 1")
        if self.max_retries < 0 or self.backoff_s < 0 or self.properties_ttl_s < 0:
            problems.append("max_retries, backoff_s and properties_ttl_s must not be negative")
        if problems:
            raise ValueError("HubSpotSettings: " + "; ".join(problems))
        object.__setattr__(self, "owners", MappingProxyType(dict(self.owners)))


def _is_owner_ref(value: str) -> bool:
    return value.isdigit() or bool(_EMAIL.match(value))


class HubSpotConnector:
    """A :class:`~connectors.base.CrmConnector` for HubSpot.

    Args:
        settings: the portal's settings.
        tokens: the access token and its refresh (private-app tokens never need one).
        sleep: how to wait (tests pass a fake).
        monotonic: the clock the rate limiters read.

    Attributes:
        edge: the call layer (``edge.calls`` counts requests sent; daily usage from headers).
        tasks: the task half (``upsert_tasks`` and ``read_task_changes`` go there).
    """

    system = SYSTEM
    max_batch = BATCH

    def __init__(
        self,
        settings: HubSpotSettings,
        tokens: TokenSource,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.lead_object = settings.lead_object
        self.external_id_field = settings.id_property
        self.edge = HubSpotEdge(
            host=settings.api_host,
            tokens=tokens,
            limits=Limits(
                requests_per_second=settings.requests_per_second,
                burst=settings.burst,
                searches_per_second=settings.searches_per_second,
                max_retries=settings.max_retries,
                max_wait_s=settings.max_wait_s,
                backoff_s=settings.backoff_s,
                timeout_s=settings.timeout_s,
            ),
            sleep=sleep,
            monotonic=monotonic,
            validate=settings.validate_responses,
        )
        self.tasks = HubSpotTasks(self.edge, settings, self.existing)
        self._monotonic = monotonic
        self._definitions: dict[str, tuple[float, list[Any]]] = {}

    @property
    def requests_sent(self) -> int:
        """Requests sent so far, retries included (for the hub's API-call metric)."""
        return self.edge.calls

    @property
    def api_limit(self) -> int | None:
        """Today's allowance, as HubSpot's daily headers last said (absent for OAuth apps' calls)."""
        return self.edge.daily_limit

    @property
    def api_used(self) -> int | None:
        """Today's calls so far, from the same headers."""
        if self.edge.daily_limit is None or self.edge.daily_remaining is None:
            return None
        return self.edge.daily_limit - self.edge.daily_remaining

    @property
    def task_idempotency(self) -> TaskIdempotency | None:
        """How task writes are idempotent by key (UPSERT or SEARCH); None until ``ensure_schema``
        or the first ``upsert_tasks`` looked at the task key property."""
        return self.tasks.mode

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self.edge.close()

    # --- connection and schema ----------------------------------------------------------------

    def check(self) -> ConnectionStatus:
        """One cheap call (owners, limit 1) and the daily usage HubSpot reports in its headers."""
        try:
            self.edge.call(
                "owners.page", lambda a: a.owners.get_page_with_http_info(limit=1, _request_timeout=a.timeout)
            )
        except HubError as exc:
            return ConnectionStatus(ok=False, detail=str(exc).splitlines()[-1].strip(" -"))
        limit, remaining = self.edge.daily_limit, self.edge.daily_remaining
        used = limit - remaining if limit is not None and remaining is not None else None
        detail = f"connected to HubSpot at {self.settings.api_host}"
        if used is not None:
            detail += f"; {used} of {limit} API calls used today"
        return ConnectionStatus(ok=True, detail=detail, api_used=used, api_limit=limit)

    def describe(self, object_name: str) -> Mapping[str, FieldInfo]:
        """The properties of ``object_name`` (``contacts``, ``tasks`` …) as HubSpot defines them
        (read once per ``properties_ttl_s``)."""
        return {p.name: field_info(object_name, p) for p in self._property_definitions(object_name)}

    def ensure_schema(self) -> list[str]:
        """Create what the hub needs and is missing: the ``nurturehub`` property group and the hub's
        properties on contacts and tasks; add enumeration options the hub's vocabulary gained.

        Returns:
            The names of the properties created (empty when everything was there).

        Raises:
            ConfigError: the id property exists but is not unique, or HubSpot refused a property.
        """
        keyp = self.settings.task_key_property
        created = self._ensure_object(self.lead_object, contact_properties(self.settings.id_property))
        created += self._ensure_object(
            "tasks", task_properties(keyp, self.settings.task_outcome_property, unique_key=True)
        )
        self._definitions.clear()
        self.tasks.mode = None
        self.tasks.resolve_mode()
        if created:
            logger.info("hubspot: created %d propert(ies): %s", len(created), ", ".join(created))
        return created

    def _ensure_object(self, object_name: str, specs: Sequence[PropertySpec]) -> list[str]:
        groups = self.edge.call(
            f"properties.{object_name}.groups",
            lambda a: a.groups.get_all_with_http_info(object_name, _request_timeout=a.timeout),
        )
        if GROUP not in {g.name for g in groups.results or []}:
            try:
                body = PropertyGroupCreate(**group_body())
                self.edge.call(
                    f"properties.{object_name}.groups.create",
                    lambda a: a.groups.create_with_http_info(object_name, body, _request_timeout=a.timeout),
                )
            except Refused as exc:
                if exc.failure.status != 409:
                    raise ConfigError(
                        [f"hubspot: cannot create the {GROUP} property group on {object_name} ({exc.code})"],
                        source=SYSTEM,
                    ) from None
        have = {p.name: p for p in self._property_definitions(object_name, fresh=True)}
        created: list[str] = []
        for spec in specs:
            definition = have.get(spec.name)
            if definition is None:
                created += self._create_property(object_name, spec)
            else:
                self._reconcile(object_name, spec, definition)
        return created

    def _create_property(self, object_name: str, spec: PropertySpec) -> list[str]:
        body = PropertyCreate(**spec.create_body())
        try:
            self.edge.call(
                f"properties.{object_name}.create",
                lambda a: a.properties.create_with_http_info(object_name, body, _request_timeout=a.timeout),
            )
        except Refused as exc:
            if exc.failure.status == 409:
                return []  # made meanwhile by someone else
            if spec.unique and object_name == "tasks":
                # HubSpot documents unique properties for contacts, companies, deals, tickets and
                # custom objects only: keys then work by search (TaskIdempotency.SEARCH).
                logger.warning(
                    "hubspot: tasks refused a unique %s (%s); task keys fall back to search",
                    spec.name, exc.code,
                )  # fmt: skip
                return self._create_property(object_name, replace(spec, unique=False))
            raise ConfigError(
                [f"hubspot: cannot create property {spec.name} on {object_name} ({exc.code})"], source=SYSTEM
            ) from None
        return [spec.name]

    def _reconcile(self, object_name: str, spec: PropertySpec, definition: Any) -> None:
        if spec.unique and not definition.has_unique_value and object_name != "tasks":
            problem = (
                f"hubspot property {spec.name} on {object_name} exists but is not unique, and HubSpot "
                "cannot make an existing property unique: archive it or pick another id_property, rerun setup"
            )
            raise ConfigError([problem], source=SYSTEM)
        if spec.type != definition.type:
            logger.warning(
                "hubspot: %s.%s is a %s property, nurturehub expects %s",
                object_name, spec.name, definition.type, spec.type,
            )  # fmt: skip
            return
        new = missing_options(spec, definition)
        if spec.type != "enumeration" or not new:
            return
        options = existing_options(definition)
        options += [o for o in spec.option_inputs() if o["value"] in new]
        update = PropertyUpdate(options=options)
        self.edge.call(
            f"properties.{object_name}.update",
            lambda a: a.properties.update_with_http_info(object_name, spec.name, update, _request_timeout=a.timeout),
        )
        logger.info("hubspot: added %d option(s) to %s.%s", len(new), object_name, spec.name)

    def _property_definitions(self, object_name: str, *, fresh: bool = False) -> list[Any]:
        """The object's property definitions, reused for ``properties_ttl_s`` (``fresh`` reads
        them again: setup must see what is there now)."""
        now = self._monotonic()
        cached = self._definitions.get(object_name)
        if not fresh and cached is not None and now - cached[0] < self.settings.properties_ttl_s:
            return cached[1]
        # archived=false is the API's default, so it is not sent.
        data = self.edge.call(
            f"properties.{object_name}",
            lambda a: a.properties.get_all_with_http_info(object_name, _request_timeout=a.timeout),
        )
        definitions = list(data.results or [])
        self._definitions[object_name] = (now, definitions)
        return definitions

    # --- contacts -----------------------------------------------------------------------------

    def upsert(self, records: Sequence[RecordWrite]) -> list[WriteOutcome]:
        """Upsert contacts by the id property, 100 per call. When HubSpot refuses a batch because of
        one input, the batch is split until the bad inputs are isolated: they fail alone, with
        HubSpot's code and property; every other record is written."""
        outcomes: list[WriteOutcome | None] = [None] * len(records)
        calls = self.edge.calls
        for group in batches([r.external_id for r in records], self.max_batch):
            self._upsert_group(records, group, outcomes)
        done = settled(outcomes)
        logger.info(
            "hubspot upsert: %d record(s), %d call(s), %d created, %d refused",
            len(done), self.edge.calls - calls, sum(o.created for o in done), sum(not o.ok for o in done),
        )  # fmt: skip
        return done

    def _upsert_group(
        self, records: Sequence[RecordWrite], group: list[int], outcomes: list[WriteOutcome | None]
    ) -> None:
        idp = self.settings.id_property
        payload: dict[int, dict[str, str]] = {}
        notes: dict[int, tuple[str, ...]] = {}
        for i in group:
            values, notes[i] = fit({k: wire(v) for k, v in records[i].fields.items()})
            payload[i] = {**values, idp: records[i].external_id}

        def send(part: list[int]) -> dict[int, Any]:
            body = ContactsUpsert(
                inputs=[
                    {"idProperty": idp, "id": records[i].external_id, "properties": payload[i],
                     TRACE: records[i].external_id}
                    for i in part
                ]
            )  # fmt: skip
            data = self.edge.call(
                "contacts.batch.upsert",
                lambda a: a.contacts_batch.upsert_with_http_info(body, _request_timeout=a.timeout),
            )
            return match(part, {i: records[i].external_id for i in part}, data, idp, what="contacts.batch.upsert")

        sent, refused = isolate(group, send, lambda i, f: sets_any(payload[i], f))
        for i, result in sent.items():
            outcome = written(records[i].external_id, result)
            outcomes[i] = replace(outcome, notes=notes[i]) if outcome.ok and notes[i] else outcome
        for i, failure in refused.items():
            outcomes[i] = rejected(records[i].external_id, failure)

    def read_changes(self, since: datetime | None, fields: Sequence[str]) -> Iterator[Change]:
        """Contacts modified at or after ``since`` (every contact when None), oldest first, ties by id.

        Raises:
            ConfigError: a field in ``fields`` is not a contact property.
        """
        idp = self.settings.id_property
        self._require_fields(fields)
        properties = list(dict.fromkeys([*fields, idp, "lastmodifieddate"]))
        search = searcher(self.edge, "contacts", properties, "lastmodifieddate")
        for row in walk_modified(
            search, modified="lastmodifieddate", since_ms=epoch_ms(since) if since is not None else None
        ):
            values = row.item.properties or {}
            yield Change(
                crm_id=str(row.item.id),
                external_id=values.get(idp) or None,
                modified_at=from_ms(row.stamp),
                fields={name: values.get(name) for name in fields},
            )

    def existing(self, crm_ids: Sequence[str]) -> set[str]:
        """Which contact ids still exist (a batch read, 100 ids per call; merged-away ids are absent)."""
        wanted = [i for i in dict.fromkeys(str(c) for c in crm_ids) if i.isdigit()]
        found: set[str] = set()
        for start in range(0, len(wanted), self.max_batch):
            found |= self._read_contacts(wanted[start : start + self.max_batch])
        return found

    def link(self, links: Sequence[tuple[str, str]]) -> list[WriteOutcome]:
        """Set the id property on existing contacts by their HubSpot id (batch update, 100 a call)."""
        idp = self.settings.id_property
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(links), self.max_batch):
            part = links[start : start + self.max_batch]
            body = ContactsUpdate(inputs=[{"id": crm_id, "properties": {idp: ext}} for crm_id, ext in part])
            data = self.edge.call("contacts.batch.update", _update_contacts(body))
            done = {str(r.id) for r in data.results or []}
            outcomes += [
                WriteOutcome(key=ext, ok=True, crm_id=crm_id)
                if crm_id in done
                else WriteOutcome(key=ext, ok=False, code="OBJECT_NOT_FOUND", message="the contact does not exist")
                for crm_id, ext in part
            ]
        return outcomes

    def _read_contacts(self, ids: list[str]) -> set[str]:
        body = ContactsRead(inputs=[{"id": i} for i in ids], properties=["hs_object_id"])
        data = self.edge.call(
            "contacts.batch.read",
            lambda a: a.contacts_batch.read_with_http_info(body, _request_timeout=a.timeout),
        )
        asked = set(ids)
        return {str(r.id) for r in data.results or [] if str(r.id) in asked}

    def _require_fields(self, fields: Sequence[str]) -> None:
        known = {p.name for p in self._property_definitions(self.lead_object)}
        if not set(fields) <= known:  # made since the definitions were read?
            known = {p.name for p in self._property_definitions(self.lead_object, fresh=True)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ConfigError(
                [f"hubspot property {name} does not exist on {self.lead_object}" for name in unknown],
                source=SYSTEM,
            )

    # --- tasks --------------------------------------------------------------------------------

    def upsert_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteOutcome]:
        """Create or update tasks by key, 100 per call, each linked to its contact. A task staff
        completed is left alone (never reopened); a cancelled one becomes DEFERRED."""
        return self.tasks.upsert(tasks)

    def read_task_changes(self, since: datetime | None) -> Iterator[TaskChange]:
        """The hub's tasks modified at or after ``since`` (all when None), oldest first, with the
        contact each is linked to, its state and the outcome staff recorded."""
        return self.tasks.read_changes(since)


def _update_contacts(body: Any) -> Any:
    return lambda a: a.contacts_batch.update_with_http_info(body, _request_timeout=a.timeout)
