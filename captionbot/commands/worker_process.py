"""A `captionbot worker` in a subprocess, started and waited for until it logs `ready:` (both models loaded,
consuming): the one helper the demo, the benchmarks and the tests start workers with."""

import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

READY = "ready:"


class WorkerFailed(RuntimeError):
    """The worker stopped, or did not log what was awaited in time; the message ends with its log's tail."""


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    name: str = field(default_factory=lambda: f"worker-{uuid.uuid4().hex[:8]}@localhost")
    concurrency: int | None = None  # threads; None: WORKER_CONCURRENCY
    process_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> "WorkerProcess":
        """Start it and return once it is ready; `WorkerFailed` if it exits or takes longer than `timeout`."""
        self.log = Path(self.log_path).open("ab")
        threads = ["--concurrency", str(self.concurrency)] if self.concurrency else []
        command = [sys.executable, "-m", "captionbot", "worker", "--name", self.name, *threads, *self.process_args]
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_for_log(READY, timeout)
        except WorkerFailed:
            self.stop()
            raise
        return self

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return
            if self.process.poll() is not None:
                raise WorkerFailed(f"the worker exited with {self.process.returncode}; its log "
                                   f"({self.log_path}) ends:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)
        raise WorkerFailed(f"the worker did not log {text!r} within {timeout:.0f} s; its log ({self.log_path}) "
                           f"ends:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Signal it (SIGTERM: a warm shutdown) and wait; killed if it has not stopped within 20 s."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
