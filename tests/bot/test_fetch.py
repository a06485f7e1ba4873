"""Downloads: https only, no private address however it is written or resolved, and credentials only over the
scheme, host and port they belong to. Every refusal here runs without the test-only loopback setting."""

import asyncio
import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from captionbot.bot.fetch import Credentials, Fetcher, FetchRefused, check_url, is_public, literal_address
from captionbot.core.errors import CaptionError
from tests.bot.local_servers import LocalServer, localhost_certificate

IMAGE = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MAX_BYTES = 1024 * 1024


async def serve_image(request: web.Request) -> web.Response:
    return web.Response(body=IMAGE, content_type="image/png")


class ScriptedResolver(AbstractResolver):
    """Answers each lookup with the next address of `answers` (the last one again when they run out)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        self.asked.append(host)
        address = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [{"hostname": host, "host": address, "port": port, "family": family, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


async def attempt(fetcher: Fetcher, url: str, allowed_hosts: list[str]) -> bytes | Exception:
    try:
        return await fetcher.fetch(url, allowed_hosts, MAX_BYTES)
    except CaptionError as err:
        return err


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.20",
        "169.254.169.254",  # cloud metadata
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:169.254.169.254]",
        "[fe80::1]",
        "[fd00::1]",
        "2130706433",  # 127.0.0.1 in decimal
        "0177.0.0.1",  # in octal
        "0x7f.0.0.1",  # in hex
        "127.1",
        "0.0.0.0",
        "localhost",  # a name that resolves to loopback
    ],
)
def test_private_and_loopback_addresses_are_refused_however_written(host):
    async def scenario():
        async with LocalServer(serve_image) as server, Fetcher() as fetcher:
            name = host.strip("[]")
            return await attempt(fetcher, f"https://{host}:{server.port}/cat.png", [name]), server.hits

    refused, hits = asyncio.run(scenario())
    assert isinstance(refused, FetchRefused), refused
    assert hits == []


def test_the_connection_goes_to_the_address_that_was_checked_not_to_a_second_lookup():
    """DNS rebinding: the name answers a public address once, then loopback. The one lookup is the one checked
    and connected to, so the local server is never reached."""

    async def scenario():
        rebinding = ScriptedResolver("1.1.1.1", "127.0.0.1")
        async with LocalServer(serve_image) as server, Fetcher(resolver=rebinding) as fetcher:
            outcome = await attempt(fetcher, f"https://cdn.example.com:{server.port}/cat.png", ["cdn.example.com"])
            return outcome, rebinding.asked, server.hits

    outcome, asked, hits = asyncio.run(scenario())
    assert asked == ["cdn.example.com"] and hits == []
    assert not isinstance(outcome, bytes)


def test_a_name_with_any_private_address_among_its_answers_is_refused():
    class Mixed(ScriptedResolver):
        async def resolve(self, host, port=0, family=socket.AF_INET):
            public, private = await super().resolve(host, port, family), await super().resolve(host, port, family)
            return public + private

    async def scenario():
        async with Fetcher(resolver=Mixed("1.1.1.1", "10.0.0.7")) as fetcher:
            return await attempt(fetcher, "https://cdn.example.com/cat.png", ["cdn.example.com"])

    assert isinstance(asyncio.run(scenario()), FetchRefused)


@pytest.mark.parametrize("loopback_for_tests", [False, True])
def test_plain_http_is_refused_to_any_host_but_loopback_and_to_loopback_only_in_tests(loopback_for_tests):
    with pytest.raises(FetchRefused):
        check_url("http://cdn.discordapp.com/attachments/1/2/a.png", ["cdn.discordapp.com"], loopback_for_tests)
    with pytest.raises(FetchRefused):
        check_url("ftp://cdn.discordapp.com/a.png", ["cdn.discordapp.com"], loopback_for_tests)
    check_url("https://cdn.discordapp.com/attachments/1/2/a.png", ["cdn.discordapp.com"], loopback_for_tests)
    if loopback_for_tests:
        check_url("http://127.0.0.1:8080/a.png", ["127.0.0.1"], loopback_for_tests)
    else:
        with pytest.raises(FetchRefused):
            check_url("http://127.0.0.1:8080/a.png", ["127.0.0.1"], loopback_for_tests)


def test_hosts_not_allowed_are_refused_before_any_lookup():
    async def scenario():
        resolver = ScriptedResolver("1.1.1.1")
        async with Fetcher(resolver=resolver) as fetcher:
            outcomes = [
                await attempt(fetcher, "https://cdn.discordapp.com.evil.test/a.png", ["cdn.discordapp.com"]),
                await attempt(fetcher, "https://evil.test/cdn.discordapp.com/a.png", ["cdn.discordapp.com"]),
            ]
        return outcomes, resolver.asked

    outcomes, asked = asyncio.run(scenario())
    assert all(isinstance(o, FetchRefused) for o in outcomes) and asked == []


def test_addresses_are_read_as_the_system_resolver_reads_them():
    assert str(literal_address("2130706433")) == str(literal_address("0177.0.0.1")) == "127.0.0.1"
    assert literal_address("cdn.discordapp.com") is None
    assert not is_public(literal_address("::ffff:10.0.0.1"))
    assert not is_public(literal_address("2002:7f00:1::"))  # 6to4 around 127.0.0.1
    assert not is_public(literal_address("64:ff9b::a9fe:a9fe"))  # NAT64 around 169.254.169.254
    assert is_public(literal_address("2606:4700:4700::1111")) and is_public(literal_address("1.1.1.1"))


def test_credentials_go_over_https_to_their_origin_only_never_down_a_redirect_to_http():
    """The origin (https://localhost:PORT) redirects within itself, then to plain http on the same host: the token
    goes with the https requests and not with the http one, which loopback only allows at all in tests."""
    certificate = localhost_certificate()

    async def scenario():
        async with LocalServer(serve_image) as plain:

            async def redirects(request: web.Request) -> web.Response:
                target = "/second" if request.path == "/first" else plain.url("/third")
                raise web.HTTPFound(target)

            async with LocalServer(redirects, certificate.server) as tls:
                token = Credentials(tls.url("/first"), {"Authorization": "Bearer xoxb-secret"})
                async with Fetcher(loopback_for_tests=True, ssl_context=certificate.client) as fetcher:
                    data = await fetcher.fetch(tls.url("/first"), ["localhost"], MAX_BYTES, token)
                return data, tls.hits + plain.hits

    data, hits = asyncio.run(scenario())
    assert data == IMAGE
    assert [(h.scheme, h.path, h.authorization) for h in hits] == [
        ("https", "/first", "Bearer xoxb-secret"),
        ("https", "/second", "Bearer xoxb-secret"),
        ("http", "/third", None),
    ]


def test_credentials_match_scheme_host_and_port():
    token = Credentials("https://files.slack.com/files-pri/T1-F1/download/a.png", {"Authorization": "Bearer x"})
    assert token.for_url("https://files.slack.com/other") == {"Authorization": "Bearer x"}
    assert token.for_url("http://files.slack.com/files-pri/T1-F1/download/a.png") == {}
    assert token.for_url("https://files.slack.com:8443/a.png") == {}
    assert token.for_url("https://files-edge.slack.com/a.png") == {}
    assert "Bearer" not in repr(token)
