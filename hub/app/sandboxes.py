"""Starting the local CRM and scheduling sandboxes for the demo and the CLI (``nurturehub sandbox``).

State lives under ``<instance>/sandbox/`` so the demo CRM survives restarts; the Salesforce
sandbox's TLS CA is kept there too, so a client configured once keeps trusting it.

The sandboxes are a package of their own (``sandboxes/``, installed with the ``sandboxes`` extra):
the product imports nothing from it, this module only inside the functions that start them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandboxes.common import Faults, SandboxServer
    from sandboxes.fhir import FhirSandbox
    from sandboxes.hubspot import HubSpotSandbox
    from sandboxes.salesforce import SalesforceSandbox

log = logging.getLogger(__name__)

__all__ = ["INSTALL_HINT", "RunningSandboxes", "SandboxesNotInstalled", "sandbox_faults", "start_sandboxes"]

INSTALL_HINT = "pip install 'nurturehub[sandboxes]'"


class SandboxesNotInstalled(RuntimeError):
    """The ``sandboxes`` package or what it needs (the ``sandboxes`` extra) is not installed."""

    def __init__(self, missing: str) -> None:
        super().__init__(f"the local sandboxes are not installed (no module {missing!r}): {INSTALL_HINT}")


def _require_sandboxes() -> None:
    """Import the sandboxes, or raise :class:`SandboxesNotInstalled` naming the extra."""
    try:
        import sandboxes.common
        import sandboxes.fhir
        import sandboxes.hubspot
        import sandboxes.salesforce  # noqa: F401 - imported to learn whether it can be
    except ImportError as exc:
        missing = exc.name or "sandboxes"
        if missing == "trustme" or missing.split(".")[0] == "sandboxes":
            raise SandboxesNotInstalled(missing) from exc
        raise


def sandbox_faults(**settings: Any) -> Faults:
    """The sandboxes' fault injection (:class:`sandboxes.common.Faults`) with ``settings``."""
    _require_sandboxes()
    from sandboxes.common import Faults

    return Faults(**settings)


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
    _require_sandboxes()
    from sandboxes.common import Faults, SandboxServer
    from sandboxes.fhir import FhirSandbox
    from sandboxes.hubspot import HubSpotSandbox, serve_hubspot
    from sandboxes.salesforce import SalesforceSandbox, serve_salesforce

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
