"""An EHR's FHIR R4 API as a scheduling system: the connector (``connector``), its settings
(``settings``), SMART Backend Services tokens (``auth``), the error table (``errors``) and reading
FHIR resources into plain values (``resources``)."""

from connectors.scheduling.fhir.auth import SmartBackendTokens
from connectors.scheduling.fhir.connector import FhirScheduling
from connectors.scheduling.fhir.errors import RULES, Action, classify
from connectors.scheduling.fhir.settings import DEFAULT_SCOPES, STATUS, STRATEGIES, SYSTEM, FhirSettings

__all__ = [
    "DEFAULT_SCOPES",
    "RULES",
    "STATUS",
    "STRATEGIES",
    "SYSTEM",
    "Action",
    "FhirScheduling",
    "FhirSettings",
    "SmartBackendTokens",
    "classify",
]
