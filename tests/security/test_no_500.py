"""The issue's 500s are 4xx with a message (issue 18): a mapping version too large for the store,
a page link whose time has no zone. (The template editor's format specs: tests/templates.)"""

from __future__ import annotations

from flask import Flask

from hub.bootstrap import Hub
from tests.webapp.admin_support import signed_in, text_of


def test_a_mapping_version_too_large_for_the_store_is_not_found(app: Flask, hub: Hub) -> None:
    viewer = signed_in(app, hub, "viewer")
    response = viewer.get("/mappings/typeform_default/versions/99999999999999999999999.toml")
    assert response.status_code == 404
    assert response.json == {"error": "not_found", "detail": "no such endpoint"}
    assert viewer.get("/templates/99999999999999999999999").status_code == 404


def test_a_page_link_without_a_time_zone_is_refused_with_a_reason(app: Flask, hub: Hub) -> None:
    viewer = signed_in(app, hub, "viewer")
    response = viewer.get("/leads?before=2026-12-02T16:41:00")
    assert response.status_code == 400
    assert "its time has no time zone" in text_of(response.text)
    assert viewer.get("/leads?before=2026-12-02T16:41:00%2B00:00").status_code == 200
