"""Long-running processes: `captionbot worker`, `captionbot discord`, `captionbot slack`."""

import argparse
import os
import socket


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    worker = subparsers.add_parser("worker", help="start a caption worker (Celery) on one GPU or the CPU")
    worker.add_argument("--gpu", type=int, help="GPU index to pin (sets CUDA_VISIBLE_DEVICES); default: DEVICE")
    worker.add_argument("--concurrency", type=int, help="jobs taken at once (default WORKER_CONCURRENCY)")
    worker.add_argument("--name", help="worker name (default captionbot-gpuN@host or captionbot-cpu@host)")
    worker.add_argument("--loglevel", default="INFO", help="Celery log level (default INFO)")
    worker.add_argument("--metrics-port", type=int, help="serve Prometheus metrics here (default METRICS_PORT)")
    worker.set_defaults(func=_worker)

    discord = subparsers.add_parser("discord", help="start the Discord bot")
    discord.set_defaults(func=_discord)

    slack = subparsers.add_parser("slack", help="start the Slack bot (Socket Mode unless --http)")
    slack.add_argument("--http", action="store_true", help="serve Slack's HTTP events instead of Socket Mode")
    slack.add_argument("--port", type=int, default=3000, help="port for --http (default 3000)")
    slack.set_defaults(func=_slack)


def _worker(args: argparse.Namespace) -> int:
    if args.gpu is not None:
        # Before torch is imported: the worker then sees exactly one GPU, as cuda:0.
        os.environ["CUDA_VISIBLE_DEVICES"] = str(args.gpu)
        os.environ.setdefault("DEVICE", "cuda")
    default_name = f"captionbot-gpu{args.gpu}" if args.gpu is not None else "captionbot-cpu"
    from captionbot.worker.main import run_worker

    name = args.name or f"{default_name}@{socket.gethostname()}"
    return run_worker(name, args.concurrency, args.loglevel, args.metrics_port)


def _discord(args: argparse.Namespace) -> int:
    from captionbot.bot.discord.app import run

    return run()


def _slack(args: argparse.Namespace) -> int:
    from captionbot.bot.slack.app import run

    return run(http=args.http, port=args.port)
