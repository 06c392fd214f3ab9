"""Starting the local CRM and scheduling sandboxes for the demo and the CLI (``nurturehub sandbox``).

State lives under ``<instance>/sandbox/`` so the demo CRM survives restarts; the Salesforce
sandbox's TLS CA is kept there too, so a client configured once keeps trusting it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from connectors.sandbox.fhir import FhirSandbox
from connectors.sandbox.harness import Faults, SandboxServer
from connectors.sandbox.hubspot import HubSpotSandbox, serve_hubspot
from connectors.sandbox.salesforce import SalesforceSandbox, serve_salesforce

log = logging.getLogger(__name__)

__all__ = ["RunningSandboxes", "start_sandboxes"]


@dataclass(slots=True)
class RunningSandboxes:
    """Both sandboxes, running."""

    salesforce: SalesforceSandbox
    salesforce_server: SandboxServer
    salesforce_ca: Path
    hubspot: HubSpotSandbox
    hubspot_server: SandboxServer
    fhir: FhirSandbox
    fhir_server: SandboxServer

    def stop(self) -> None:
        for server in (self.salesforce_server, self.hubspot_server, self.fhir_server):
            server.stop()
        self.salesforce.close()
        self.hubspot.close()
        self.fhir.close()


def start_sandboxes(
    instance: Path | None,
    *,
    salesforce_port: int = 0,
    hubspot_port: int = 0,
    faults: Faults | None = None,
) -> RunningSandboxes:
    """Start both sandboxes on loopback; ``instance=None`` keeps their state in memory."""
    folder = instance / "sandbox" if instance is not None else None
    sf = SalesforceSandbox(
        state_path=folder / "salesforce.sqlite3" if folder else None,
        faults=faults or Faults(),
    )
    sf_server, ca = serve_salesforce(sf, port=salesforce_port, cert_dir=folder / "tls" if folder else None)
    hs = HubSpotSandbox(state_path=folder / "hubspot.sqlite3" if folder else None, faults=faults or Faults())
    hs_server = serve_hubspot(hs, port=hubspot_port).start()
    fhir = FhirSandbox(state_path=folder / "fhir.sqlite3" if folder else None)
    fhir_server = SandboxServer(fhir).start()
    log.info("sandboxes: salesforce %s, hubspot %s, fhir %s", sf_server.url, hs_server.url, fhir_server.url)
    return RunningSandboxes(sf, sf_server, ca, hs, hs_server, fhir, fhir_server)
