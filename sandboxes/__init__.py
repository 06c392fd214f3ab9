"""Local stand-ins for the CRMs and scheduling systems nurturehub talks to.

They speak the vendors' wire formats closely enough that the real client libraries cannot tell the
difference, keep their state in SQLite (a file for the demo, memory for tests) and can inject faults.
They exist for tests and the demo only; production configuration points the connectors at the
vendors' real endpoints, and the product imports nothing from here (``hub.app.sandboxes`` starts
them on request). Installed with the ``sandboxes`` extra (``pip install 'nurturehub[sandboxes]'``).

- ``common``: what every sandbox server shares (loopback WSGI server, faults, request log, SQLite
  state, TLS from a trustme CA);
- ``salesforce/``: Salesforce REST API v59.0 and OAuth (``docs/sandbox-salesforce.md``);
- ``hubspot/``: HubSpot CRM v3 and OAuth (``docs/sandbox-hubspot.md``);
- ``fhir/``: a FHIR R4 EHR's scheduling API; ``calcom``: Cal.com API v2; ``calendly``: Calendly's
  scheduled events (``docs/scheduling.md``).
"""
