"""HubSpot's own generated models as a second contract: with ``validate_responses`` every answer the
connector reads is deserialised into ``hubspot-api-client``'s models with client-side validation
(required fields, enums), so a sandbox (or a HubSpot) that renames or drops a required field fails
loudly — the mutation tests below prove it. Also: SDK failures become the connector's own errors,
per-record errors of a 207 are classified, owner paging cannot loop, and no default-valued query
parameter is sent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hubspot.crm.contacts import ApiClient as ContactsApiClient
from hubspot.crm.contacts import Configuration as ContactsConfiguration

from connectors.base import RecordWrite, TaskKind, TaskWrite
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.batch import match, rejected
from nurture.errors import FatalError
from sandboxes.common import SandboxServer
from sandboxes.hubspot import HubSpotSandbox
from tests.fixtures.hubspot_connector import FAST, MakeConnector

UPSERT = "/crm/v3/objects/contacts/batch/upsert"
Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


class Tamper:
    """A WSGI wrapper around the sandbox that rewrites the JSON answers of one path (a mutation of
    HubSpot's wire format) and records every query string it was asked."""

    def __init__(self, app: HubSpotSandbox) -> None:
        self.app = app
        self.rewrites: dict[str, Rewrite | str] = {}
        self.queries: list[tuple[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = str(environ.get("PATH_INFO", ""))
        self.queries.append((path, str(environ.get("QUERY_STRING", ""))))
        rewrite = self.rewrites.get(path)
        if rewrite is None:
            return self.app(environ, start_response)
        captured: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        body = b"".join(self.app(environ, keep))
        out = rewrite.encode() if isinstance(rewrite, str) else json.dumps(rewrite(json.loads(body))).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(out)))])
        return [out]


@pytest.fixture
def tamper(hubspot_sandbox: HubSpotSandbox) -> Tamper:
    return Tamper(hubspot_sandbox)


@pytest.fixture
def hubspot_server(tamper: Tamper) -> Iterator[SandboxServer]:
    """This module's portal is served through :class:`Tamper`."""
    with SandboxServer(tamper) as server:
        yield server


def lead(n: int) -> RecordWrite:
    return RecordWrite(external_id=f"nh_{n:06d}", fields={"lastname": f"L{n}"})


def rename_new(body: dict[str, Any]) -> dict[str, Any]:
    for result in body["results"]:
        result["isNew"] = result.pop("new")
    return body


def drop_id(body: dict[str, Any]) -> dict[str, Any]:
    for result in body["results"]:
        del result["id"]
    return body


@pytest.mark.parametrize(
    ("mutation", "field"), [(rename_new, "new"), (drop_id, "id")], ids=["renamed-new", "missing-id"]
)
def test_an_answer_missing_a_required_field_fails_the_contract(
    hubspot_connector: HubSpotConnector, tamper: Tamper, mutation: Rewrite, field: str
) -> None:
    assert hubspot_connector.settings.validate_responses  # the connector tests all run this way
    tamper.rewrites[UPSERT] = mutation
    with pytest.raises(FatalError, match=rf"contacts\.batch\.upsert: .*does not fit the SDK's model.*`{field}`"):
        hubspot_connector.upsert([lead(1), lead(2)])


def test_without_the_vendor_models_a_renamed_field_would_pass_unnoticed(
    make_hubspot: MakeConnector, tamper: Tamper
) -> None:
    lenient = make_hubspot(**FAST, validate_responses=False)
    lenient.ensure_schema()
    tamper.rewrites[UPSERT] = rename_new
    [outcome] = lenient.upsert([lead(1)])
    assert outcome.ok
    assert not outcome.created  # wrong: the contact was new — only the validated models catch this


@pytest.mark.parametrize(
    ("validate", "says"),
    [(True, "does not fit the SDK's model"), (False, "HubSpot answered 200 with a body the SDK could not read")],
)
def test_an_answer_that_is_not_json_is_the_connectors_own_error(
    make_hubspot: MakeConnector, tamper: Tamper, validate: bool, says: str
) -> None:
    connector = make_hubspot(**FAST, validate_responses=validate)
    connector.ensure_schema()
    tamper.rewrites[UPSERT] = "<html>gateway says hello</html>"
    with pytest.raises(FatalError, match=rf"contacts\.batch\.upsert: .*{says}"):
        connector.upsert([lead(1)])


def test_owner_paging_stops_when_the_server_repeats_its_cursor(
    make_hubspot: MakeConnector, tamper: Tamper, hubspot_sandbox: HubSpotSandbox
) -> None:
    def stuck(body: dict[str, Any]) -> dict[str, Any]:  # a static mock: always "more", same cursor
        body["paging"] = {"next": {"after": "500", "link": "https://api.hubapi.com/crm/v3/owners/?after=500"}}
        return body

    tamper.rewrites["/crm/v3/owners/"] = stuck
    connector = make_hubspot(**FAST)
    connector.ensure_schema()
    contact = str(connector.upsert([lead(1)])[0].crm_id)
    hubspot_sandbox.log.clear()
    task = TaskWrite(
        key="nh_000001:day0_call",
        lead_crm_id=contact,
        subject="Day 0 call — lead nh_000001",
        body="Call.",
        kind=TaskKind.CALL,
        due_at=datetime(2026, 12, 1, 16, 15, tzinfo=UTC),
        owner_queue="Front Desk",  # an owner given by email: the owners are paged once
    )
    [outcome] = connector.upsert_tasks([task])
    assert outcome.ok
    assert hubspot_sandbox.log.count("GET", "/crm/v3/owners/") == 2  # the first page, the repeat, stop


def test_no_default_valued_query_parameter_is_sent(hubspot_connector: HubSpotConnector, tamper: Tamper) -> None:
    hubspot_connector.describe("contacts")
    contacts = hubspot_connector.upsert([lead(1), lead(2)])
    hubspot_connector.existing([str(o.crm_id) for o in contacts])
    hubspot_connector.check()
    sent = [query for _, query in tamper.queries]
    assert not any("archived=false" in q.lower() for q in sent), sent


def standard_error(category: str, trace: str, code: str | None = None) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": "…",
        "context": {"objectWriteTraceId": [trace]},
        "errors": [{"message": "…", "code": code, "context": {"propertyName": ["firstname"]}}] if code else [],
        "links": {},
    }


def test_per_record_errors_of_a_207_are_classified_fix_the_data_or_retry_later() -> None:
    body = {
        "status": "COMPLETE",
        "results": [],
        "numErrors": 3,
        "errors": [
            standard_error("VALIDATION_ERROR", "nh_1", "INVALID_OPTION"),
            standard_error("RATE_LIMITS", "nh_2"),
            standard_error("CONFLICT", "nh_3"),
        ],
        "startedAt": "2026-12-01T16:00:00.000Z",
        "completedAt": "2026-12-01T16:00:00.100Z",
    }
    config = ContactsConfiguration()
    config.client_side_validation = True
    client = ContactsApiClient(config)
    response = type("Answer", (), {"data": json.dumps(body)})()
    data = client.deserialize(response, "BatchResponseSimplePublicUpsertObjectWithErrors")
    keys = {0: "nh_1", 1: "nh_2", 2: "nh_3"}
    found = match([0, 1, 2], keys, data, "nurturehub_id", what="contacts.batch.upsert")
    outcomes = [rejected(keys[i], found[i]) for i in range(3)]
    assert [(o.code, o.field, o.retriable) for o in outcomes] == [
        ("INVALID_OPTION", "firstname", False),  # fix the data
        ("RATE_LIMITS", None, True),  # HubSpot was busy: send it again later
        ("CONFLICT", None, False),
    ]
