"""Headless Chromium for the web page's tests (Debian's `chromium`, driven by Playwright's Python client): the
browser, a page with the key entered as a person would, and what the tests measure in it (boxes in the viewport,
overflow, axe-core's violations)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium package (apt-get install chromium)"
)
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# A phone as Chromium emulates one: touch, a coarse pointer, the mobile viewport.
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
IMAGE_FILE_LABEL = "Choose images (JPEG, PNG, WebP, GIF or BMP)"


@pytest.fixture(scope="module")
def browser():
    """One browser per test module: Playwright's sync API holds an event loop on this thread while it runs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Chromium's sandbox cannot start as root (CI containers).
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


def open_page(browser, url: str, key: str, **context_options):
    """The page at `url` with the key entered once, as a person would; the caller closes `page.context`."""
    from playwright.sync_api import expect

    options = {"permissions": ["clipboard-read", "clipboard-write"], "accept_downloads": True, **DESKTOP}
    context = browser.new_context(**{**options, **context_options})
    page = context.new_page()
    page.goto(f"{url}/")
    key_input = page.get_by_label("Your API key")
    expect(key_input).to_be_focused()
    key_input.fill(key)
    page.keyboard.press("Enter")
    expect(page.locator("#key-section")).to_be_hidden()
    return page


@pytest.fixture
def page(browser, api, api_key) -> Iterator:
    page = open_page(browser, api.url, api_key)
    yield page
    page.context.close()


def caption_button(page):
    return page.locator("#caption-button")


def choose_files(page, *files: dict) -> None:
    """Files as the file chooser gives them: {"name", "mimeType", "buffer"}."""
    page.get_by_label(IMAGE_FILE_LABEL).set_input_files(list(files))


def drop_files(page, files: dict[str, bytes], target: str = "#drop-zone") -> None:
    """A drop of several files, as the browser dispatches it."""
    page.evaluate(
        """([target, files]) => {
            const data = new DataTransfer();
            for (const [name, bytes] of files) data.items.add(new File([new Uint8Array(bytes)], name));
            document.querySelector(target).dispatchEvent(
                new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }""",
        [target, [[name, list(data)] for name, data in files.items()]],
    )


def box_in_viewport(page, selector: str) -> dict:
    """The element's box, asserted to lie wholly inside the viewport."""
    box = page.locator(selector).bounding_box()
    viewport = page.viewport_size
    assert box is not None, f"{selector} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, f"{selector} starts outside the viewport: {box}"
    assert box["x"] + box["width"] <= viewport["width"] + 0.5, f"{selector} ends right of the viewport: {box}"
    assert box["y"] + box["height"] <= viewport["height"] + 0.5, f"{selector} ends below the viewport: {box}"
    return box


def overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


OVERFLOWING = """() => {
    const out = [];
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth) {
        out.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${document.documentElement.clientWidth}`);
    }
    for (const panel of document.querySelectorAll(".panel, .actions")) {
        const outer = panel.getBoundingClientRect();
        if (outer.width === 0) continue;
        for (const element of panel.querySelectorAll("*")) {
            const box = element.getBoundingClientRect();
            if (box.width === 0 || box.height === 0) continue;
            if (box.left < outer.left - 0.5 || box.right > outer.right + 0.5) {
                const name = element.id ? "#" + element.id : element.tagName.toLowerCase() + "." + element.className;
                out.push(`${name} (${box.left}-${box.right}) outside ${panel.className} (${outer.left}-${outer.right})`);
            }
        }
    }
    return out;
}"""


def overflowing(page) -> list[str]:
    """What sticks out of its panel, or makes the page scroll sideways."""
    return page.evaluate(OVERFLOWING)


def axe_violations(page) -> str:
    """axe-core's report of the page as it is now; empty when it finds no violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return results.generate_report() if results.violations_count else ""
