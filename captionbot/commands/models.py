"""`captionbot reload [VERSION]` and `captionbot models`: the registry and what each worker serves."""

import argparse
import json

from captionbot.bot import messages
from captionbot.core.errors import UsageError
from captionbot.core.errors import InvalidVersion


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    reload = subparsers.add_parser("reload", help="move every worker to a registry version (hot swap)")
    reload.add_argument("version", nargs="?", help="registry version (default: the registry's CURRENT)")
    reload.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the workers (default 120)")
    reload.add_argument("--json", action="store_true", help="one JSON object per worker")
    reload.set_defaults(func=_reload)

    models = subparsers.add_parser("models", help="list registry versions and what each worker serves")
    models.add_argument("--json", action="store_true", help="print one JSON object")
    models.set_defaults(func=_models)


def _reload(args: argparse.Namespace) -> int:
    from captionbot.core.celery_config import make_celery
    from captionbot.core.control import reload_workers
    from captionbot.core.registry import Registry
    from captionbot.core.settings import get_settings

    settings = get_settings()
    registry = Registry(settings.model_dir)
    version = args.version or registry.current()
    if not version:
        raise UsageError("no VERSION given and the registry has no CURRENT; publish one first")
    try:
        registry.version_path(version)
    except InvalidVersion as err:
        raise UsageError(err.message) from err
    replies = reload_workers(make_celery(settings), version, args.timeout)
    if not replies:
        print("No worker answered; is `captionbot worker` running against this REDIS_URL?")
        return 1
    for reply in replies:
        if args.json:
            print(reply.model_dump_json())
        else:
            print(messages.reload_line(reply.worker, reply.status, reply.version, reply.load_s, reply.reason))
    return 0 if all(reply.status in ("ok", "unchanged") for reply in replies) else 1


def _models(args: argparse.Namespace) -> int:
    from captionbot.core.celery_config import make_celery
    from captionbot.core.control import worker_status
    from captionbot.core.registry import Registry
    from captionbot.core.settings import get_settings

    settings = get_settings()
    registry = Registry(settings.model_dir)
    versions = registry.versions()
    try:
        workers = worker_status(make_celery(settings))
    except OSError:
        workers = []
    if args.json:
        print(
            json.dumps(
                {
                    "current": registry.current(),
                    "versions": [{"name": v.name, "metrics": v.metrics, "current": v.current} for v in versions],
                    "workers": [w.model_dump() for w in workers],
                }
            )
        )
        return 0
    print(f"registry {registry.root} (CURRENT: {registry.current() or 'none'})")
    for v in versions:
        scores = ", ".join(f"{k} {val:.3f}" for k, val in v.metrics.items() if isinstance(val, int | float))
        print(f"  {'*' if v.current else ' '} {v.name}  {scores}")
    print("workers:" if workers else "workers: none answered")
    for w in workers:
        print(f"  {w.worker}: finetuned {w.version or 'none'}, pretrained {w.pretrained}")
    return 0
