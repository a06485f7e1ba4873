"""The job contract: option ranges, wire form, typed errors."""

import json

import pytest
from pydantic import ValidationError

from captionbot.core import errors
from captionbot.core.jobs import Job, JobResult, Mode, Options, make_options


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [("max_words", (10, 50), (9, 51)), ("beams", (1, 5), (0, 6)), ("temperature", (0.5, 2.0), (0.49, 2.01))],
)
def test_option_ranges_are_enforced(name, good, bad):
    for value in good:
        assert getattr(make_options(**{name: value}), name) == value
    for value in bad:
        with pytest.raises(errors.InvalidOptions) as info:
            make_options(**{name: value})
        assert name.replace("_", "-") in info.value.message and "between" in info.value.message


def test_unset_options_take_defaults():
    assert make_options(beams=None) == Options()


def test_job_wire_form_is_json_with_base64_image():
    job = Job(image=b"\x00\xffbytes", models=("finetuned", "pretrained"), mode=Mode.variations)
    wire = json.loads(json.dumps(job.wire()))
    assert isinstance(wire["image"], str)
    assert Job.model_validate(wire).image == b"\x00\xffbytes"
    assert wire["models"] == ["finetuned", "pretrained"] and wire["mode"] == "variations"


@pytest.mark.parametrize("models", [(), ("finetuned", "finetuned"), ("other",)])
def test_model_names_are_checked(models):
    with pytest.raises(ValidationError):
        Job(image=b"x", models=models)


def test_image_must_be_base64_on_the_wire():
    with pytest.raises(ValidationError):
        Job.model_validate({"image": "not base64!!"})


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError):
        Job.model_validate({"image": "", "pickle": "yes"})


def test_every_error_code_is_stable_and_round_trips():
    codes = {
        errors.ImageEmpty: "image_empty",
        errors.ImageTooLarge: "image_too_large",
        errors.ImageTooManyPixels: "image_too_many_pixels",
        errors.ImageUnsupported: "image_unsupported",
        errors.ImageCorrupt: "image_corrupt",
        errors.Busy: "busy",
        errors.RateLimited: "rate_limited",
        errors.ModelUnavailable: "model_unavailable",
        errors.TimedOut: "timed_out",
        errors.ServiceUnavailable: "service_unavailable",
        errors.InvalidOptions: "invalid_options",
    }
    for cls, code in codes.items():
        error = cls()
        assert error.code == code
        assert error.message.endswith(".")
        again = errors.error_from_dict(error.to_dict())
        assert type(again) is cls and again.message == error.message


def test_result_with_error_raises_it():
    result = JobResult.failed("j1", errors.Busy())
    with pytest.raises(errors.Busy):
        result.raise_for_error()


@pytest.mark.parametrize("job_id", ["job\n2026-12-04 INFO forged line", "", "a" * 65, "../x", "a b"])
def test_a_job_id_is_a_plain_word_where_it_enters(job_id):
    """It is the Celery task id, a part of Redis keys and a word in log lines."""
    with pytest.raises(ValidationError):
        Job.model_validate({"job_id": job_id, "image": "aGk="})
    assert Job.model_validate({"job_id": "0f" * 16, "image": "aGk="}).job_id == "0f" * 16
