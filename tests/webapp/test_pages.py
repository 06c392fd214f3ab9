"""The pages every site needs: a styled 404 for a person (JSON for webhook senders), a styled 500
that names a reference and leaks nothing, and a favicon."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from hub.app.bootstrap import Hub
from tests.webapp.admin_support import signed_in, text_of


def test_a_missing_page_is_a_page_in_the_layout_and_a_webhook_gets_json(app: Flask, hub: Hub) -> None:
    client = signed_in(app, hub, "coordinator")
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "<h1>Page not found</h1>" in page.text and "admin.css" in page.text
    hook = client.post("/webhooks/", data=b"{}", headers={"Accept": "application/json"})
    assert hook.status_code in (404, 405) and hook.is_json


def test_an_internal_error_is_a_styled_page_with_a_reference_and_no_detail(
    app: Flask, hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret detail Maria Okafor +15125550101")

    client = signed_in(app, hub, "coordinator")
    with caplog.at_level(logging.ERROR):
        page = client.get("/boom", headers={"Accept": "text/html"})
    assert page.status_code == 500
    text = text_of(page.text)
    assert "<h1>Something went wrong</h1>" in page.text and "reference" in text
    assert "Maria" not in page.text and "secret detail" not in page.text
    assert "Maria" not in caplog.text and "+15125550101" not in caplog.text


def test_the_favicon_is_served(client: object) -> None:
    response = client.get("/favicon.ico")  # type: ignore[attr-defined]
    try:
        assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"
    finally:
        response.close()
