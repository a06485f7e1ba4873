"""Failures as RFC 9457 problem details (`application/problem+json`): the HTTP status, the project's stable
`code` as an extension member and the user's sentence as `detail`. The codes and sentences are the core's, so
a program, the web page and the bots all say the same thing about the same file."""

import logging
import math
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from captionbot.api import messages
from captionbot.core.errors import CaptionError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "request_timeout": 408,  # answered by the server itself (deadline.py) when a request does not arrive in time
    "api_key_missing": 401,
    "api_key_invalid": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "image_too_large": 413,
    "image_too_many_pixels": 413,
    "image_unsupported": 415,
    "image_missing": 422,
    "image_empty": 422,
    "image_corrupt": 422,
    "image_rejected": 422,
    "invalid_options": 422,
    "rate_limited": 429,
    "too_many_uploads": 429,
    "busy": 429,
    "internal_error": 500,
    "model_unavailable": 503,
    "service_unavailable": 503,
    "registry_unavailable": 503,
    "timed_out": 504,
    "expired": 504,  # a job that outlived its sender's wait: the same answer as a timeout
}
BUSY_RETRY_S = 60  # "busy, try again in a minute"


class Problem(BaseModel):
    """RFC 9457 problem details with the project's `code` extension."""

    type: str = Field("about:blank", description="always about:blank: `code` names the problem")
    title: str = Field(description="the HTTP status phrase")
    status: int
    detail: str = Field(description="one sentence for the person who sent the request: what happened, what to do")
    code: str = Field(description="stable machine-readable reason, e.g. image_unsupported, rate_limited")


class ApiError(CaptionError):
    """A failure of the HTTP request itself (key, body, route), with its own code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]


def problem_response(code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    status = STATUS_BY_CODE.get(code, 500)
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, code=code)
    return JSONResponse(body.model_dump(), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def retry_after(code: str, rate_per_minute: int) -> dict[str, str]:
    """`Retry-After` for a 429: a minute when busy; when rate-limited, the time one request's token takes to
    refill, which is never shorter than the wait the sentence names."""
    if code == "busy":
        return {"Retry-After": str(BUSY_RETRY_S)}
    if code == "rate_limited":
        return {"Retry-After": str(math.ceil(60 / rate_per_minute))}
    return {}


def install_handlers(app: FastAPI, rate_per_minute: int) -> None:
    async def caption_error(request: Request, err: CaptionError) -> JSONResponse:
        headers = retry_after(err.code, rate_per_minute)
        if err.code.startswith("api_key"):
            error = ', error="invalid_token"' if err.code == "api_key_invalid" else ""
            headers["WWW-Authenticate"] = f'Bearer realm="captionbot"{error}'
        if STATUS_BY_CODE.get(err.code, 500) >= 500:
            log.warning("%s %s answered %s", request.method, request.url.path, err.code)
        return problem_response(err.code, err.message, headers)

    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        if err.status_code == 404:
            return problem_response("not_found", messages.NOT_FOUND)
        if err.status_code == 405:
            return problem_response("method_not_allowed", messages.METHOD_NOT_ALLOWED, err.headers)
        return problem_response("invalid_request", str(err.detail))

    async def client_gone(request: Request, err: ClientDisconnect) -> JSONResponse:
        log.info("%s %s: the client went away before sending the whole body", request.method, request.url.path)
        return problem_response("invalid_request", messages.CLIENT_GONE)

    async def unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem_response("internal_error", CaptionError.default_message)

    app.add_exception_handler(CaptionError, caption_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` for the problems an operation can answer."""
    codes_by_status: dict[int, list[str]] = {}
    for code, status in STATUS_BY_CODE.items():
        codes_by_status.setdefault(status, []).append(code)
    responses: dict[int | str, dict] = {}
    for status in statuses:
        entry: dict = {
            "description": f"{HTTPStatus(status).phrase}: code {', '.join(codes_by_status.get(status, []))}",
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 429:
            entry["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer challenge", "schema": {"type": "string"}}}
        responses[status] = entry
    return responses
