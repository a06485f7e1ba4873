"""The web page in headless Chromium: a sample chosen with the keyboard, captioned and copied; the controls a
mode ignores disabled with why and left out of the request; files checked before they are called ready; several
files captioned as a batch, listed for the session and downloaded in the CLI's formats; the key asked plainly,
changed and forgotten; a notice when no worker is up; progress and cancel."""

import csv
import io
import json
import re
import uuid

from captionbot.commands.caption import csv_rows, json_line, text_lines
from captionbot.core.errors import ServiceUnavailable
from captionbot.core.jobs import JobResult
from tests.api.browser import (
    IMAGE_FILE_LABEL,
    axe_violations,
    caption_button,
    choose_files,
    drop_files,
    needs_chromium,
    open_page,
)
from tests.api.conftest import SVG, png, refusal
from tests.api.servers import serve

pytestmark = needs_chromium


def test_a_sample_is_captioned_by_keyboard_copied_and_listed(page):
    from playwright.sync_api import expect

    choose_files(page, {"name": "red.png", "mimeType": "image/png", "buffer": png()})
    expect(page.locator('.version[data-model="finetuned"]')).to_have_text("(v1)")
    sample = page.get_by_role("button", name="Sample photo: A tabby cat")
    sample.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#preview-name")).to_have_text("chelsea.png")
    expect(sample).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label(IMAGE_FILE_LABEL)).to_have_value("")  # the file box no longer names red.png
    caption_button(page).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Fine-tuned · v1")).to_be_visible()
    expect(page.locator("#result")).to_be_focused()
    text = page.locator(".caption-text").first.inner_text()
    assert text.strip()
    expect(page.locator("#preview-image")).to_have_attribute("alt", text)
    expect(page.locator("#applied")).to_have_text("Beam search with 3 beams, up to 20 words.")
    expect(page.locator(".timing").first).to_contain_text(re.compile(r"^\d+\.\d\d s compute, \d+\.\d\d s in queue$"))
    page.get_by_role("button", name="Copy Fine-tuned · v1, caption 1").click()
    expect(page.locator("#status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == text
    expect(page.locator("#history li")).to_have_count(1)
    expect(page.locator("#history li")).to_contain_text(f"chelsea.png: {text}")


def test_controls_a_mode_ignores_are_disabled_with_why_and_not_sent(page):
    from playwright.sync_api import expect

    beams, temperature = page.get_by_label("Beams"), page.get_by_label("Temperature")
    variations = page.get_by_label("Three variations (sampled) instead of one caption")
    expect(beams).to_be_enabled()
    expect(temperature).to_be_disabled()
    expect(page.locator("#temperature-help")).to_have_text("Not used: only variations are sampled; turn on Three variations.")
    page.get_by_label("Compare both, side by side").check()
    expect(beams).to_be_disabled()
    expect(page.locator("#beams-help")).to_have_text("Not used: a compare decodes each model with the beams it was made for.")
    variations.check()
    expect(beams).to_be_disabled()
    expect(page.locator("#beams-help")).to_have_text("Not used: variations are sampled, not found by beam search.")
    expect(temperature).to_be_enabled()
    temperature.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#temperature-value")).to_have_text("1.5")

    # The API's answer says what the request carried: an option it sent and the mode ignores would be named in
    # `ignored`, and `model` beside `compare` would be refused.
    choose_files(page, {"name": "red.png", "mimeType": "image/png", "buffer": png()})
    with page.expect_response("**/v1/captions") as answered:
        caption_button(page).click()
    assert answered.value.json()["options"] == {
        "models": ["finetuned", "pretrained"], "mode": "variations", "max_words": 20, "beams": None,
        "temperatures": [1.05, 1.5, 1.95], "ignored": {},
    }
    expect(page.locator("#result-title")).to_have_text("Fine-tuned and pretrained, side by side")
    expect(page.locator(".answer h3")).to_have_text(["Fine-tuned · v1", "Pretrained · tiny-pretrained0"])
    for answer in page.locator(".answer").all():
        expect(answer.locator(".variation")).to_have_text(
            ["1 · temperature 1.05", "2 · temperature 1.5", "3 · temperature 1.95"]
        )
    expect(page.locator("#applied")).to_have_text("Sampled at temperatures 1.05, 1.5, 1.95, up to 20 words.")
    assert not axe_violations(page), axe_violations(page)
    page.get_by_role("button", name="Copy all", exact=True).click()
    copied = page.evaluate("navigator.clipboard.readText()").split("\n")
    assert len(copied) == 6 and copied[0].startswith("Fine-tuned · v1: ") and copied[3].startswith("Pretrained · ")

    variations.uncheck()
    page.get_by_label("Pretrained (tiny-pretrained0)").check()
    expect(beams).to_be_enabled()
    expect(temperature).to_be_disabled()
    with page.expect_response("**/v1/captions") as answered:
        caption_button(page).click()
    assert answered.value.json()["options"] == {
        "models": ["pretrained"], "mode": "single", "max_words": 20, "beams": 3, "temperatures": None, "ignored": {},
    }


def test_a_file_that_is_not_an_image_is_refused_before_anything_is_sent(page):
    from playwright.sync_api import expect

    sent = []
    page.on("request", lambda request: sent.append(request.url) if "/v1/captions" in request.url else None)
    files = {
        "notes.png": b"Shopping: eggs, milk, bread\n",
        "drawing.svg": SVG,
        "page.png": b"<!DOCTYPE html><html><body>hello</body></html>",
        "cut.png": png()[:60],
        "empty.png": b"",
    }
    for name, data in files.items():
        choose_files(page, {"name": name, "mimeType": "image/png", "buffer": data})
        expect(page.locator("#refusal")).to_have_text(refusal(data).message)
        expect(page.locator("#refusal")).to_be_focused()
        expect(page.locator("#preview-image")).to_be_hidden()  # no broken-image icon
        expect(page.locator("#status")).not_to_contain_text("ready")
    caption_button(page).click()
    expect(page.locator("#refusal")).to_have_text("Choose, drop or paste an image first.")
    assert sent == []


def test_several_files_are_a_batch_listed_for_the_session_and_downloaded_in_the_clis_formats(page):
    from playwright.sync_api import expect

    answers = []
    page.on("response", lambda response: answers.append(response) if response.url.endswith("/v1/captions") else None)
    files = {"red.png": png((200, 0, 0)), "notes.png": b"not an image\n", "green.png": png((0, 200, 0)), "blue.png": png((0, 0, 200))}
    drop_files(page, files)
    expect(caption_button(page)).to_have_text("Caption 3 images")
    expect(page.locator("#refusal")).to_contain_text(f"notes.png ({refusal(files['notes.png']).message})")
    caption_button(page).click()
    expect(page.locator("#status")).to_have_text("Captioned 3 images; 1 refused (see the list below).")
    expect(page.locator("#history li")).to_have_count(4)
    expect(page.locator("#history li strong")).to_have_text(["blue.png", "green.png", "red.png", "notes.png"])

    # What the CLI would write for the same answers: `captionbot caption --json` and `--csv`.
    refused = JobResult(job_id="", error=refusal(files["notes.png"]).to_dict())
    results = [("notes.png", refused)] + [
        (name, JobResult(job_id=answer.json()["job_id"], results=answer.json()["results"]))
        for name, answer in zip(["red.png", "green.png", "blue.png"], answers, strict=True)
    ]
    with page.expect_download() as jsonl:
        page.get_by_role("button", name="Download JSON Lines").click()
    assert jsonl.value.suggested_filename == "captions.jsonl"
    lines = open(jsonl.value.path(), encoding="utf-8").read().splitlines()
    assert [json.loads(line) for line in lines] == [json_line(name, result) for name, result in results]
    with page.expect_download() as table:
        page.get_by_role("button", name="Download CSV").click()
    expected = io.StringIO()
    writer = csv.writer(expected)
    writer.writerow(["image", "model", "version", "caption", "ms", "error_code", "error_message"])
    for name, result in results:
        writer.writerows(csv_rows(name, result))
    assert open(table.value.path(), encoding="utf-8", newline="").read() == expected.getvalue()
    assert not axe_violations(page), axe_violations(page)  # the list of the session, the batch's refusal
    page.get_by_role("button", name="Copy the session").click()
    assert page.evaluate("navigator.clipboard.readText()") == "\n".join(text_lines(n, r) for n, r in results)

    page.locator("#history").get_by_role("button", name=re.compile("^red.png")).click()
    expect(page.locator("#preview-name")).to_have_text("red.png")
    expect(page.locator(".caption-text")).to_have_text(answers[0].json()["results"]["finetuned"]["captions"])
    page.reload()  # the tab keeps its session
    expect(page.locator("#history li")).to_have_count(4)


def test_the_key_is_asked_plainly_then_the_chooser_has_focus_and_the_key_can_be_changed_or_forgotten(browser, api, api_key):
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{api.url}/")
        expect(page.locator("#key-section")).to_be_visible()
        expect(page.locator("#key-error")).to_be_hidden()  # a first visit is not an error
        assert not axe_violations(page), axe_violations(page)
        page.get_by_label("Your API key").fill(api_key)
        page.keyboard.press("Enter")
        expect(page.get_by_label(IMAGE_FILE_LABEL)).to_be_focused()
        expect(page.locator("#key-tail")).to_have_text(f"ending …{api_key[-4:]}")

        page.get_by_role("button", name="Change key").click()
        expect(page.get_by_label("Your API key")).to_be_focused()
        page.get_by_role("button", name="Keep the current key").click()
        expect(page.locator("#key-section")).to_be_hidden()
        expect(page.get_by_role("button", name="Change key")).to_be_focused()

        page.get_by_role("button", name="Forget key").click()
        expect(page.get_by_label("Your API key")).to_be_focused()
        expect(page.locator("#key-error")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('captionbot-api-key')") is None
        expect(page.locator("#key-state")).to_be_hidden()
    finally:
        context.close()


def test_a_wrong_key_is_asked_for_again_with_the_apis_sentence(browser, api):
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{api.url}/")
        page.get_by_label("Your API key").fill("cbk_not-a-real-key")
        page.get_by_role("button", name="Use this key").click()
        expect(page.locator("#key-error")).to_have_text(
            "That API key is not valid (mistyped or revoked); ask the operator for a new one."
        )
        expect(page.get_by_label("Your API key")).to_be_focused()
    finally:
        context.close()


def test_an_image_dropped_or_pasted_is_chosen_and_the_key_is_kept_for_the_tab(page):
    from playwright.sync_api import expect

    drop_files(page, {"dropped.png": png((0, 120, 60))}, target="body")  # a drop anywhere on the page
    expect(page.locator("#preview-name")).to_have_text("dropped.png")
    page.evaluate(
        """(bytes) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
            document.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        list(png((0, 60, 120))),
    )
    expect(page.locator("#preview-name")).to_have_text("pasted.png")
    caption_button(page).click()
    expect(page.get_by_role("heading", name="Fine-tuned · v1")).to_be_visible()
    page.reload()
    expect(page.locator('.version[data-model="finetuned"]')).to_have_text("(v1)")
    expect(page.locator("#key-section")).to_be_hidden()


def test_with_no_worker_the_page_says_so_before_anyone_presses_caption(browser, api_settings, api_key):
    from playwright.sync_api import expect

    settings = api_settings.model_copy(update={"queue_name": f"nobody-{uuid.uuid4().hex[:8]}"})
    with serve(settings) as url:
        page = open_page(browser, url, api_key)
        try:
            expect(page.locator("#worker-notice")).to_contain_text("No captioner is running right now")
            choose_files(page, {"name": "red.png", "mimeType": "image/png", "buffer": png()})
            caption_button(page).click()
            expect(page.locator("#refusal")).to_have_text(ServiceUnavailable().message)
        finally:
            page.context.close()


def test_a_caption_in_progress_shows_progress_and_can_be_cancelled(page, stopped_worker):
    from playwright.sync_api import expect

    choose_files(page, {"name": "red.png", "mimeType": "image/png", "buffer": png()})
    caption_button(page).click()
    expect(page.locator("#progress")).to_be_visible()
    expect(caption_button(page)).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#status")).to_have_text("Captioning red.png…")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#status")).to_have_text("Cancelled; nothing more is sent.")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#history li")).to_have_count(0)


def test_on_a_trusted_network_no_key_is_asked_for(browser, api_settings, worker):
    from playwright.sync_api import expect

    with serve(api_settings.model_copy(update={"api_open_on_trusted_network": True})) as url:
        context = browser.new_context()
        page = context.new_page()
        try:
            page.goto(f"{url}/")
            expect(page.locator('.version[data-model="finetuned"]')).to_have_text("(v1)")
            expect(page.locator("#key-section")).to_be_hidden()
            expect(page.locator("#key-state")).to_be_hidden()
        finally:
            context.close()
