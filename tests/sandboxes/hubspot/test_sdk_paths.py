"""Every call the pinned hubspot-api-client makes for the APIs nurturehub uses must exist in HubSpot's
spec (so an SDK upgrade that drifts from the spec is caught), and the sandbox must route it."""

from __future__ import annotations

import re

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from sandboxes.hubspot import HubSpotSandbox
from tests.contracts.hubspot_spec import KNOWN_GAPS, covered, routed_operations, sdk_calls, spec_source
from tests.support import skip_or_fail

# SDK calls the sandbox does not serve (nurturehub does not use them); kept exact.
NOT_SERVED = frozenset(
    {
        ("POST", "/crm/v3/objects/contacts/merge"),
        ("POST", "/crm/v3/objects/contacts/gdpr-delete"),
        ("PATCH", "/crm/v3/properties/{}/groups/{}"),
        ("DELETE", "/crm/v3/properties/{}/groups/{}"),
        ("POST", "/crm/v4/associations/{}/{}/batch/labels/archive"),
    }
)


@pytest.mark.node
def test_every_sdk_call_we_use_is_in_hubspots_spec() -> None:
    source = spec_source()
    if source is None:
        skip_or_fail("needs node_modules (run npm ci): @opensdks/sdk-hubspot")
    operations = routed_operations(source)
    missing = {call for call in sdk_calls() if not covered(call, operations)}
    assert missing == KNOWN_GAPS[source.name]


def test_the_sandbox_routes_every_sdk_call_it_claims() -> None:
    sandbox = HubSpotSandbox()
    adapter = sandbox._url_map.bind("127.0.0.1")
    unrouted = set()
    for method, path in sdk_calls():
        concrete = re.sub(r"\{\}", "contacts", path, count=1).replace("{}", "123")
        try:
            adapter.match(concrete, method=method)
        except (NotFound, MethodNotAllowed):
            unrouted.add((method, path))
    sandbox.close()
    assert unrouted == NOT_SERVED
