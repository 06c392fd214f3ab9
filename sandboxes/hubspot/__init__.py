"""The HubSpot sandbox: a local HubSpot CRM v3 portal that ``hubspot-api-client`` cannot tell from HubSpot.

:class:`HubSpotSandbox` (``server``) serves it; ``model`` holds the object and association types and
HubSpot's error shape, ``store`` the SQLite state and ``crm`` the CRM operations (objects, batch,
search, associations) behind the HTTP routes. What is faithful and what is not:
``docs/sandbox-hubspot.md``.
"""

from sandboxes.hubspot.server import HubSpotSandbox, RateLimits, serve_hubspot

__all__ = ["HubSpotSandbox", "RateLimits", "serve_hubspot"]
