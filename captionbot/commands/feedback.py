"""`captionbot feedback review|forget|export|purge|stats`: the feedback the bots collected, from a terminal."""

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from captionbot.core.errors import UsageError

PLATFORMS = ("discord", "slack")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("feedback", help="review, export, forget and purge the votes and suggestions")
    commands = parser.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")

    review = commands.add_parser("review", help="approve or reject the suggested captions, one by one")
    review.add_argument("--approve-all-from", type=_date, metavar="YYYY-MM-DD",
                        help="approve every pending suggestion made on or after this day (UTC), without asking")
    review.add_argument("--limit", type=int, default=50, help="suggestions to go through (default 50)")
    review.set_defaults(func=_run(_review))

    forget = commands.add_parser("forget", help="delete every vote and suggestion of one person")
    forget.add_argument("--user", required=True, help="the person's user id on the platform")
    forget.add_argument("--platform", required=True, choices=PLATFORMS)
    forget.set_defaults(func=_run(_forget))

    export = commands.add_parser("export", help="write approved suggestions as a Kaggle-layout data set")
    export.add_argument("dir", type=Path, metavar="DIR", help="a new folder: Images/ and captions.txt go there")
    export.add_argument("--with-upvoted", action="store_true",
                        help="add the captions that got clear approval (see --min-approval)")
    export.add_argument("--min-approval", type=float, default=0.5, metavar="P",
                        help="an upvoted caption's 95%% Wilson lower bound of 👍 must reach P (default 0.5: "
                             "at least 4 votes, all 👍, or more votes with a few 👎)")
    export.set_defaults(func=_run(_export))

    purge = commands.add_parser("purge", help="delete votes and suggestions older than the retention period")
    purge.add_argument("--older-than-days", type=int, metavar="N",
                       help="retention in days (default: FEEDBACK_RETENTION_DAYS)")
    purge.set_defaults(func=_run(_purge))

    stats = commands.add_parser("stats", help="counts, approval per model version and /compare preferences")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(func=_run(_stats))


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-01") from err


def _run(action: Callable) -> Callable[[argparse.Namespace], int]:
    """Open the store (migrating it), run `action(store, args)`, close it."""

    def handler(args: argparse.Namespace) -> int:
        return asyncio.run(_with_store(action, args))

    return handler


async def _with_store(action: Callable[..., Awaitable], args: argparse.Namespace | None) -> object:
    from captionbot.core.settings import get_settings
    from captionbot.feedback.store import FeedbackStore

    store = await FeedbackStore.open(get_settings())
    try:
        return await action(store, args)
    finally:
        await store.aclose()


async def _review(store, args: argparse.Namespace) -> int:  # noqa: ANN001
    from captionbot.feedback.store import APPROVED, REJECTED

    if args.approve_all_from is not None:
        approved = await store.approve_all_from(args.approve_all_from)
        print(f"approved {approved} suggestion(s) made since {args.approve_all_from:%Y-%m-%d}")
        return 0
    waiting = await store.suggestions(limit=args.limit)
    if not waiting:
        print("no suggestion is waiting for review")
        return 0
    decided = {APPROVED: [], REJECTED: []}
    for suggestion in reversed(waiting):  # oldest first
        answer = _ask(suggestion)
        if answer == "q":
            break
        if answer in ("a", "r"):
            decided[APPROVED if answer == "a" else REJECTED].append(suggestion.id)
    for status, ids in decided.items():
        if ids:
            await store.review(ids, status)
    print(f"approved {len(decided[APPROVED])}, rejected {len(decided[REJECTED])}")
    return 0


def _ask(suggestion) -> str:  # noqa: ANN001
    print(f"\n#{suggestion.id} ({suggestion.platform}, {suggestion.suggested_at:%Y-%m-%d %H:%M})")
    for model, caption in sorted(suggestion.shown.items()):
        print(f"  {model} showed: {ascii_safe(caption)}")
    print(f"  suggested:      {ascii_safe(suggestion.text)}")
    while True:
        print("  [a]pprove, [r]eject, [s]kip, [q]uit? ", end="", flush=True)
        line = sys.stdin.readline()
        answer = line.strip().lower()[:1] if line else "q"
        if answer in ("a", "r", "s", "q"):
            return answer


def ascii_safe(text: str) -> str:
    """Printable as it is stored, no terminal escapes: whatever is not printable shows as its escape."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


async def _forget(store, args: argparse.Namespace) -> int:  # noqa: ANN001
    from captionbot.core.settings import get_settings
    from captionbot.feedback.identity import MissingUserKey, UserHasher

    try:
        hasher = UserHasher.from_settings(get_settings())
    except MissingUserKey as err:
        raise UsageError(str(err)) from err
    votes, suggestions = await store.forget(hasher(args.platform, args.user))
    print(f"forgot {args.platform} user {args.user}: {votes} vote(s), {suggestions} suggestion(s) deleted")
    return 0


async def _export(store, args: argparse.Namespace) -> int:  # noqa: ANN001
    from captionbot.feedback.export import ExportError, export

    if not 0 <= args.min_approval <= 1:
        raise UsageError("--min-approval must be from 0 to 1")
    try:
        done = await export(store, args.dir, with_upvoted=args.with_upvoted, min_lower_bound=args.min_approval)
    except ExportError as err:
        raise UsageError(str(err)) from err
    print(f"wrote {args.dir}: {done.images} image(s), {done.suggestions} approved suggestion(s), "
          f"{done.upvoted} upvoted caption(s); check it with `captionbot check-data {args.dir}`")
    return 0


async def _purge(store, args: argparse.Namespace) -> int:  # noqa: ANN001
    from captionbot.core.settings import get_settings

    days = args.older_than_days if args.older_than_days is not None else get_settings().feedback_retention_days
    if days < 1:
        raise UsageError("--older-than-days must be 1 or more")
    votes, suggestions = await store.purge(datetime.now(UTC) - timedelta(days=days))
    print(f"purged what is older than {days} day(s): {votes} vote(s), {suggestions} suggestion(s)")
    return 0


async def _stats(store, args: argparse.Namespace) -> int:  # noqa: ANN001
    from captionbot.bot.feedback_summary import approval_lines, counts_text
    from captionbot.feedback.stats import summary

    if args.json:
        print(json.dumps(await summary(store)))
        return 0
    print(counts_text(await store.counts()))
    for line in await approval_lines(store):
        print(line)
    return 0


def feedback_database_exists(settings) -> bool:  # noqa: ANN001
    from captionbot.feedback.database import SQLITE_FILE

    return settings.feedback_db_url is not None or (Path(settings.data_dir) / SQLITE_FILE).is_file()


def approval_report(settings) -> tuple[list[str], dict] | None:  # noqa: ANN001
    """For `captionbot models`: the approval lines and the JSON of them; None where no feedback was stored."""
    if not feedback_database_exists(settings):
        return None

    async def read(store, _args: None) -> tuple[list[str], dict]:  # noqa: ANN001
        from captionbot.bot.feedback_summary import approval_lines
        from captionbot.feedback.stats import summary

        return await approval_lines(store), await summary(store)

    return asyncio.run(_with_store(read, None))
