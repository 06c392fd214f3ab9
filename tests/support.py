"""Helpers for tests that need a service (PostgreSQL, Node packages, Chromium)."""

from __future__ import annotations

import os

import pytest

#: Set by .ci/run: in CI a missing service is a failure, not a skip.
IN_CI = bool(os.environ.get("NURTUREHUB_CI"))


def skip_or_fail(reason: str) -> None:
    """Locally a missing service skips the test with its reason; in CI (NURTUREHUB_CI=1) it fails."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)
