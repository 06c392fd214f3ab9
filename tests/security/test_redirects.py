"""After signing in, the app sends the browser only to a same-origin relative path, whatever the
``next`` parameter says (issue 18: ``/%09/evil.example`` answered ``Location: //evil.example``, and a
CR or LF gave a 500).

The payloads follow the classes of the usual open-redirect lists (PayloadsAllTheThings' "Open
Redirect" intruder lists, OWASP's Unvalidated Redirects cheat sheet): scheme-relative and absolute
URLs, extra slashes, backslashes, tabs and newlines that browsers drop, percent-encoded and
double-encoded forms, userinfo tricks, numeric hosts, ``javascript:``, and look-alike characters
that some parsers fold into a slash.
"""

from __future__ import annotations

from itertools import product
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.app.bootstrap import Hub
from tests.webapp.admin_support import add_account, sign_in, token_from
from webapp.auth import safe_next

HOSTS = ["evil.example", "trusted.example@evil.example", "0xd8.0x3a.0xd6.0xce", "3627734734", "[::ffff:216.58.214.206]"]
PREFIXES = [
    "//", "///", "////", "/\\", "\\\\", "\\/", "/%09/", "//%09/", "/%5c", "//%5c", "/%2f", "%2f%2f", "/%2f%2f",
    "https:", "https://", "https:///", "//https://", "/\t/", "/\r\n/", "\r\n//", " //", "/ /", "http:\\\\",
    "〱", "/〱", "ｰ", "/ｰ", "/%E3%80%B1", "%0d%0a//", "/%0d%0a/", "/%00/",
]  # fmt: skip
SUFFIXES = ["", "/%2f..", "/%2e%2e%2f", "//", "\\@trusted.example"]
EXTRA = [
    "javascript:alert(1)", "/javascript:alert(1)", "//javascript:alert(1)", "java%0d%0ascript%0d%0a:alert(0)",
    "ja\nva\tscript\r:alert(1)", "%68%74%74%70%3a%2f%2f%65%76%69%6c%2e%65%78%61%6d%70%6c%65", "data:text/html,x",
    "http://evil.example:80#@trusted.example/", "https://:@evil.example\\@trusted.example", "//evil%00.example",
    "//evil%E3%80%82example", "/%252F%252Fevil.example", "/\x7f/evil.example", "/\u202e//evil.example",
]  # fmt: skip
PAYLOADS = [p + h + s for p, h, s in product(PREFIXES, HOSTS, SUFFIXES)] + EXTRA


def same_origin(location: str) -> bool:
    parts = urlsplit(location)
    return (
        location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
        and not parts.scheme
        and not parts.netloc
        and location.isascii()
        and all(c.isprintable() and not c.isspace() for c in location)
    )


def test_the_payload_list_is_the_size_of_the_usual_lists() -> None:
    assert len(PAYLOADS) > 700


@pytest.mark.parametrize("target", ["/", "/leads?stage=open", "/leads/ld_01/edit#x", "/https://evil.example/"])
def test_same_origin_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


def test_no_payload_passes_the_check() -> None:
    passed = [p for p in PAYLOADS if safe_next(p) is not None and not same_origin(p)]
    assert passed == []


@pytest.fixture
def signed_in_client(app: Flask, hub: Hub) -> FlaskClient:
    add_account(hub, "ada", "admin")
    client = app.test_client()
    assert getattr(sign_in(client, "ada"), "status_code", None) == 303
    return client


def test_a_signed_in_visit_to_sign_in_never_leaves_the_site(signed_in_client: FlaskClient) -> None:
    bad: list[tuple[str, int, str]] = []
    for payload in PAYLOADS:
        # Sent as an attacker's link would carry it: the raw text, and percent-encoded once.
        for query in (payload, quote(payload, safe="")):
            response = signed_in_client.get("/sign-in?next=" + query.replace("&", "%26").replace("#", "%23"))
            location = response.headers.get("Location", "")
            if response.status_code != 302 or not same_origin(location):
                bad.append((payload, response.status_code, location))
    assert bad == []


def test_the_issue_examples(signed_in_client: FlaskClient) -> None:
    response = signed_in_client.get("/sign-in?next=/%09/evil.example")
    assert response.headers["Location"] == "/"
    for newline in ("%0d%0aSet-Cookie:x=1", "%0aLocation://evil.example", "/%0d"):
        response = signed_in_client.get(f"/sign-in?next={newline}")
        assert response.status_code == 302
        assert response.headers["Location"] == "/"


def test_a_posted_sign_in_never_leaves_the_site(app: Flask, hub: Hub) -> None:
    add_account(hub, "ada", "admin")
    bad = []
    for payload in PAYLOADS[::7] + EXTRA + ["/%09/evil.example", "/\t/evil.example", "/x\r\nSet-Cookie: a=b"]:
        client = app.test_client()
        csrf = token_from(client.get("/sign-in").text)
        response = client.post(
            "/sign-in", data={"username": "ada", "password": "correct horse battery staple", "csrf_token": csrf,
                              "next": payload},
        )  # fmt: skip
        if response.status_code != 303 or not same_origin(response.headers.get("Location", "")):
            bad.append((payload, response.status_code, response.headers.get("Location")))
    assert bad == []
