"""`captionbot demo`: caption the sample photos bundled with scikit-image with both models, end to end.

Through Redis and a real worker where Redis answers (or a `redis-server` on PATH can be started), else
in-process. Offline, it says so and uses small checkpoints it makes itself, labelled as demo models.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING

from captionbot.commands.model_choice import DEMO_DIR, DEMO_PRETRAINED, DEMO_REGISTRY

if TYPE_CHECKING:
    from captionbot.commands.verbosity import Verbosity
    from captionbot.commands.worker_process import WorkerProcess

SAMPLES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
WORKER_START_S = 600.0
TRAINING_LOG = "demo-training.log"


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="caption sample photos end to end, offline if need be")
    demo.add_argument("--in-process", action="store_true", help="skip Redis and the worker")
    demo.add_argument("--dir", type=Path, default=DEMO_DIR, help="where demo models are kept (default .demo)")
    demo.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from captionbot.core.settings import get_settings

    settings = get_settings()
    photos = sample_photos()
    env = dict(os.environ)
    env.update(demo_models(settings, args.dir, verbose=args.verbosity.verbose))
    if args.in_process:
        return _caption(photos, env, queue=False, verbosity=args.verbosity)
    redis_url, redis_process = _find_redis(settings.redis_url.get_secret_value())
    if redis_url is None:
        print("No Redis answers and no redis-server is installed; captioning in-process instead.")
        return _caption(photos, env, queue=False, verbosity=args.verbosity)
    env["REDIS_URL"] = redis_url
    env["QUEUE_NAME"] = f"demo-{os.getpid()}"
    worker = _start_worker(env)
    try:
        return _caption(photos, env, queue=True, verbosity=args.verbosity)
    finally:
        worker.stop()
        if redis_process is not None:
            redis_process.terminate()


def sample_photos() -> list[Path]:
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return [folder / name for name in SAMPLES if (folder / name).is_file()]


def demo_models(settings, demo_dir: Path, verbose: bool = False) -> dict[str, str]:
    """Environment for the demo: the configured models where they load, demo checkpoints where they cannot."""
    from captionbot.commands.model_choice import pretrained_available
    from captionbot.core.registry import Registry

    values = {"PRETRAINED_MODEL": settings.pretrained_model, "MODEL_DIR": str(settings.model_dir)}
    if not pretrained_available(settings.pretrained_model):
        print(
            f"The pretrained model {settings.pretrained_model} cannot be fetched here (offline?), so this demo "
            "runs on small demo models made on this machine: their captions describe coloured shapes, not photos."
        )
        values["PRETRAINED_MODEL"] = str(_untrained_demo_model(demo_dir))
    if Registry(settings.model_dir).current() is None and not settings.finetuned_model:
        values["MODEL_DIR"] = str(_demo_registry(demo_dir, verbose))
        print(f"No fine-tuned model is published in {settings.model_dir}; using the demo registry {values['MODEL_DIR']}.")
    values["HF_HUB_OFFLINE"] = os.environ.get("HF_HUB_OFFLINE", "0")
    return values


def _untrained_demo_model(demo_dir: Path) -> Path:
    from captionbot.training.scratch import save_random_blip

    path = demo_dir / DEMO_PRETRAINED
    if not (path / "config.json").is_file():
        save_random_blip(path, ["a", "the", "on", "in", "of", "with"], seed=0)
    return path


def _demo_registry(demo_dir: Path, verbose: bool = False) -> Path:
    """A registry whose CURRENT is a tiny model trained here on synthetic shapes (about a minute, once). What the
    training prints (its scores, the tokenizer's lines, its scratch folder) goes to a log unless `-v`."""
    from captionbot.core.registry import Registry
    from captionbot.training.demo_model import train_demo_model

    registry = Registry(demo_dir / DEMO_REGISTRY)
    if registry.current() is None:
        print("Training the demo model on synthetic shapes (about a minute, once)…", flush=True)
        log = demo_dir / TRAINING_LOG
        with tempfile.TemporaryDirectory() as scratch, _output_to(None if verbose else log):
            trained = train_demo_model(Path(scratch) / "demo")
            registry.add_version(trained, "demo-shapes")
        registry.set_current("demo-shapes")
        print(f"Trained it (its training log: {log})." if not verbose else "Trained it.")
    return demo_dir / DEMO_REGISTRY


@contextmanager
def _output_to(log: Path | None) -> Iterator[None]:
    """This process's stdout and stderr, and its children's (Java's tokenizer), into `log`; None: left alone."""
    if log is None:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with log.open("w", buffering=1) as sink, redirect_stdout(sink), redirect_stderr(sink):
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            for fd, original in zip((1, 2), saved):
                os.dup2(original, fd)
                os.close(original)


def _find_redis(url: str) -> tuple[str | None, subprocess.Popen | None]:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        return url, None
    except redis.RedisError:
        pass
    server = shutil.which("redis-server")
    if server is None:
        return None, None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    local = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        try:
            redis.Redis.from_url(local).ping()
            print(f"Started a redis-server for the demo on port {port}.")
            return local, process
        except redis.RedisError:
            time.sleep(0.1)
    process.terminate()
    return None, None


def _start_worker(env: dict[str, str]) -> "WorkerProcess":
    from captionbot.commands.worker_process import WorkerFailed, WorkerProcess

    print("Starting a caption worker…")
    log = Path(tempfile.mkstemp(prefix="captionbot-demo-worker-", suffix=".log")[1])
    try:
        return WorkerProcess(env, log, name=f"demo-{os.getpid()}@localhost").start(timeout=WORKER_START_S)
    except WorkerFailed as err:
        raise SystemExit(f"The demo's worker did not start: {err}") from err


def _caption(photos: list[Path], env: dict[str, str], queue: bool, verbosity: "Verbosity") -> int:
    command = [sys.executable, "-m", "captionbot", "caption", *verbosity.flags(), "--compare", *map(str, photos)]
    if queue:
        command.insert(4, "--queue")
        print("Captioning through Redis and the worker:")
    sys.stdout.flush()
    return subprocess.run(command, env=env).returncode
