"""`captionbot reload [VERSION]`, `captionbot rollback`, `captionbot models` and `captionbot check-model`: the
registry (a folder or s3://), what each worker serves, and the way back."""

import argparse
import json
import sys
import time

from captionbot.bot import messages
from captionbot.core.errors import UsageError
from captionbot.core.errors import InvalidVersion
from captionbot.core.registry import PREVIOUS, RegistryError

HOUR_S = 3600.0
COUNTS = ("epoch", "step", "images", "examples")  # figures a version's metrics.json holds that count things


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    reload = subparsers.add_parser("reload", help="move every worker to a registry version (hot swap)")
    reload.add_argument("version", nargs="?",
                        help=f"registry version (default: the registry's CURRENT; '{PREVIOUS}': the one live before)")
    _add_reload_options(reload)
    reload.add_argument("--force", action="store_true", help="make it live even if the quality gate holds it back")
    reload.set_defaults(func=_reload)

    rollback = subparsers.add_parser("rollback", help="return every worker to the version live before CURRENT")
    _add_reload_options(rollback)
    rollback.set_defaults(func=_rollback)

    models = subparsers.add_parser("models", help="list registry versions and what each worker serves")
    models.add_argument("--json", action="store_true", help="print one JSON object")
    models.add_argument("--clean", action="store_true", help="delete unfinished uploads (versions without a manifest)")
    models.add_argument("--older-than", type=float, default=1.0, metavar="HOURS",
                        help="with --clean: only uploads untouched this long, younger ones may be running (default 1)")
    models.set_defaults(func=_models)

    check = subparsers.add_parser("check-model", help="load and check a model folder or registry version as a worker would")
    check.add_argument("model", help="a save_pretrained folder or a registry version")
    check.set_defaults(func=_check_model)


def _add_reload_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the workers (default 120)")
    parser.add_argument("--json", action="store_true", help="one JSON object per worker")


def _registry():
    from captionbot.core.registry import Registry
    from captionbot.core.settings import get_settings

    return Registry(get_settings().model_dir)


def _reload(args: argparse.Namespace) -> int:
    if args.version == PREVIOUS:
        return _rollback(args)
    registry = _registry()
    try:
        version = args.version or registry.current()
        if not version:
            raise UsageError("no VERSION given and the registry has no CURRENT; publish one first")
        registry.require(version)
    except (InvalidVersion, RegistryError) as err:
        raise UsageError(err.message) from err
    return _move_workers(version, args, force=args.force)


def _rollback(args: argparse.Namespace) -> int:
    registry = _registry()
    try:
        current, before = registry.current(), registry.previous()
    except RegistryError as err:
        raise UsageError(err.message) from err
    if before is None:
        raise UsageError(f"the registry has no version live before {current or 'CURRENT'}; nothing to roll back to")
    if not args.json:
        print(f"Rolling back from {current} to {before}.")
    return _move_workers(before, args, force=True)  # it was live before: the gate does not hold it back


def _move_workers(version: str, args: argparse.Namespace, force: bool) -> int:
    from captionbot.core.celery_config import make_celery
    from captionbot.core.control import reload_workers
    from captionbot.core.settings import get_settings

    replies = reload_workers(make_celery(get_settings()), version, args.timeout, force=force)
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
    registry = _registry()
    try:
        if args.clean:
            return _clean(registry, args.older_than * HOUR_S)
        listing = _listing(registry)
    except RegistryError as err:
        raise UsageError(err.message) from err
    from captionbot.commands.feedback import approval_report
    from captionbot.core.settings import get_settings

    approval = approval_report(get_settings())
    listing["feedback"] = approval[1] if approval else None
    if args.json:
        print(json.dumps(listing))
        return 0
    print(f"registry {registry.location} (CURRENT: {listing['current'] or 'none'}, before it: {listing['previous'] or 'none'})")
    for v in listing["versions"]:
        scores = ", ".join(f"{k} {figure(k, val)}" for k, val in v["metrics"].items() if isinstance(val, int | float))
        print(f"  {'*' if v['current'] else ' '} {v['name']}  {scores}")
    for upload in listing["incomplete"]:
        print(f"  unfinished upload {upload['name']}: {upload['files']} files, no manifest "
              f"(`captionbot models --clean` removes it)")
    print("workers:" if listing["workers"] else "workers: none answered")
    for w in listing["workers"]:
        print(f"  {w['worker']}: finetuned {w['version'] or 'none'}, pretrained {w['pretrained']}")
    if approval:
        print(f"{messages.APPROVAL_TITLE.lower()}:")
        for line in approval[0]:
            print(f"  {line}")
    return 0


def figure(name: str, value: float) -> str:
    """A count (epoch 6, step 342) as a whole number, a score to three places (CIDEr 0.412, CIDEr 1.000)."""
    if isinstance(value, int) or (name in COUNTS and float(value).is_integer()):
        return str(int(value))
    return f"{value:.3f}"


def _listing(registry) -> dict:
    from captionbot.core.celery_config import make_celery
    from captionbot.core.control import worker_status
    from captionbot.core.settings import get_settings

    try:
        workers = worker_status(make_celery(get_settings()))
    except OSError:
        workers = []
    now = time.time()
    return {
        "registry": registry.location,
        "current": registry.current(),
        "previous": registry.previous(),
        "versions": [{"name": v.name, "metrics": v.metrics, "current": v.current} for v in registry.versions()],
        "incomplete": [{"name": s.name, "files": s.files, "age_s": round(now - s.newest)} for s in registry.incomplete()],
        "workers": [w.model_dump() for w in workers],
    }


def _clean(registry, older_than_s: float) -> int:
    removed = registry.clean(older_than_s)
    print(f"removed {len(removed)} unfinished upload(s)" + (f": {', '.join(removed)}" if removed else ""))
    return 0


def _check_model(args: argparse.Namespace) -> int:
    """0 when the model would be served, 1 with the reason when a worker would refuse it."""
    from pathlib import Path

    from captionbot.core.settings import get_settings
    from captionbot.worker.candidate import REFUSALS, load_folder, prepare_version, refusal_reason

    settings = get_settings()
    try:
        if Path(args.model).is_dir():
            loaded = load_folder(args.model, settings)
        else:
            loaded = prepare_version(_registry(), settings, args.model)
    except REFUSALS as err:
        print(f"refused: {refusal_reason(err)}", file=sys.stderr)
        return 1
    print(f"ok: {loaded.version} loads, matches its processor and captions a probe image ({loaded.load_s:.1f} s)")
    return 0
