"""The connector tests' sandbox: the shared one, plus switches for which objects accept unique
properties (``@pytest.mark.parametrize("hubspot_unique_objects", [("contacts",)])``) and for
multi-status answers (``hubspot_multi_status``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandboxes.common import Faults
from sandboxes.hubspot import HubSpotSandbox, RateLimits
from tests.fixtures.clock import ManualClock


@pytest.fixture
def hubspot_unique_objects() -> tuple[str, ...]:
    """Object types on which the portal accepts ``hasUniqueValue`` properties."""
    return ("contacts", "tasks")


@pytest.fixture
def hubspot_multi_status() -> bool:
    """Whether the portal answers batches with some bad inputs 207 (HubSpot's multi-status mode);
    ``@pytest.mark.parametrize("hubspot_multi_status", [False])`` for an all-or-nothing portal."""
    return True


@pytest.fixture
def hubspot_sandbox(
    hubspot_faults: Faults,
    hubspot_limits: RateLimits,
    hubspot_clock: ManualClock,
    hubspot_unique_objects: tuple[str, ...],
    hubspot_multi_status: bool,
) -> Iterator[HubSpotSandbox]:
    """A fresh in-memory portal on the manual clock."""
    sandbox = HubSpotSandbox(
        faults=hubspot_faults,
        limits=hubspot_limits,
        clock=hubspot_clock,
        unique_property_objects=hubspot_unique_objects,
        multi_status=hubspot_multi_status,
    )
    yield sandbox
    sandbox.close()
