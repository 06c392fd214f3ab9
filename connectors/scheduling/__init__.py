"""Scheduling systems: the protocol and the values that cross it (``base``, re-exported here), and
one module per system — an EHR's FHIR R4 API (``fhir``), Cal.com (``calcom``) and Calendly
(``calendly``, with its webhook events in ``calendly_events``)."""

from connectors.scheduling.base import (
    MAX_QUERY_SPAN,
    AvailabilityQuery,
    Booking,
    InMemoryScheduling,
    SchedulingConnector,
    Slot,
)

__all__ = ["MAX_QUERY_SPAN", "AvailabilityQuery", "Booking", "InMemoryScheduling", "SchedulingConnector", "Slot"]
