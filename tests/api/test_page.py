"""The web page in headless Chromium (Debian's `chromium`, driven by Playwright's Python client): the key asked
once, a sample chosen with the keyboard and captioned, the caption copied and used as the preview's alt text,
compare and variations, drag-and-drop and paste, and a refused SVG showing the bots' sentence. Screenshots are
kept as artifacts."""

import os
import re
import shutil
from pathlib import Path

import pytest

from captionbot.core.errors import ImageUnsupported
from captionbot.core.images import inspect_image
from tests.api.conftest import SVG, png

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium package (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Chromium's sandbox cannot start as root (CI containers).
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, api, api_key):
    """The page with the key entered once, as a person would."""
    from playwright.sync_api import expect

    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"], viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{api.url}/")
    key_input = page.get_by_label("Your API key")
    expect(key_input).to_be_focused()
    key_input.fill(api_key)
    page.keyboard.press("Enter")
    expect(page.locator("#key-section")).to_be_hidden()
    yield page
    context.close()


def svg_sentence() -> str:
    with pytest.raises(ImageUnsupported) as refused:
        inspect_image(SVG, 1 << 20, 10**7)
    return refused.value.message


def caption_button(page):
    return page.get_by_role("button", name="Caption", exact=True)


def test_a_sample_is_captioned_copied_and_an_svg_refused(page, artifacts, tmp_path):
    from playwright.sync_api import expect

    expect(page.locator('.version[data-model="finetuned"]')).to_have_text("(v1)")
    sample = page.get_by_role("button", name="Sample photo: A tabby cat")
    sample.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#preview-name")).to_have_text("chelsea.png")
    expect(sample).to_have_attribute("aria-pressed", "true")
    caption_button(page).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Fine-tuned · v1")).to_be_visible()
    expect(page.locator("#result")).to_be_focused()
    caption = page.locator(".caption-text").first
    text = caption.inner_text()
    assert text.strip()
    expect(page.locator("#preview-image")).to_have_attribute("alt", text)
    expect(page.locator(".timing").first).to_contain_text(re.compile(r"^\d+\.\d\d s compute, \d+\.\d\d s in queue$"))
    page.get_by_role("button", name="Copy Fine-tuned · v1, caption 1").click()
    expect(page.locator("#status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == text
    captioned = artifacts / "page-captioned.png"
    page.screenshot(path=captioned, full_page=True)

    drawing = tmp_path / "drawing.svg"
    drawing.write_bytes(SVG)
    page.get_by_label("Image file (JPEG, PNG, WebP, GIF or BMP)").set_input_files(drawing)
    caption_button(page).click()
    expect(page.locator("#error")).to_have_text(svg_sentence())
    expect(page.locator("#result")).to_be_hidden()  # the cat's caption is not left beside the drawing
    refused = artifacts / "page-refused-svg.png"
    page.screenshot(path=refused, full_page=True)
    print(f"screenshots: {captioned} {refused}")


def test_compare_with_variations_and_the_settings_by_keyboard(page):
    from playwright.sync_api import expect

    page.get_by_label("Image file (JPEG, PNG, WebP, GIF or BMP)").set_input_files(
        {"name": "red.png", "mimeType": "image/png", "buffer": png()}
    )
    page.get_by_label("Compare both, side by side").check()
    page.get_by_label("Three variations (sampled) instead of one caption").check()
    page.get_by_label("Maximum words").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#max-words-value")).to_have_text("19")
    caption_button(page).click()
    expect(page.get_by_role("heading", name="Pretrained and fine-tuned, side by side")).to_be_visible()
    expect(page.get_by_role("heading", name="Pretrained · tiny-pretrained0")).to_be_visible()
    for answer in page.locator(".answer").all():
        expect(answer.locator(".caption-text")).to_have_count(3)
        assert all(len(text.split()) <= 19 for text in answer.locator(".caption-text").all_inner_texts())


def test_an_image_dropped_or_pasted_is_chosen_and_the_key_is_kept_for_the_tab(page):
    from playwright.sync_api import expect

    files = {"dropped.png": "drop", "pasted.png": "paste"}
    for name, how in files.items():
        page.evaluate(
            """async ([name, how, bytes]) => {
                const data = new DataTransfer();
                data.items.add(new File([new Uint8Array(bytes)], name, { type: "image/png" }));
                const target = how === "drop" ? document.getElementById("drop-zone") : document;
                const event = how === "drop"
                    ? new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true })
                    : new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
                target.dispatchEvent(event);
            }""",
            [name, how, list(png((0, 120, 60)))],
        )
        expect(page.locator("#preview-name")).to_have_text(name)
    caption_button(page).click()
    expect(page.get_by_role("heading", name="Fine-tuned · v1")).to_be_visible()
    page.reload()
    expect(page.locator('.version[data-model="finetuned"]')).to_have_text("(v1)")
    expect(page.locator("#key-section")).to_be_hidden()


def test_a_wrong_key_is_asked_for_again_with_the_apis_sentence(browser, api):
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{api.url}/")
    page.get_by_label("Your API key").fill("cbk_not-a-real-key")
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#key-error")).to_have_text(
        "That API key is not valid (mistyped or revoked); ask the operator for a new one."
    )
    expect(page.get_by_label("Your API key")).to_be_focused()
    context.close()
