"""Salesforce, the CRM: the connector (``connector``) built from its concerns — every call
(``transport``), writes (``writes``), reads (``reads``), converted leads (``conversions``) and
owners (``owners``) — with the error table (``errors``), the settings (``settings``), SOQL and
wire values (``soql``) and the Task mapping (``tasks``)."""

from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings

__all__ = ["SalesforceConnector", "SalesforceSettings"]
