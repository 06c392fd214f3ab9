"""HubSpot, the CRM: the connector (``connector``) and its parts — the SDK edge with rate limits,
retries and the error table (``edge``), batches (``batch``), "modified since" search (``search``),
the hub's properties (``schema``) and follow-up tasks (``tasks``)."""

from connectors.hubspot.connector import SYSTEM, HubSpotConnector, HubSpotSettings
from connectors.hubspot.tasks import TaskIdempotency

__all__ = ["SYSTEM", "HubSpotConnector", "HubSpotSettings", "TaskIdempotency"]
