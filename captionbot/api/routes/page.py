"""The web page at `/` (plain HTML, CSS and JavaScript from `captionbot/api/static/`, no build step) and the
sample photos it offers."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from captionbot.api import messages
from captionbot.api.problems import ApiError, problem_responses
from captionbot.api.samples import MEDIA_TYPES, SAMPLE_TITLES, sample_paths
from captionbot.api.schemas import Sample

STATIC = Path(__file__).parents[1] / "static"
# The page loads only its own files; previews are blob: URLs; nothing may frame it.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter()


@router.get("/", summary="The web page", response_class=FileResponse, responses={200: {"content": {"text/html": {}}}})
async def page() -> FileResponse:
    """Caption an image in the browser: drop, paste or choose one, or pick a sample photo."""
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@router.get("/v1/samples", summary="Sample photos", response_model=list[Sample])
async def list_samples() -> list[Sample]:
    """The sample photos this server can send (those scikit-image ships, where it is installed)."""
    return [Sample(name=name, title=SAMPLE_TITLES[name], url=f"/v1/samples/{name}") for name in sample_paths()]


@router.get(
    "/v1/samples/{name}",
    summary="One sample photo",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, **problem_responses(404)},
)
async def sample(name: str) -> FileResponse:
    path = sample_paths().get(name)
    if path is None:
        raise ApiError("not_found", messages.NO_SUCH_SAMPLE.format(name=name))
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=86400"})
