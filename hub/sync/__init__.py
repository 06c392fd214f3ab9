"""The two-way sync between the hub and each connected CRM.

**Push** drains the outbox per destination in batches (sObject Collections of 200, HubSpot batches
of 100): each item is *leased* (its next attempt moved a few minutes ahead, its attempt counted) in
a short transaction, the payload is built from the store as it is now, the connector writes it
idempotently (upsert by the hub's id; tasks by lead + step), and the outcomes are recorded in a
second short transaction. A crash anywhere leaves the item to come due again when its lease runs
out, and the retry is harmless because every external write is an upsert. No database lock is held
while a CRM is called, so webhooks keep being accepted.

**Pull** reads what changed in the CRM since the saved cursor, minus an overlap window (a record
committed late with an earlier stamp is not lost; records read twice change nothing, because only
values that differ from the hub's are changes — which is also how the hub's own writes are not read
back as new changes). Each change is mapped back with the CRM mapping's inbound rules, resolved
field by field with the rule's conflict policy, and committed through the same policy as every
other lead change. Opt-outs always win; consent *grants* never come in from a CRM (a grant needs
the wording the patient saw). Task completions become touches that advance the cadence.

**Reconcile** notices CRM records that were merged away or deleted and flags their leads.
"""

from hub.sync.engine import SyncEngine
from hub.sync.model import NEXT_ACTION_FIELD, REPAIR_STEP, Destination, Problem, PullReport, PushReport

__all__ = ["NEXT_ACTION_FIELD", "REPAIR_STEP", "Destination", "Problem", "PullReport", "PushReport", "SyncEngine"]
