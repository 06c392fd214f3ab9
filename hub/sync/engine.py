"""The sync engine: push, pull and reconcile for every connected CRM, one object per hub."""

from __future__ import annotations

from hub.sync.pull import Pull
from hub.sync.push import Push
from hub.sync.reconcile import Reconcile


class SyncEngine(Push, Pull, Reconcile):
    """Push and pull for every destination (the parts: :mod:`hub.sync.push`, :mod:`hub.sync.pull`,
    :mod:`hub.sync.tasks`, :mod:`hub.sync.outbox`, :mod:`hub.sync.reconcile`)."""
