"""The request body, read with a cap: refused from `Content-Length` before a byte is read, and stopped as soon
as a body without one (chunked) passes the cap, so a 20 MB upload is never read whole. A multipart body is
parsed as it streams (file parts spool to disk past 1 MB); any other body is the image itself."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from captionbot.api import messages
from captionbot.api.problems import ApiError
from captionbot.core.errors import ImageTooLarge
from captionbot.core.images import check_size

IMAGE_FIELD = "image"
# Room around the image in a multipart body: boundaries, part headers and the option fields.
MULTIPART_ALLOWANCE = 64 * 1024
MAX_FIELD_BYTES = 1024
MAX_FIELDS = 16


@dataclass(frozen=True)
class Upload:
    image: bytes
    fields: dict[str, str]  # the multipart body's option fields


async def read_upload(request: Request, max_image_bytes: int) -> Upload:
    multipart = request.headers.get("content-type", "").lower().startswith("multipart/form-data")
    cap = max_image_bytes + (MULTIPART_ALLOWANCE if multipart else 0)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        check_size(int(declared), max_image_bytes)
    body = _capped(request.stream(), cap, max_image_bytes)
    if multipart:
        return await _multipart(request, body)
    image = b"".join([chunk async for chunk in body])
    if not image:
        raise ApiError("image_missing", messages.IMAGE_MISSING)
    return Upload(image=image, fields={})


async def _capped(stream: AsyncIterator[bytes], cap: int, max_image_bytes: int) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > cap:
            raise ImageTooLarge(messages.too_large_unmeasured(max_image_bytes))
        yield chunk


async def _multipart(request: Request, body: AsyncIterator[bytes]) -> Upload:
    parser = MultiPartParser(
        request.headers, body, max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise ApiError("invalid_request", messages.BAD_MULTIPART.format(reason=err.message)) from err
    try:
        image = form.get(IMAGE_FIELD)
        if not isinstance(image, UploadFile):
            raise ApiError("image_missing", messages.IMAGE_MISSING)
        data = await image.read()
    finally:
        await form.close()
    fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    return Upload(image=data, fields=fields)
