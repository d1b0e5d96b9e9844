"""The API docs in headless Chromium, with every other host unreachable: Swagger UI and Redoc render the
operations from the vendored files, under the CSP, without a violation (the `page` fixture checks)."""

import pytest


@pytest.mark.user(None)
def test_swagger_ui_renders_the_operations_offline(page):
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 30
    assert page.get_by_text("/api/v1/lookup", exact=True).first.is_visible()
    page.locator(".opblock-summary", has_text="/api/v1/healthz").first.click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    page.locator(".live-responses-table .response-col_status", has_text="200").wait_for()


@pytest.mark.user(None)
def test_redoc_renders_the_operations_offline(page):
    page.goto("/redoc")
    page.locator("h2", has_text="Lookup").first.wait_for()
    assert page.locator("[data-section-id^='operation/']").count() > 30
    # Redoc's sidebar footer names a logo on cdn.redoc.ly: the CSP refuses it before any request leaves
    # (api/static/vendor/README.md); it is the one violation expected here.
    expected = [text for text in page.csp_violations if "cdn.redoc.ly/redoc/logo-mini.svg" in text]
    for text in expected:
        page.csp_violations.remove(text)
