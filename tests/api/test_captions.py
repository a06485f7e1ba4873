"""POST /v1/captions through `captionbot api`, a real socket, the real Redis and a real worker on tiny models."""

import pytest
import requests

from tests.api.conftest import MAX_IMAGE_BYTES, SVG, png, refusal
from tests.api.servers import bearer, post_image

PROBLEM = "application/problem+json"


def assert_problem(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["type"] == "about:blank"
    assert body["title"] and body["detail"].endswith(".")
    return body


def test_a_multipart_image_gets_the_contract_result(api, api_key):
    response = post_image(api.url, png(), api_key)
    assert response.status_code == 200, response.text
    body = response.json()
    (name,) = body["results"]
    assert name == "finetuned"
    result = body["results"]["finetuned"]
    assert result["version"] == "v1"
    assert len(result["captions"]) == 1 and result["captions"][0]
    assert result["ms"] > 0 and result["queue_ms"] >= 0
    assert body["worker"] and body["job_id"]


def test_a_raw_body_with_query_options(api, api_key):
    response = requests.post(
        f"{api.url}/v1/captions",
        params={"model": "pretrained", "beams": 1, "max_words": 10},
        data=png((0, 0, 200)),
        headers={**bearer(api_key), "Content-Type": "image/png"},
        timeout=90,
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"]["pretrained"]["version"] == "tiny-pretrained0"


def test_compare_answers_both_models_with_their_versions(api, api_key):
    response = post_image(api.url, png((10, 200, 10)), api_key, compare=True)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert {name: r["version"] for name, r in results.items()} == {"finetuned": "v1", "pretrained": "tiny-pretrained0"}


def test_variations_give_three_captions_within_max_words(api, api_key):
    response = post_image(api.url, png((200, 200, 0)), api_key, variations=True, max_words=12, temperature=1.5)
    assert response.status_code == 200, response.text
    captions = response.json()["results"]["finetuned"]["captions"]
    assert len(captions) == 3
    assert all(len(caption.split()) <= 12 for caption in captions)


def test_compare_with_variations_gives_three_captions_per_model(api, api_key):
    response = post_image(api.url, png(), api_key, compare="yes", variations="on")
    assert response.status_code == 200, response.text
    assert [len(r["captions"]) for r in response.json()["results"].values()] == [3, 3]


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"beams": 9}, "beams must be a whole number from 1 to 5; '9' is not."),
        ({"beams": 2.5}, "beams must be a whole number from 1 to 5; '2.5' is not."),
        ({"max_words": "abc"}, "max_words must be a whole number from 10 to 50; 'abc' is not."),
        ({"temperature": 2.5}, "temperature must be a number from 0.5 to 2.0; '2.5' is not."),
        ({"temperature": "nan"}, "temperature must be a number from 0.5 to 2.0; 'nan' is not."),
        ({"max_words": "9" * 40}, f"max_words must be a whole number from 10 to 50; '{'9' * 20}…' is not."),
        ({"model": "largest"}, "model must be finetuned or pretrained."),
        (
            {"model": "pretrained", "compare": True},
            "Send model or compare=true, not both: a compare captions with both models, so model would be ignored.",
        ),
        ({"variations": "maybe"}, "variations must be true or false."),
        ({"beam": 2}, "There is no option 'beam'; the options are model, compare, variations, max_words, beams and temperature."),
    ],
)
def test_bad_options_are_422_naming_the_option(api, api_key, fields, detail):
    body = assert_problem(post_image(api.url, png(), api_key, **fields), 422, "invalid_options")
    assert body["detail"] == detail


def test_bad_options_in_the_query_are_refused_too(api, api_key):
    response = requests.post(
        f"{api.url}/v1/captions", params={"beams": 0}, data=png(), headers=bearer(api_key), timeout=30
    )
    assert assert_problem(response, 422, "invalid_options")["detail"] == "beams must be a whole number from 1 to 5; '0' is not."


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        ({}, {"models": ["finetuned"], "mode": "single", "max_words": 20, "beams": 3, "temperatures": None, "ignored": {}}),
        (
            {"model": "pretrained", "beams": 1, "max_words": 12, "temperature": 1.5},
            {
                "models": ["pretrained"], "mode": "single", "max_words": 12, "beams": 1, "temperatures": None,
                "ignored": {"temperature": "only variations are sampled; beam search has no temperature"},
            },
        ),
        (
            {"compare": True, "beams": 5},
            {
                "models": ["finetuned", "pretrained"], "mode": "single", "max_words": 20, "beams": None,
                "temperatures": None,
                "ignored": {"beams": "a compare decodes each model with the beams it was made for, so both are judged fairly"},
            },
        ),
        (
            {"variations": True, "temperature": 1.5, "beams": 2},
            {
                "models": ["finetuned"], "mode": "variations", "max_words": 20, "beams": None,
                "temperatures": [1.05, 1.5, 1.95],
                "ignored": {"beams": "variations are sampled, not found by beam search"},
            },
        ),
    ],
    ids=["defaults", "single with a temperature", "compare with beams", "variations with beams"],
)
def test_the_answer_says_which_options_it_applied_and_which_it_ignored(api, api_key, fields, options):
    response = post_image(api.url, png((90, 90, 30)), api_key, **fields)
    assert response.status_code == 200, response.text
    assert response.json()["options"] == options
    assert sorted(response.json()["results"]) == options["models"]


def test_a_key_sent_without_bearer_is_told_how_to_send_it(api, api_key):
    response = requests.post(
        f"{api.url}/v1/captions", files={"image": ("a.png", png())}, headers={"Authorization": api_key}, timeout=30
    )
    body = assert_problem(response, 401, "api_key_invalid")
    assert body["detail"] == "The Authorization header must read `Bearer KEY`: the word Bearer, a space, then the key."


def test_a_json_body_is_told_to_send_the_image_itself(api, api_key):
    response = requests.post(f"{api.url}/v1/captions", json={"image": "aGVsbG8="}, headers=bearer(api_key), timeout=30)
    body = assert_problem(response, 415, "image_unsupported")
    assert body["detail"].startswith("This address takes an image, not JSON: send the image file itself")


def test_an_svg_is_refused_with_the_bots_sentence(api, api_key):
    body = assert_problem(post_image(api.url, SVG, api_key, name="drawing.svg"), 415, "image_unsupported")
    assert body["detail"] == refusal(SVG).message
    assert "SVG drawing" in body["detail"]


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "image_empty"),
        (png()[:60], 422, "image_corrupt"),
        (b"<html><body>hello</body></html>", 415, "image_unsupported"),
    ],
)
def test_other_refused_files_carry_cores_code_and_sentence(api, api_key, data, status, code):
    body = assert_problem(post_image(api.url, data, api_key), status, code)
    assert body["detail"] == refusal(data).message


def test_an_image_part_over_the_limit_is_413_with_its_size(api, api_key):
    data = png() + b"\0" * (MAX_IMAGE_BYTES + 10_000)
    body = assert_problem(post_image(api.url, data, api_key), 413, "image_too_large")
    assert body["detail"] == refusal(data).message
    assert "over the 2.0 MB limit" in body["detail"]


def test_too_many_pixels_is_413(api, api_key):
    data = png(size=(8000, 7000))
    body = assert_problem(post_image(api.url, data, api_key), 413, "image_too_many_pixels")
    assert body["detail"] == refusal(data).message


def test_a_request_without_the_image_field_is_422(api, api_key):
    response = requests.post(
        f"{api.url}/v1/captions", files={"picture": ("a.png", png())}, headers=bearer(api_key), timeout=30
    )
    body = assert_problem(response, 422, "image_missing")
    assert "field named `image`" in body["detail"]


def test_a_broken_multipart_body_is_400(api, api_key):
    response = requests.post(
        f"{api.url}/v1/captions",
        data=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--\r\n",
        headers={**bearer(api_key), "Content-Type": "multipart/form-data; boundary=x"},
        timeout=30,
    )
    assert_problem(response, 400, "invalid_request")


def test_unknown_paths_and_methods_are_problems_too(api):
    assert_problem(requests.get(f"{api.url}/v2/nothing", timeout=10), 404, "not_found")
    assert_problem(requests.get(f"{api.url}/v1/captions", timeout=10), 405, "method_not_allowed")


@pytest.mark.parametrize("fields", [{}, {"variations": True}], ids=["beam search", "variations"])
def test_the_longest_max_words_is_served_on_a_model_with_few_positions(api, api_key, fields):
    # The tiny test models have 64 decoder positions: 50 words' token budget (77) used to overrun them (500).
    response = post_image(api.url, png((40, 90, 160)), api_key, max_words=50, compare=True, **fields)
    assert response.status_code == 200, response.text
