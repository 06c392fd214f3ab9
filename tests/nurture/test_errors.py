"""One error tree: every public exception the hub's packages define derives from HubError (grouped by
what the caller must do), and those raised for bad values are still ValueErrors."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from mapping.errors import MappingError, PathSyntaxError, TransformError
from nurture.contact import InvalidContact
from nurture.errors import ConfigError, HubError, Refused, SkipRecord

PACKAGES = ("nurture", "mapping", "connectors", "hub", "jobs", "webapp")
#: Modules that start something when imported (the console script, the WSGI app).
ENTRY_POINTS = ("__main__", ".wsgi")
#: Exceptions that are not the hub's own kind of error, and why.
OUTSIDE = {
    "webapp.auth.CsrfError": "a werkzeug BadRequest: Flask answers it as a 400 page",
}


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".sandbox" in info.name or ".migrations" in info.name or info.name.endswith(ENTRY_POINTS):
                continue  # the sandboxes stand in for vendors; migrations and entry points do work when imported
            names.append(info.name)
    return names


def test_every_public_exception_is_in_the_tree() -> None:
    outside = []
    for name in _modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("_") or not inspect.isclass(value) or value.__module__ != name:
                continue
            foreign = issubclass(value, BaseException) and not issubclass(value, HubError)
            if foreign and f"{name}.{attr}" not in OUTSIDE:
                outside.append(f"{name}.{attr}")
    assert outside == []


@pytest.mark.parametrize(
    ("error", "branch"),
    [
        (MappingError(["sources[0]: bad path"]), ConfigError),
        (PathSyntaxError("a path must not be empty"), ConfigError),
        (TransformError("e164: not a phone number"), SkipRecord),
        (InvalidContact("phone: not a number"), SkipRecord),
    ],
)
def test_value_errors_keep_being_value_errors_in_their_branch(error: Exception, branch: type) -> None:
    assert isinstance(error, branch) and isinstance(error, ValueError)


def test_refusals_carry_their_code_and_field() -> None:
    from connectors.inbound.verify import WebhookRejected
    from hub.accounts.users import AccountError

    rejected = WebhookRejected("body_too_large", "the body is over 262144 bytes")
    assert isinstance(rejected, Refused) and (rejected.code, rejected.status) == ("body_too_large", 413)
    refused = AccountError("password", "at least 12 characters")
    assert isinstance(refused, Refused) and isinstance(refused, ValueError)
    assert (refused.code, refused.field, refused.message) == ("invalid_account", "password", "at least 12 characters")
