"""/docs and /redoc on a closed network: Chromium with every request outside the API refused renders both, each
from the scripts this server sends under its own Content-Security-Policy; the page links to them; the favicon."""

import io
import re

import requests
from PIL import Image

from tests.api.browser import needs_chromium


def offline_page(browser, api_url: str):
    """A page whose requests to anything but the API are refused; returns it and the list of refused URLs."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    refused: list[str] = []

    def only_the_api(route) -> None:
        if route.request.url.startswith(f"{api_url}/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_api)
    return context.new_page(), refused


@needs_chromium
def test_swagger_ui_renders_offline_from_the_pages_link_with_its_policy_kept(browser, api, artifacts):
    from playwright.sync_api import expect

    page, refused = offline_page(browser, api.url)
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
    try:
        page.goto(f"{api.url}/")
        page.get_by_role("link", name="API documentation").click()
        expect(page).to_have_url(f"{api.url}/docs")
        expect(page.locator(".opblock-summary-path", has_text=re.compile(r"^/v1/captions$"))).to_be_visible()
        page.locator(".opblock-summary-path", has_text=re.compile(r"^/v1/captions$")).click()
        expect(page.get_by_text("says what shaped the captions", exact=False)).to_be_visible()
        page.screenshot(path=artifacts / "docs-swagger.png")
        assert refused == [] and blocked == []
    finally:
        page.context.close()


@needs_chromium
def test_redoc_renders_offline(browser, api, artifacts):
    from playwright.sync_api import expect

    page, refused = offline_page(browser, api.url)
    try:
        page.goto(f"{api.url}/redoc")
        expect(page.get_by_role("heading", name="Caption an image")).to_be_visible()
        page.screenshot(path=artifacts / "docs-redoc.png")
        assert refused == []
    finally:
        page.context.close()


def test_the_docs_pages_keep_a_content_security_policy(api):
    for path in ("/docs", "/redoc"):
        response = requests.get(f"{api.url}{path}", timeout=10)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert all(url.startswith("/") for url in re.findall(r'(?:src|href|spec-url)="([^"]+)"', response.text))


def test_the_favicon_is_an_icon(api):
    response = requests.get(f"{api.url}/favicon.ico", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "image/x-icon"
    icon = Image.open(io.BytesIO(response.content))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
