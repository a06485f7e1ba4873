"""`captionbot caption PATH...`: caption files and folders, in-process or through the queue."""

import argparse
import asyncio
import csv
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from captionbot.core.csv_cells import written_cell
from captionbot.core.errors import ACCEPTED_IMAGES, CaptionError, InvalidOptions, UsageError
from captionbot.core.images import IMAGE_SUFFIXES
from captionbot.core.jobs import MODEL_NAMES, Job, JobResult, Mode, make_options
from captionbot.commands.verbosity import Verbosity

MAX_IN_FLIGHT = 32
NOT_PUBLISHED = "not_published"  # a compare's fine-tuned side where no fine-tuned model is published
REDIS_PROBE_S = 2.0
SECOND_LOOK_S = 2.5  # the no-worker answer within 5 s: a 2 s broadcast, then this one


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("caption", help="caption image files or folders")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, or folders of them")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", choices=MODEL_NAMES, default="finetuned", help="model to use (default finetuned)")
    which.add_argument("--compare", action="store_true", help="caption with both models")
    parser.add_argument("--variations", action="store_true", help="three sampled captions at rising temperature")
    parser.add_argument("--beams", type=int, help="beam width, 1-5 (default 3)")
    parser.add_argument("--max-words", type=int, help="longest caption in words, 10-50 (default 20)")
    parser.add_argument("--temperature", type=float, help="scales the variation temperatures, 0.5-2.0 (default 1.0)")
    parser.add_argument("--queue", action="store_true", help="send the jobs through Redis to the workers")
    parser.add_argument("--timeout", type=float, help="seconds to wait for each job with --queue (default JOB_TIMEOUT_S)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per image (JSON Lines)")
    out.add_argument("--csv", action="store_true", help="CSV rows: image, model, version, caption, ms, error")
    parser.set_defaults(func=run, log_level=logging.WARNING)  # it says itself which models it used


def run(args: argparse.Namespace) -> int:
    try:
        options = make_options(beams=args.beams, max_words=args.max_words, temperature=args.temperature)
    except InvalidOptions as err:
        raise UsageError(err.message) from err
    paths, passed_over = find_images(args.paths)
    for line in passed_over:
        print(f"captionbot caption: {line}", file=sys.stderr)
    if not paths:
        return 1
    wanted = MODEL_NAMES if args.compare else (args.model,)
    mode = Mode.variations if args.variations else Mode.single
    if args.queue:
        models, missing = _queue_models(wanted, args.verbosity)
        results = _via_queue(paths, lambda data: Job(image=data, models=models, mode=mode, options=options), args.timeout)
    else:
        models, missing, engine = _in_process_models(wanted, args.verbosity)
        results = _in_process(paths, lambda data: Job(image=data, models=models, mode=mode, options=options), engine)
    writer = make_writer(args, sys.stdout, missing if args.compare else {})
    failed = 0
    for path, result in _progress(map(_said_here, paths, results), len(paths), args.verbosity):
        failed += result.error is not None
        writer(str(path), result)
    return 1 if failed or passed_over else 0


def _said_here(path: Path, result: JobResult) -> tuple[Path, JobResult]:
    """A model a worker or the engine could not serve, in this command's words (theirs are a chat user's)."""
    from captionbot.commands.model_choice import PUBLISH_HINT

    if result.error and result.error.get("code") == "model_unavailable":
        error = {**result.error, "message": f"That model is not loaded (refused or not published); {PUBLISH_HINT}."}
        result = result.model_copy(update={"error": error})
    return path, result


def find_images(raw_paths: list[str]) -> tuple[list[Path], list[str]]:
    """The images to caption, and a line for each folder with none and each file in a folder that is not an
    image (hidden files and folders, such as `.DS_Store` or `.git`, are left out silently). A file named
    directly is always tried: the image check says what is wrong with it."""
    images, passed_over = [], []
    for raw in raw_paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path)))
            found = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            images += found
            passed_over += [f"{p}: skipped, not an image ({ACCEPTED_IMAGES})" for p in files if p not in found]
            if not found:
                passed_over.append(f"{raw}: no images in this folder")
        elif path.is_file():
            images.append(path)
        else:
            raise UsageError(f"{raw}: no such file or folder")
    return images, passed_over


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _in_process_models(wanted: tuple[str, ...], verbosity: Verbosity):
    """The models to ask for, those not published (name -> sentence) and the engine that serves them."""
    from captionbot.blip.loading import ModelLoadError
    from captionbot.commands.model_choice import choose_models
    from captionbot.core.settings import get_settings
    from captionbot.worker.startup import build_engine

    choice = choose_models(get_settings(), wanted)
    models = tuple(name for name in wanted if name in choice.load) or ("pretrained",)
    missing = {name: choice.not_published() for name in wanted if name not in choice.load}
    if not verbosity.quiet:
        if missing:
            print(f"captionbot caption: {choice.not_published()} Captioning with the pretrained model.", file=sys.stderr)
        print(f"captionbot caption: {choice.summary()}", file=sys.stderr)
    try:
        engine = build_engine(choice.settings, choice.load)
    except ModelLoadError as err:
        raise UsageError(str(err)) from err
    return models, missing, engine


def _queue_models(wanted: tuple[str, ...], verbosity: Verbosity):
    """As `_in_process_models`, from what the workers that consume the queue serve; `UsageError` within
    a few seconds where none does or Redis does not answer."""
    import redis
    from kombu.exceptions import OperationalError
    from kombu.utils.url import sanitize_url

    from captionbot.commands.model_choice import PUBLISH_HINT
    from captionbot.core.celery_config import make_celery
    from captionbot.core.control import no_worker, serving_workers
    from captionbot.core.redis_login import login_refused
    from captionbot.core.settings import get_settings

    settings = get_settings()
    url = settings.redis_url.get_secret_value()
    redis_at = f"Redis at {sanitize_url(url)}"

    def unreachable(err: Exception) -> UsageError:
        return UsageError(f"{redis_at} cannot be reached ({type(err).__name__}); leave out --queue to caption "
                          "in-process")

    client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_PROBE_S, socket_timeout=REDIS_PROBE_S)
    try:
        client.ping()  # once, briefly: Celery would retry a Redis that does not answer for seconds
    except redis.AuthenticationError as err:
        raise UsageError(login_refused(url) or f"{redis_at} refused the login") from err
    except (redis.RedisError, OSError) as err:
        raise unreachable(err) from err
    finally:
        client.close()
    app = make_celery(settings)
    try:
        # A worker busy with a batch may answer the broadcast late: a second, longer window before saying
        # there is none (within 5 s in all).
        workers = serving_workers(app, settings.queue_name) or serving_workers(app, settings.queue_name,
                                                                               SECOND_LOOK_S)
    except (OperationalError, redis.RedisError, OSError) as err:
        raise unreachable(err) from err
    if not workers:
        raise UsageError(f"{no_worker(settings.queue_name)} at {redis_at}; start one with `captionbot worker`, "
                         "or leave out --queue to caption in-process")
    if any(w.version for w in workers) or "finetuned" not in wanted:
        return wanted, {}
    sentence = f"No fine-tuned model is published for the workers on the queue {settings.queue_name}; {PUBLISH_HINT}."
    if not verbosity.quiet:
        print(f"captionbot caption: {sentence} Captioning with the pretrained model.", file=sys.stderr)
    return tuple(name for name in wanted if name != "finetuned") or ("pretrained",), {"finetuned": sentence}


def _in_process(paths: list[Path], make_job: Callable[[bytes], Job], engine) -> Iterator[JobResult]:
    try:
        for path in paths:
            yield engine.run(make_job(path.read_bytes()))
    finally:
        engine.close()


def _via_queue(paths: list[Path], make_job: Callable[[bytes], Job], timeout: float | None) -> Iterator[JobResult]:
    """Up to MAX_IN_FLIGHT jobs at once, so the workers can batch them; results come back in input order."""
    from captionbot.core.images import shrink_for_job
    from captionbot.core.queue import CaptionQueue
    from captionbot.core.settings import get_settings

    settings = get_settings()
    loop = asyncio.new_event_loop()
    queue = CaptionQueue(settings)
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def one(path: Path) -> JobResult:
        async with slots:
            try:
                data = shrink_for_job(path.read_bytes(), settings.max_image_bytes, settings.max_image_pixels, settings.job_image_side)
                return await queue.caption(make_job(data), timeout)
            except CaptionError as err:
                return JobResult.failed(str(path), err)

    tasks = [loop.create_task(one(path)) for path in paths]
    try:
        for task in tasks:
            yield loop.run_until_complete(task)
    finally:
        for task in tasks:
            task.cancel()
        loop.run_until_complete(queue.aclose())
        loop.close()


def _progress(items: Iterator, total: int, verbosity: Verbosity) -> Iterator:
    """A progress bar on a terminal when there are many images; silent in pipes and with --quiet."""
    from tqdm import tqdm

    return iter(tqdm(items, total=total, unit="image", file=sys.stderr, disable=total < 4 or not verbosity.progress()))


def make_writer(args: argparse.Namespace, stream, missing: dict[str, str] | None = None) -> Callable[[str, JobResult], None]:
    """`missing`: models asked for that are not published (name -> sentence), shown beside each image's captions."""
    missing = missing or {}
    if args.json:
        return lambda image, result: print(json.dumps(json_line(image, result, missing), ensure_ascii=False), file=stream, flush=True)
    if args.csv:
        rows = csv.writer(stream)
        rows.writerow(["image", "model", "version", "caption", "ms", "error_code", "error_message"])
        return lambda image, result: rows.writerows(csv_rows(image, result, missing))
    return lambda image, result: print(text_lines(image, result, missing), file=stream, flush=True)


def json_line(image: str, result: JobResult, missing: dict[str, str] | None = None) -> dict:
    if result.error is not None:
        return {"image": image, "error": result.error}
    results = {
        name: {"version": r.version, "captions": r.captions, "ms": round(r.ms), "queue_ms": round(r.queue_ms)}
        for name, r in result.results.items()
    }
    for name, sentence in (missing or {}).items():
        results[name] = {"version": None, "captions": [], "error": {"code": NOT_PUBLISHED, "message": sentence}}
    return {"image": image, "results": results}


def csv_rows(image: str, result: JobResult, missing: dict[str, str] | None = None) -> list[list]:
    """File names and captions are anyone's text: none is written as a spreadsheet formula."""
    if result.error is not None:
        return [[written_cell(image), "", "", "", "", result.error["code"], result.error["message"]]]
    return [
        [written_cell(image), name, r.version, written_cell(caption), round(r.ms), "", ""]
        for name, r in result.results.items()
        for caption in r.captions
    ] + [[written_cell(image), name, "", "", "", NOT_PUBLISHED, sentence] for name, sentence in (missing or {}).items()]


def text_lines(image: str, result: JobResult, missing: dict[str, str] | None = None) -> str:
    if result.error is not None:
        return f"{image}: refused ({result.error['code']}): {result.error['message']}"
    if not missing and len(result.results) == 1 and len(next(iter(result.results.values())).captions) == 1:
        return f"{image}: {next(iter(result.results.values())).captions[0]}"
    lines = [f"{image}:"]
    for name, r in result.results.items():
        lines += [f"  {name} ({r.version}): {caption}" for caption in r.captions]
    lines += [f"  {name}: not published" for name in (missing or {})]
    return "\n".join(lines)
