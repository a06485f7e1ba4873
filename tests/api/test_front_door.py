"""Limits a client cannot outwait, each tried on a real socket against the app served as `captionbot api` serves
it: a request whose headers or body trickle in is answered 408 and closed at API_REQUEST_TIMEOUT_S; hundreds of
half-open connections leave /healthz answering and are closed in turn; beyond API_MAX_CONNECTIONS a request is
answered 503 at once; a key holds at most API_UPLOADS_PER_KEY uploads; the rate-limit token is taken before the
body is read; /v1/models never waits on a registry that does not answer. Open on a trusted network, the API
believes X-Forwarded-For only from FORWARDED_ALLOW_IPS and answers only the Host names it is told."""

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from captionbot.api.app import create_app
from tests.api.conftest import png
from tests.api.servers import bearer, post_image, serve
from tests.api.test_failures import problem, with_values

DEADLINE_S = 2.0
TRICKLE_S = 0.25  # between two bytes of a slow client: far inside any idle timeout, far past the deadline overall
HALF_OPEN = 300


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(30)  # a server without a deadline would leave this client waiting here
    return sock


def trickle(sock: socket.socket, data: bytes) -> bytes:
    """Send `data` a byte at a time until the server answers or closes; what it answered."""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # closed by the server
            break
        time.sleep(TRICKLE_S)
        sock.setblocking(False)
        try:
            answer = sock.recv(65536)
        except BlockingIOError:
            continue
        finally:
            sock.setblocking(True)
        return answer + read_rest(sock)
    return read_rest(sock)


def read_rest(sock: socket.socket) -> bytes:
    """What the server sends until it closes. A byte the client sent after the server's last read makes the
    server's close a reset (RFC 1122, 4.2.2.13), which ends the stream here as a close does."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def status_and_problem(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


@pytest.fixture
def limited(api_settings):
    return with_values(api_settings, api_request_timeout_s=DEADLINE_S, api_uploads_per_key=1,
                       queue_name=api_settings.queue_name)


def test_headers_that_trickle_in_are_answered_408_and_closed(limited, worker):
    with serve(limited) as url, connect(url) as sock:
        answer = trickle(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200)
    status, body = status_and_problem(answer)
    assert status == 408 and body["code"] == "request_timeout"
    assert body["detail"] == "The request did not arrive whole within 2 seconds; send it again, faster."


def test_a_body_that_trickles_in_is_408_and_gives_its_upload_slot_back(limited, api_key, worker):
    head = (f"POST /v1/captions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key}\r\n"
            "Content-Type: image/png\r\nContent-Length: 1000\r\n\r\n").encode()
    settings = with_values(limited, api_request_timeout_s=10.0)
    app = create_app(settings)
    with serve(settings, app) as url, connect(url) as sock:
        sock.sendall(head + png()[:8])
        deadline = time.monotonic() + 30
        while app.state.uploads.in_flight() == 0:  # until the slow request holds the key's only upload slot
            assert time.monotonic() < deadline, "the slow request never took an upload slot"
            time.sleep(0.01)
        second = post_image(url, png(), api_key)
        answer = trickle(sock, b"\xff" * 1000)
        after = post_image(url, png(), api_key)
    status, body = status_and_problem(answer)
    assert status == 408 and body["code"] == "request_timeout" and "within 10 seconds" in body["detail"]
    refused = problem(second, 429, "too_many_uploads")
    assert refused["detail"] == ("This key already has 1 image on the way; wait for one to be answered, "
                                 "then send the next.")
    assert after.status_code == 200, after.text


def test_half_open_connections_leave_healthz_answering_and_are_closed(limited, worker):
    with serve(limited) as url:
        held = [connect(url) for _ in range(HALF_OPEN)]
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of the headers
        health = requests.get(f"{url}/healthz", timeout=10)
        answers = [read_rest(sock) for sock in held]
        for sock in held:
            sock.close()
    assert health.status_code == 200
    assert {status_and_problem(answer)[0] for answer in answers} == {408}


def test_beyond_the_connection_cap_a_request_is_answered_503_at_once(limited, worker):
    with serve(with_values(limited, api_max_connections=10)) as url:
        held = [connect(url) for _ in range(10)]
        refused = requests.get(f"{url}/healthz", timeout=10)
        for sock in held:  # the deadline closes them; then there is room again
            read_rest(sock)
            sock.close()
        served = requests.get(f"{url}/healthz", timeout=10)
    assert refused.status_code == 503 and served.status_code == 200


def test_the_rate_limit_is_taken_before_the_body_is_read(api_settings, worker, tmp_path):
    from captionbot.api.keys import KeyStore

    key = KeyStore(tmp_path / "keys.json").create(f"once-{uuid.uuid4().hex[:8]}")  # buckets outlive a run
    settings = with_values(api_settings, api_rate_per_minute=1, api_keys_file=tmp_path / "keys.json")
    head = (f"POST /v1/captions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: image/png\r\nContent-Length: 1000000\r\n\r\n").encode()
    with serve(settings) as url:
        assert post_image(url, png(), key).status_code == 200
        with connect(url) as sock:
            sock.sendall(head)  # and not a byte of the million it announces
            status, body = status_and_problem(read_rest(sock))
    assert status == 429 and body["code"] == "rate_limited"


class SilentS3:
    """An S3 endpoint that accepts connections and never answers, until it hangs up."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def hang_up(self) -> None:
        """boto3's reads end now, and its retries are refused (once; again is nothing)."""
        if self.listener.fileno() == -1:
            return
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept(); close alone would not
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_s3(monkeypatch) -> Iterator[SilentS3]:
    endpoint = SilentS3()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{endpoint.listener.getsockname()[1]}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "silent")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "silent")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield endpoint
    endpoint.hang_up()


def test_models_answers_503_when_the_registry_never_answers_and_the_api_serves_on(
        api_settings, api_key, worker, silent_s3):
    settings = with_values(api_settings, model_dir=f"s3://silent-{uuid.uuid4().hex[:8]}/registry")
    with serve(settings) as url:
        results: list[requests.Response] = []
        askers = [threading.Thread(target=lambda: results.append(
            requests.get(f"{url}/v1/models", headers=bearer(api_key), timeout=60))) for _ in range(2)]
        for asker in askers:
            asker.start()
        health = requests.get(f"{url}/healthz", timeout=10)  # while both wait on the registry
        caption = post_image(url, png(), api_key)
        for asker in askers:
            asker.join()
        reads = len(silent_s3.accepted)
        silent_s3.hang_up()
    assert health.status_code == 200 and caption.status_code == 200
    for response in results:
        body = problem(response, 503, "registry_unavailable")
        assert body["detail"] == ("The model registry cannot be reached right now, so its versions cannot be "
                                  "listed; try again in a minute.")
    assert reads == 1  # one read, shared by both requests


def test_models_is_rate_limited_per_key(api_settings, worker, tmp_path):
    from captionbot.api.keys import KeyStore

    key = KeyStore(tmp_path / "keys.json").create(f"lister-{uuid.uuid4().hex[:8]}")
    settings = with_values(api_settings, api_rate_per_minute=2, api_keys_file=tmp_path / "keys.json")
    with serve(settings) as url:
        answers = [requests.get(f"{url}/v1/models", headers=bearer(key), timeout=30) for _ in range(3)]
        caption = post_image(url, png(), key)  # caption requests have a bucket of their own
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert caption.status_code == 200


def made_up_address() -> str:
    number = uuid.uuid4().int
    return f"10.{number % 250}.{number // 250 % 250}.{number // 62500 % 250 + 1}"


@pytest.mark.parametrize("believed", [False, True])
def test_forwarded_addresses_are_believed_only_from_forwarded_allow_ips(api_settings, worker, believed):
    import redis

    settings = with_values(api_settings, api_open_on_trusted_network=True,
                           forwarded_allow_ips=["127.0.0.1"] if believed else [])
    address = made_up_address()
    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    with serve(settings) as url:
        answered = requests.post(f"{url}/v1/captions", data=png(), headers={"X-Forwarded-For": address}, timeout=60)
    bucket = f"captionbot:rate:api:addr:{address}"
    assert answered.status_code == 200, answered.text
    assert client.delete(bucket) == (1 if believed else 0)


def test_an_open_api_answers_only_the_host_names_it_is_told(api_settings, worker):
    settings = with_values(api_settings, api_open_on_trusted_network=True)
    with serve(settings) as url:
        rebound = requests.get(f"{url}/healthz", headers={"Host": "rebind.attacker.example"}, timeout=10)
        local = requests.get(f"{url}/healthz", timeout=10)
    with serve(with_values(settings, api_allowed_hosts=["captioner.lan"])) as url:
        named = requests.get(f"{url}/healthz", headers={"Host": "captioner.lan:8000"}, timeout=10)
    assert rebound.status_code == 400 and local.status_code == 200 and named.status_code == 200
