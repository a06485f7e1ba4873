"""Health that tells the truth: a worker's /healthz answers 200 with its checks while it can serve, 503 naming
Redis once its Redis is gone, and 200 again once Redis is back; /metrics stays on the same port."""

import json
import time
import urllib.error
import urllib.request

from captionbot.core.health import Health, serve_health
from tests.fixtures.services import WorkerProcess, service_env, settings_from
from tests.integration.test_reliability import free_port, own_redis  # noqa: F401 - a fixture

WAIT_S = 60  # far beyond the 15 s the issue allows: the loop ends as soon as the status changes


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def health_until(port: int, status: int) -> tuple[int, dict]:
    deadline = time.monotonic() + WAIT_S
    while True:
        code, body = get(port, "/healthz")
        if code == status or time.monotonic() > deadline:
            return code, json.loads(body)
        time.sleep(0.5)


def test_a_worker_goes_unhealthy_without_redis_and_back_when_it_returns(own_redis, service_values, tmp_path):  # noqa: F811
    values = {**service_values, "REDIS_URL": own_redis.url, "QUEUE_NAME": "health"}
    port = free_port()
    worker = WorkerProcess(settings_from(values), service_env(values), tmp_path / "worker.log")
    worker.process_args = ["--metrics-port", str(port)]
    worker.start()
    try:
        code, body = get(port, "/healthz")
        assert code == 200 and json.loads(body) == {
            "status": "ok",
            "failing": [],
            "checks": {"redis": "ok", "batching": "ok", "models": "ok", "consumer": "ok"},
        }
        code, metrics = get(port, "/metrics")
        assert code == 200 and b"captionbot_jobs_total" in metrics
        assert get(port, "/anything")[0] == 404
        own_redis.stop()
        code, body = health_until(port, 503)
        assert code == 503 and body["failing"] == ["redis"] and "Redis does not answer" in body["checks"]["redis"]
        assert own_redis.password not in json.dumps(body)
        own_redis.start()
        code, body = health_until(port, 200)
        assert code == 200 and body["status"] == "ok"
    finally:
        worker.stop()


def test_a_check_that_fails_or_breaks_names_itself():
    health = Health()
    health.add("fine", lambda: None)
    health.add("gateway", lambda: "not connected to the Discord gateway")
    health.add("broken", lambda: 1 / 0)
    port = free_port()
    server = serve_health(port, health, host="127.0.0.1")
    try:
        code, body = get(port, "/healthz")
    finally:
        server.shutdown()
    report = json.loads(body)
    assert code == 503 and report["failing"] == ["gateway", "broken"]
    assert report["checks"]["fine"] == "ok" and "ZeroDivisionError" in report["checks"]["broken"]


def test_half_open_requests_to_the_health_port_are_closed_and_their_threads_end(redis_url):
    import socket
    import threading

    from captionbot.core.health import CONNECTION_TIMEOUT_S
    from captionbot.core.metrics import serve_metrics
    from captionbot.core.settings import Settings

    port = free_port()
    serve_metrics(port, Settings(redis_url=redis_url, _env_file=None))  # METRICS_HOST: loopback unless set
    assert get(port, "/healthz")[0] == 200
    before = threading.active_count()
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
    for sock in held:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and never the rest
        sock.settimeout(CONNECTION_TIMEOUT_S * 6)
    answered_meanwhile = get(port, "/healthz")[0]
    closed = [sock.recv(1024) for sock in held]  # b"" once the server gives up on it
    for sock in held:
        sock.close()
    deadline = time.monotonic() + WAIT_S
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert answered_meanwhile == 200
    assert closed == [b""] * 50
    assert threading.active_count() <= before
    with socket.socket() as outside:  # not on every interface: only the loopback address answers
        host = socket.gethostbyname(socket.gethostname())
        if not host.startswith("127."):
            assert outside.connect_ex((host, port)) != 0
