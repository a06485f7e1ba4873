"""The API through real sockets: `captionbot api` as a subprocess, and apps with other settings served by
uvicorn on a thread of the test process."""

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import uvicorn
from fastapi import FastAPI

from captionbot.api.app import create_app
from captionbot.api.server import uvicorn_config
from captionbot.core.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ApiProcess:
    env: dict[str, str]
    log_path: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "ApiProcess":
        self.port = free_port()
        self.log = self.log_path.open("ab")
        command = [sys.executable, "-m", "captionbot", "api", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"captionbot api exited with {self.process.returncode}:\n{self.log_text()}")
            if "Application startup complete" in self.log_text() and self._healthy():
                return self
            time.sleep(0.2)
        raise TimeoutError(f"captionbot api did not become healthy in {timeout} s:\n{self.log_text()}")

    def _healthy(self) -> bool:
        """A worker that has just logged "ready" may not answer control broadcasts yet: wait for the API to see it."""
        return requests.get(f"{self.url}/healthz", timeout=10).status_code == 200

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        self.process.terminate()
        try:
            code = self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.log.close()
        return code


@contextmanager
def serve(settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    """`app` (by default `create_app(settings)`) on a loopback port, served as `captionbot api` serves it (uvicorn
    on a thread); yields its base URL once it serves."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn_config(app or create_app(settings), settings, "127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_image(url: str, image: bytes, key: str | None, name: str = "photo.png", **fields: object) -> requests.Response:
    headers = bearer(key) if key else {}
    data = {name_: str(value).lower() if isinstance(value, bool) else str(value) for name_, value in fields.items()}
    return requests.post(f"{url}/v1/captions", files={"image": (name, image)}, data=data, headers=headers, timeout=90)
