"""Downloading an image a user shared, safely: https only, allowed hosts only, every redirect re-checked,
private and loopback addresses refused, a byte cap while reading, and credentials sent only over the exact
scheme, host and port they belong to.

The address check sits where the connection is made: a `Fetcher`'s session resolves names through
`PublicResolver`, which refuses a name if any address it resolves to is not public, and aiohttp connects only to
the addresses that resolver returned. So a name that answers a public address to a check and a private one to
the connection (DNS rebinding) cannot reach inside. aiohttp does not resolve hosts that look like addresses, so
those (decimal and octal forms included) are read and checked here before the request.

Plain http is refused, except to loopback with the test-only FETCH_LOOPBACK_FOR_TESTS, which lets the test suite's
local servers stand in for Discord's CDN and Slack's files host.
"""

import ipaddress
import logging
import socket
import ssl
from collections.abc import Collection
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.helpers import is_ip_address

from captionbot.bot import messages
from captionbot.core.errors import ImageRejected, ImageTooLarge, ServiceUnavailable
from captionbot.core.images import check_size, human_size

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
# A slow or stalled download must not hold a user's answer past the job timeout.
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address reached
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(ImageRejected):
    code = "image_url_refused"
    default_message = messages.LINK_REFUSED


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to: IPv4-mapped, 6to4, Teredo's client, or NAT64's well-known prefix."""
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IpAddress) -> bool:
    """Globally routable unicast, also for the IPv4 address inside an IPv6 one (`::ffff:10.0.0.1` is private)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not address.is_multicast


def may_connect(address: IpAddress, loopback_for_tests: bool) -> bool:
    return is_public(address) or (loopback_for_tests and address.is_loopback)


def literal_address(host: str) -> IpAddress | None:
    """The address a host written as one means, in any form the system resolver accepts (`2130706433`,
    `0177.0.0.1` and `127.1` are 127.0.0.1); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class PublicResolver(AbstractResolver):
    """Resolves with `resolver` (the system's by default) and refuses a name any of whose addresses may not be
    connected to: the connection then goes only to the addresses checked here."""

    def __init__(self, *, loopback_for_tests: bool = False, resolver: AbstractResolver | None = None) -> None:
        self._resolver = resolver or aiohttp.ThreadedResolver()
        self._loopback_for_tests = loopback_for_tests

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        addresses = [a["host"] for a in answers]
        refused = [a for a in addresses if not may_connect(ipaddress.ip_address(a), self._loopback_for_tests)]
        if refused:
            log.warning("refused a download from %s: it resolves to %s", host, ", ".join(refused))
            raise FetchRefused()
        return answers

    async def close(self) -> None:
        await self._resolver.close()


def host_allowed(url: str, allowed_hosts: Collection[str]) -> bool:
    """The URL's host is one of `allowed_hosts` or a subdomain of one."""
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and any(host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts)


def _is_loopback_host(host: str) -> bool:
    address = literal_address(host)
    return host == "localhost" if address is None else address.is_loopback


def check_url(url: str, allowed_hosts: Collection[str], loopback_for_tests: bool = False) -> None:
    """`FetchRefused` unless `url` is https (or http to loopback, for tests) to an allowed host, and, where its
    host is written as an address, that address may be connected to."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    plain_http_allowed = parts.scheme == "http" and loopback_for_tests and _is_loopback_host(host)
    if not (parts.scheme == "https" or plain_http_allowed) or not host_allowed(url, allowed_hosts):
        raise FetchRefused()
    address = literal_address(host)
    if address is None and is_ip_address(host):
        raise FetchRefused()  # aiohttp would connect to it without resolving it, and it is no address we can read
    if address is not None and not may_connect(address, loopback_for_tests):
        log.warning("refused a download from %s: not a public address", host)
        raise FetchRefused()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@dataclass(frozen=True)
class Credentials:
    """Headers for requests to `origin`'s scheme, host and port only: a redirect to any other (http instead of
    https on the same host included) goes without them."""

    origin: str
    headers: dict[str, str] = field(repr=False)

    def for_url(self, url: str) -> dict[str, str]:
        return dict(self.headers) if _origin(url) == _origin(self.origin) else {}


class Fetcher:
    """The bot's download client: one aiohttp session whose every connection goes to a checked address."""

    def __init__(
        self,
        *,
        loopback_for_tests: bool = False,
        timeout: aiohttp.ClientTimeout = DOWNLOAD_TIMEOUT,
        resolver: AbstractResolver | None = None,
        ssl_context: ssl.SSLContext | bool = True,
    ) -> None:
        """`resolver` answers names before they are checked (the system's by default); `ssl_context` is
        aiohttp's `ssl` (a context trusting a test CA, in tests)."""
        self.loopback_for_tests = loopback_for_tests
        checked = PublicResolver(loopback_for_tests=loopback_for_tests, resolver=resolver)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=checked, ssl=ssl_context), timeout=timeout
        )

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.close()

    async def fetch(
        self, url: str, allowed_hosts: Collection[str], max_bytes: int, credentials: Credentials | None = None
    ) -> bytes:
        """GET `url`, following at most MAX_REDIRECTS redirects, each checked as the first URL was."""
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, allowed_hosts, self.loopback_for_tests)
            headers = credentials.for_url(url) if credentials else {}
            try:
                async with self._session.get(url, headers=headers, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status != 200:
                        log.warning("image download answered HTTP %d from %s", response.status, urlsplit(url).hostname)
                        raise ServiceUnavailable(messages.DOWNLOAD_FAILED)
                    if response.content_length is not None:
                        check_size(response.content_length, max_bytes)
                    return await _read_capped(response, max_bytes)
            except aiohttp.ClientError as err:
                raise ServiceUnavailable(messages.DOWNLOAD_FAILED) from err
        raise FetchRefused(messages.TOO_MANY_REDIRECTS)


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    chunks, total = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise ImageTooLarge(messages.DOWNLOAD_OVER_LIMIT.format(limit=human_size(max_bytes)))
        chunks.append(chunk)
    return b"".join(chunks)
