"""A 20 MB upload is refused from its Content-Length before the body is read, and a body sent without one
is cut off at the cap: in both cases the client never sends more than a sliver, and still gets its 413."""

import http.client
import json
import socket

import pytest

from captionbot.core.errors import ImageTooLarge
from captionbot.core.images import check_size
from tests.api.conftest import MAX_IMAGE_BYTES
TWENTY_MB = 20 * 1000 * 1000

CHUNK = 64 * 1024


def request_head(api, api_key: str | None, **headers: str) -> bytes:
    lines = ["POST /v1/captions HTTP/1.1", f"Host: 127.0.0.1:{api.port}", "Content-Type: image/jpeg"]
    if api_key:
        lines.append(f"Authorization: Bearer {api_key}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(sock: socket.socket) -> tuple[int, dict]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, json.loads(response.read())


def connect(api) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", api.port))
    sock.settimeout(30)  # a server that waited for the rest of the body would leave this recv hanging
    return sock


def test_a_declared_20_mb_body_is_refused_before_it_is_read(api, api_key):
    with connect(api) as sock:
        sock.sendall(request_head(api, api_key, Content_Length=str(TWENTY_MB)))
        sock.sendall(b"\xff" * CHUNK)  # of 20 MB announced, only 64 KB are ever sent
        status, body = answer(sock)
    assert status == 413 and body["code"] == "image_too_large"
    with pytest.raises(ImageTooLarge) as bots_refusal:
        check_size(TWENTY_MB, MAX_IMAGE_BYTES)
    assert body["detail"] == bots_refusal.value.message  # "That file is 19.1 MB, over the 2.0 MB limit; ..."


def test_a_chunked_body_is_cut_off_at_the_cap(api, api_key):
    with connect(api) as sock:
        sock.sendall(request_head(api, api_key, Transfer_Encoding="chunked"))
        sent = 0
        while sent <= MAX_IMAGE_BYTES + 4 * CHUNK:  # a little past the cap, far short of 20 MB
            sock.sendall(f"{CHUNK:x}\r\n".encode() + b"\xff" * CHUNK + b"\r\n")
            sent += CHUNK
        status, body = answer(sock)
    assert status == 413 and body["code"] == "image_too_large"
    assert body["detail"] == "That file is over the 2.0 MB limit; send a smaller image."


def test_without_a_key_a_large_body_is_refused_before_it_is_read(api):
    with connect(api) as sock:
        sock.sendall(request_head(api, None, Content_Length=str(TWENTY_MB)))
        status, body = answer(sock)
    assert status == 401 and body["code"] == "api_key_missing"


def test_a_client_that_hangs_up_mid_body_leaves_the_api_serving(api, api_key):
    with connect(api) as sock:
        sock.sendall(request_head(api, api_key, Content_Length=str(MAX_IMAGE_BYTES)))
        sock.sendall(b"\xff" * CHUNK)
    from tests.api.conftest import png
    from tests.api.servers import post_image

    assert post_image(api.url, png(), api_key).status_code == 200
    assert "Traceback" not in api.log_text()
