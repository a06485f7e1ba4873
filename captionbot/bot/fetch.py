"""Downloading an image a user shared, safely: allowed hosts only, every redirect re-checked, private and
loopback addresses refused, a byte cap while reading, and credentials sent only to the host they belong to."""

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Collection
from urllib.parse import urljoin, urlsplit

import aiohttp

from captionbot.core.errors import ImageRejected, ImageTooLarge, ServiceUnavailable
from captionbot.core.images import check_size, human_size

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3


class FetchRefused(ImageRejected):
    code = "image_url_refused"
    default_message = "I can only read images shared on this platform; upload the image or share its file link."


def host_allowed(url: str, allowed_hosts: Collection[str]) -> bool:
    """https (or http to loopback, for local test servers named in `allowed_hosts`) to an allowed host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts)


async def _public_address(host: str, allow_private: bool) -> None:
    """Refuse names that resolve to private, loopback or link-local addresses (SSRF)."""
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as err:
        raise ServiceUnavailable("The image's host could not be reached; please try again.") from err
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchRefused()


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    allowed_hosts: Collection[str],
    max_bytes: int,
    headers_for: Callable[[str], dict[str, str]] = lambda host: {},
    allow_private: bool = False,
) -> bytes:
    """GET `url`, following at most MAX_REDIRECTS redirects, each to an allowed, public host. `headers_for(host)`
    supplies the credentials for a host (empty for any other), so a token never follows a redirect elsewhere."""
    for _ in range(MAX_REDIRECTS + 1):
        if not host_allowed(url, allowed_hosts):
            raise FetchRefused()
        host = urlsplit(url).hostname or ""
        await _public_address(host, allow_private)
        try:
            async with session.get(url, headers=headers_for(host), allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status != 200:
                    log.warning("image download answered HTTP %d from %s", response.status, host)
                    raise ServiceUnavailable("The image could not be downloaded; please share it again.")
                if response.content_length is not None:
                    check_size(response.content_length, max_bytes)
                return await _read_capped(response, max_bytes)
        except aiohttp.ClientError as err:
            raise ServiceUnavailable("The image could not be downloaded; please share it again.") from err
    raise FetchRefused("That link redirects too many times; upload the image instead.")


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    chunks, total = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise ImageTooLarge(f"That file is over the {human_size(max_bytes)} limit; send a smaller image.")
        chunks.append(chunk)
    return b"".join(chunks)
