"""The browser fixtures (a headless Chromium, a served hub, a fresh page) for every browser test."""

from tests.browser.test_admin_ui import browser, page, serve  # noqa: F401 - pytest fixtures
