"""Health that tells the truth, on the metrics port of every long-running process: `GET /healthz` answers 200
with a JSON object of its checks when the process can serve, 503 naming the failing checks otherwise;
`GET /metrics` is the Prometheus exposition; any other path is 404. (prometheus_client's own server answers
200 on every path, so it cannot be a health check.)

A check is a function returning None when it passes or a sentence saying what is wrong. Checks run when
asked, each bounded by its own timeout, so the answer is never older than the request.
"""

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

import redis
from prometheus_client.exposition import MetricsHandler

log = logging.getLogger(__name__)

Check = Callable[[], str | None]
CHECK_TIMEOUT_S = 2.0
# Each connection has its own thread: one that has not sent its request, or not read the answer, within this
# long is closed, and its thread ends (100 half-open requests once held 100 threads for as long as they liked).
CONNECTION_TIMEOUT_S = 5.0


class Health:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._lock = threading.Lock()

    def add(self, name: str, check: Check) -> None:
        """Add or replace the check called `name`."""
        with self._lock:
            self._checks[name] = check

    def report(self) -> tuple[bool, dict]:
        with self._lock:
            checks = dict(self._checks)
        results = {name: _run(check) or "ok" for name, check in checks.items()}
        failing = [name for name, result in results.items() if result != "ok"]
        return not failing, {"status": "failing" if failing else "ok", "failing": failing, "checks": results}


def _run(check: Check) -> str | None:
    try:
        return check()
    except Exception as err:  # noqa: BLE001 - a check that breaks is a failing check, never a dead server
        return f"the check itself failed: {type(err).__name__}"


def redis_check(url: str) -> Check:
    """Redis answers a PING within CHECK_TIMEOUT_S (the error's type only: a message could carry the URL)."""
    client = redis.Redis.from_url(url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S)

    def check() -> str | None:
        try:
            client.ping()
        except (redis.RedisError, OSError) as err:
            return f"Redis does not answer ({type(err).__name__})"
        return None

    return check


def on_loop(loop: asyncio.AbstractEventLoop, probe: Callable[[], Awaitable[str | None]]) -> Check:
    """A check that runs `probe` on an asyncio loop (a bot's): a loop too stuck to answer fails it too."""

    def check() -> str | None:
        if loop.is_closed():
            return "the event loop has stopped"
        future = asyncio.run_coroutine_threadsafe(probe(), loop)
        try:
            return future.result(CHECK_TIMEOUT_S)
        except TimeoutError:
            future.cancel()
            return f"the event loop did not answer within {CHECK_TIMEOUT_S:g} s"

    return check


class _Handler(MetricsHandler):
    health: Health
    timeout = CONNECTION_TIMEOUT_S  # socketserver.StreamRequestHandler sets it on the connection's socket

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/metrics":
            super().do_GET()
        elif path == "/healthz":
            healthy, body = self.health.report()
            self._send(200 if healthy else 503, json.dumps(body).encode())
        else:
            self._send(404, json.dumps({"error": "not found; try /healthz or /metrics"}).encode())

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def serve_health(port: int, health: Health, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve /healthz and /metrics on `host`:`port` from a daemon thread."""
    handler = type("HealthHandler", (_Handler,), {"health": health})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("health on http://%s:%d/healthz, metrics on /metrics", host, port)
    return server
