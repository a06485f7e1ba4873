"""Who is asking: the name of a valid API key (`Authorization: Bearer KEY`), or, only where the operator has
opened the API to a trusted network, the client's address. The answer names the rate-limit bucket."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from captionbot.api import messages
from captionbot.api.problems import ApiError

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `captionbot api-key create NAME`, sent as `Authorization: Bearer KEY`.",
)


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The rate-limit identity of this request: `api:key:NAME` or, on a trusted network, `api:addr:HOST`."""
    state = request.app.state
    if credentials is None and request.headers.get("authorization", "").strip():
        raise ApiError("api_key_invalid", messages.KEY_NOT_BEARER)
    if credentials is not None:
        name = state.keys.name_for(credentials.credentials)
        if name is None:
            raise ApiError("api_key_invalid", messages.KEY_INVALID)
        return f"api:key:{name}"
    if state.settings.api_open_on_trusted_network:
        return f"api:addr:{request.client.host if request.client else 'unknown'}"
    raise ApiError("api_key_missing", messages.KEY_MISSING)


Caller = Annotated[str, Depends(caller)]
