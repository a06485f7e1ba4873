"""The web page's layout, measured in Chromium on a desktop (1280×800) and a phone (390×844): the image, the
Caption button and the answer (or the refusal) on one screen; nothing wider than its panel down to 320 px; and
axe-core finds no violation in any state. Screenshots are kept as artifacts: look at them."""

import pytest

from tests.api.browser import (
    DESKTOP,
    PHONE,
    axe_violations,
    box_in_viewport,
    caption_button,
    choose_files,
    needs_chromium,
    open_page,
    overflowing,
    overlaps,
)
from tests.api.conftest import SVG, png

pytestmark = needs_chromium


@pytest.mark.parametrize("device", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_image_the_button_and_the_answer_share_one_screen(browser, api, api_key, artifacts, device):
    from playwright.sync_api import expect

    page = open_page(browser, api.url, api_key, **device)
    name = "desktop" if device is DESKTOP else "phone"
    try:
        box_in_viewport(page, "#caption-button")  # before any image: the action is in view
        assert ("Ctrl+V" in page.locator("#drop-zone").inner_text()) == (device is DESKTOP)  # a phone has no keys
        assert not axe_violations(page), axe_violations(page)
        page.screenshot(path=artifacts / f"page-{name}-start.png")
        page.get_by_role("button", name="Sample photo: A tabby cat").click()
        expect(page.locator("#preview-image")).to_be_visible()
        caption_button(page).click()
        expect(page.locator("#result")).to_be_focused()
        picture, button, answer = (box_in_viewport(page, s) for s in ("#preview-image", "#caption-button", "#result"))
        bar = page.locator(".actions").bounding_box()
        assert not overlaps(picture, bar) and not overlaps(answer, bar), (picture, answer, bar)
        assert overflowing(page) == []
        assert not axe_violations(page), axe_violations(page)
        page.screenshot(path=artifacts / f"page-{name}-captioned.png")

        choose_files(page, {"name": "drawing.svg", "mimeType": "image/svg+xml", "buffer": SVG})
        expect(page.locator("#refusal")).to_be_focused()
        refusal, frame = box_in_viewport(page, "#refusal"), box_in_viewport(page, ".frame")
        box_in_viewport(page, "#caption-button")
        assert not overlaps(refusal, page.locator(".actions").bounding_box())
        assert not axe_violations(page), axe_violations(page)
        page.screenshot(path=artifacts / f"page-{name}-refused.png")
        print(f"screenshots: {artifacts}/page-{name}-*.png; frame {frame}, refusal {refusal}")
    finally:
        page.context.close()


def test_nothing_overflows_its_panel_at_320_px(browser, api, api_key, artifacts):
    from playwright.sync_api import expect

    page = open_page(browser, api.url, api_key, viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True)
    try:
        assert overflowing(page) == []
        choose_files(page, {"name": "a-rather-long-file-name-without-spaces-0123456789.png", "mimeType": "image/png", "buffer": png()})
        page.get_by_label("Compare both, side by side").check()
        page.get_by_label("Three variations (sampled) instead of one caption").check()
        caption_button(page).click()
        expect(page.locator(".answer")).to_have_count(2)
        assert overflowing(page) == []
        page.screenshot(path=artifacts / "page-320-compare-variations.png", full_page=True)
    finally:
        page.context.close()
