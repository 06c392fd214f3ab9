"""The Salesforce sandbox: a local Salesforce REST API (v59.0) served over TLS.

One server class, :class:`SalesforceSandbox` (``server``), composed of mixins over one shared state
(``state``), a module per concern: ``auth`` (OAuth 2.0, tokens, session expiry), ``sobjects``
(single-record CRUD, upsert, lead conversion), ``collections`` (composite and sObject
Collections), ``query`` (the SOQL endpoint and its cursors; the parser is ``soql``), ``describe``
(the org's objects, fields, describe and metadata) and ``limits`` (the daily API budget, faults,
``Sforce-Limit-Info``). What is faithful and what is not: ``docs/sandbox-salesforce.md``.
"""

from sandboxes.salesforce.server import SalesforceSandbox, ensure_tls_files, serve_salesforce

__all__ = ["SalesforceSandbox", "ensure_tls_files", "serve_salesforce"]
