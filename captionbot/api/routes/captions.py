"""POST /v1/captions: an image and the job's options in, the job contract's result out."""

from fastapi import APIRouter, Request

from captionbot.api import messages
from captionbot.api.limits import Uploader
from captionbot.api.options import job_choice
from captionbot.api.problems import ApiError, problem_responses
from captionbot.api.schemas import CaptionResponse, captions_openapi
from captionbot.api.upload import read_upload
from captionbot.bot.service import CaptionRequest
from captionbot.core.settings import Settings


def router(settings: Settings) -> APIRouter:
    routes = APIRouter()

    @routes.post(
        "/v1/captions",
        summary="Caption an image",
        response_model=CaptionResponse,
        responses=problem_responses(400, 401, 408, 413, 415, 422, 429, 500, 503, 504),
        openapi_extra=captions_openapi(settings.max_image_bytes),
    )
    async def create_caption(request: Request, caller: Uploader) -> CaptionResponse:
        """One caption with beam search, three `variations`, or both models side by side with `compare`.

        The file is refused with a sentence that says why (size, pixels, format, damage), the same sentence the
        chat bots give; busy and rate-limited requests get 429 with `Retry-After`. The answer's `options` says what
        shaped the captions and names every option sent that the mode does not use."""
        state = request.app.state
        refuse_json(request)
        upload = await read_upload(request, state.settings.max_image_bytes)
        choice = job_choice({**request.query_params, **upload.fields})
        await state.workers.require_worker()
        # No user_id: the caller's rate-limit token was taken before the body was read (`Uploader`).
        job = CaptionRequest(image=upload.image, models=choice.models, mode=choice.mode, options=choice.options)
        result = (await state.service.caption(job)).raise_for_error()
        return CaptionResponse(job_id=result.job_id, results=result.results, worker=result.worker, options=choice.applied())

    return routes


def refuse_json(request: Request) -> None:
    """A JSON body is a program that expects a JSON API: tell it how to send the image instead of "not an image"."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        raise ApiError("image_unsupported", messages.JSON_BODY)
