"""The Salesforce connector: the CRM protocol of ``connectors.base`` over Salesforce's REST API,
through simple-salesforce (the only module of the hub that imports it).

- leads upsert by the hub's external id through sObject Collections (200 records a call);
- changes are read with SOQL on ``SystemModstamp`` and paged through ``nextRecordsUrl``;
- follow-ups are Tasks upserted by ``Nurture_Task_Key__c``; a task staff completed is never touched;
  a task the connector has not written before is sent create-only first (its create-only
  ``TaskSubtype`` makes Salesforce refuse it if the key exists), so new tasks cost no lookup;
- a converted lead (``IsConverted``) is followed to its Contact and Account: reads and refused
  writes say where it went (:class:`~connectors.base.Conversion`), and nothing is written to it;
- text longer than a field's describe ``length`` is shortened (email, phone, URL: left out), with a
  note on the outcome, instead of failing the record;
- every call waits its turn in a :class:`~connectors.limits.TokenBucket`, and every failure is
  translated once, by the table in :mod:`connectors.salesforce.errors`, into the hub's error tree.

Logs carry object names, ids, counts and error codes; never field values, messages that may echo
them, or tokens. ``docs/connector-salesforce.md`` maps each method to its REST calls.

The parts, each a class the connector is composed of:

- ``transport``: the state, every call (token bucket, refresh, retries, usage, error translation);
- ``describe``: the objects' fields; ``owners``: queue, user and record-type lookups;
- ``conversions``: converted leads; ``reads``: changes and existence; ``writes``: upserts and tasks;
- this module: :class:`SalesforceConnector` and ``check``.

Example:
    settings = SalesforceSettings(task_owners={"Front Desk": "dana.whitfield@clinic.example"})
    crm = SalesforceConnector(settings, tokens)
    outcomes = crm.upsert([RecordWrite(external_id="nh_01", fields={"LastName": "…", "Company": "…"})])
"""

from __future__ import annotations

from urllib.parse import urlsplit

from connectors.base import ConnectionStatus
from connectors.salesforce.reads import SalesforceReads
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.transport import SalesforceTransport
from connectors.salesforce.writes import SalesforceWrites
from nurture.errors import ConfigError, HubError

__all__ = ["SalesforceConnector", "SalesforceSettings"]


class SalesforceConnector(SalesforceWrites, SalesforceReads, SalesforceTransport):
    """The CRM protocol over one Salesforce org.

    Args:
        settings: how the org is used.
        tokens: the access token and its refresh; ``instance_url`` comes from the token.
        session: the HTTP session (tests pass one that trusts the sandbox CA); by default one is
            made with ``settings.verify``.
        sleep, monotonic: how the connector waits and tells time (tests inject a virtual clock).
    """

    # --- the protocol -------------------------------------------------------------------------

    def check(self) -> ConnectionStatus:
        """Calls the API's version root (one API call) and reports the org's usage header."""
        try:
            self._call("check", lambda sf: sf.restful("", timeout=self.settings.timeout_s))
        except HubError as exc:
            return ConnectionStatus(ok=False, detail=_first_line(exc), api_used=self.api_used, api_limit=self.api_limit)
        what = self.lead_object
        if self.persons:
            try:
                self._person_record_type()
            except HubError as exc:
                return ConnectionStatus(
                    ok=False, detail=_first_line(exc), api_used=self.api_used, api_limit=self.api_limit
                )
            what = f"Person Accounts ({self.settings.person_record_type})"
        host = urlsplit(self._tokens.token().instance_url or "").netloc or "?"
        return ConnectionStatus(
            ok=True,
            detail=f"connected to Salesforce at {host} (API v{self.settings.api_version}, "
            f"{what} by {self.external_id_field})",
            api_used=self.api_used,
            api_limit=self.api_limit,
        )


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, ConfigError) and exc.problems:
        return f"{exc.source}: {exc.problems[0]}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
