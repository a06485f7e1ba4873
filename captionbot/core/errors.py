"""Typed failures with a stable `code` and a one-sentence message a user can act on.

The codes are part of the job contract: bots, the CLI's `--json` output and scripts match on them.
"""

from typing import ClassVar

ACCEPTED_IMAGES = "JPEG, PNG, WebP, GIF or BMP"


def seconds_phrase(seconds: float) -> str:
    """A wait as a person says it, in whole seconds and at least one: "1 second", "12 seconds"."""
    whole = max(1, round(seconds))
    return "1 second" if whole == 1 else f"{whole} seconds"


class CaptionError(Exception):
    """A failure that reaches a user. `code` is stable; `message` is one sentence."""

    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Something went wrong on our side; please try again."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class ImageRejected(CaptionError):
    """The image cannot be captioned; subclasses say why."""

    code = "image_rejected"
    default_message = f"That file could not be read as an image; send a {ACCEPTED_IMAGES} file."


class ImageEmpty(ImageRejected):
    code = "image_empty"
    default_message = f"That file is empty; send a {ACCEPTED_IMAGES} file."


class ImageTooLarge(ImageRejected):
    code = "image_too_large"


class ImageTooManyPixels(ImageRejected):
    code = "image_too_many_pixels"


class ImageUnsupported(ImageRejected):
    code = "image_unsupported"


class ImageCorrupt(ImageRejected):
    code = "image_corrupt"
    default_message = (
        f"That image is damaged or cut short and could not be decoded; send a complete {ACCEPTED_IMAGES} file."
    )


class InvalidOptions(CaptionError):
    code = "invalid_options"
    default_message = "Those options are out of range."


class Busy(CaptionError):
    code = "busy"
    default_message = "The captioner is busy right now; please try again in a minute."


class RateLimited(CaptionError):
    code = "rate_limited"
    default_message = "You are sending images faster than the captioner allows; please wait a minute."


class ModelUnavailable(CaptionError):
    code = "model_unavailable"
    default_message = "That model is not loaded on the captioner; ask an admin to publish one."


class TimedOut(CaptionError):
    code = "timed_out"
    default_message = "No captioner answered in time; please try again shortly."


class Expired(CaptionError):
    """The job's deadline (when its sender stops waiting) passed before a worker could start it: never computed."""

    code = "expired"
    default_message = "The captioner could not get to that image before the wait ran out; please send it again."


class TooManyImages(ImageRejected):
    code = "too_many_images"
    default_message = "Only the first few images of a message are captioned; send the others in another message."


class ServiceUnavailable(CaptionError):
    code = "service_unavailable"
    default_message = "The caption service cannot be reached right now; please try again shortly."


class InvalidVersion(CaptionError):
    code = "invalid_version"
    default_message = "That is not a model version in the registry."


class UsageError(Exception):
    """A bad command line (flags, paths, a combination that cannot work): one line on stderr, exit status 2.

    Not a `CaptionError`: it never travels in a job result; `captionbot` and each module's `main(argv)` print it."""


_BY_CODE: dict[str, type[CaptionError]] = {}


def _register(cls: type[CaptionError]) -> None:
    _BY_CODE[cls.code] = cls
    for sub in cls.__subclasses__():
        _register(sub)


_register(CaptionError)


def error_from_dict(data: dict[str, str]) -> CaptionError:
    """Rebuild a typed error from its wire form; unknown codes keep their code and message."""
    cls = _BY_CODE.get(data.get("code", ""), CaptionError)
    error = cls(data.get("message"))
    if cls is CaptionError and data.get("code"):
        error.code = data["code"]  # type: ignore[misc]
    return error
