"""The issue's 500s are 4xx with a message (issue 18): a mapping version too large for the store,
a page link that was tampered with. (The template editor's format specs: tests/templates.)"""

from __future__ import annotations

from flask import Flask

from hub.app.bootstrap import Hub
from tests.webapp.admin_support import signed_in, text_of


def test_a_mapping_version_too_large_for_the_store_is_not_found(app: Flask, hub: Hub) -> None:
    viewer = signed_in(app, hub, "viewer")
    response = viewer.get("/mappings/typeform_default/versions/99999999999999999999999.toml")
    assert response.status_code == 404
    assert "not found" in text_of(response.text).lower()  # the styled 404 page (issue 15), not a 500
    assert viewer.get("/templates/99999999999999999999999").status_code == 404


def test_a_page_link_that_was_tampered_with_is_refused_with_a_reason(app: Flask, hub: Hub) -> None:
    """The leads list pages by an opaque cursor (issue 15); one it did not make, or one whose time
    has no zone, is a 400 that says what to do, never a 500."""
    import base64

    viewer = signed_in(app, hub, "viewer")
    naive = base64.urlsafe_b64encode(b"2026-12-02T16:41:00|nh_x").decode().rstrip("=")
    for cursor in ("not-a-cursor", naive, "%FF%FE"):
        response = viewer.get(f"/leads?after={cursor}")
        assert response.status_code == 400
        assert "the page link is malformed" in text_of(response.text)
    aware = base64.urlsafe_b64encode(b"2026-12-02T16:41:00+00:00|nh_x").decode().rstrip("=")
    assert viewer.get(f"/leads?after={aware}").status_code == 200
