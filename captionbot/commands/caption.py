"""`captionbot caption PATH...`: caption files and folders, in-process or through the queue."""

import argparse
import asyncio
import csv
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from captionbot.core.csv_cells import written_cell
from captionbot.core.errors import CaptionError, InvalidOptions, UsageError
from captionbot.core.images import IMAGE_SUFFIXES
from captionbot.core.jobs import MODEL_NAMES, Job, JobResult, Mode, make_options

MAX_IN_FLIGHT = 32


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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        options = make_options(beams=args.beams, max_words=args.max_words, temperature=args.temperature)
    except InvalidOptions as err:
        raise UsageError(err.message) from err
    paths = list(expand_paths(args.paths))
    models = MODEL_NAMES if args.compare else (args.model,)
    mode = Mode.variations if args.variations else Mode.single
    make_job = lambda data: Job(image=data, models=models, mode=mode, options=options)  # noqa: E731
    results = _via_queue(paths, make_job, args.timeout) if args.queue else _in_process(paths, make_job)
    writer = make_writer(args, sys.stdout)
    failed = 0
    for path, result in _progress(zip(paths, results), len(paths)):
        failed += result.error is not None
        writer(str(path), result)
    return 1 if failed else 0


def expand_paths(raw_paths: list[str]) -> Iterator[Path]:
    for raw in raw_paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            yield path
        else:
            raise UsageError(f"{raw}: no such file or folder")


def _in_process(paths: list[Path], make_job: Callable[[bytes], Job]) -> Iterator[JobResult]:
    from captionbot.core.settings import get_settings
    from captionbot.blip.loading import ModelLoadError
    from captionbot.worker.startup import build_engine

    try:
        engine = build_engine(get_settings())
    except ModelLoadError as err:
        raise UsageError(str(err)) from err
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


def _progress(items: Iterator, total: int) -> Iterator:
    """A progress bar on a terminal when there are many images; silent in pipes."""
    from tqdm import tqdm

    return iter(tqdm(items, total=total, unit="image", file=sys.stderr, disable=total < 4 or not sys.stderr.isatty()))


def make_writer(args: argparse.Namespace, stream) -> Callable[[str, JobResult], None]:
    if args.json:
        return lambda image, result: print(json.dumps(json_line(image, result), ensure_ascii=False), file=stream, flush=True)
    if args.csv:
        rows = csv.writer(stream)
        rows.writerow(["image", "model", "version", "caption", "ms", "error_code", "error_message"])
        return lambda image, result: rows.writerows(csv_rows(image, result))
    return lambda image, result: print(text_lines(image, result), file=stream, flush=True)


def json_line(image: str, result: JobResult) -> dict:
    if result.error is not None:
        return {"image": image, "error": result.error}
    return {
        "image": image,
        "results": {
            name: {"version": r.version, "captions": r.captions, "ms": round(r.ms), "queue_ms": round(r.queue_ms)}
            for name, r in result.results.items()
        },
    }


def csv_rows(image: str, result: JobResult) -> list[list]:
    """File names and captions are anyone's text: none is written as a spreadsheet formula."""
    if result.error is not None:
        return [[written_cell(image), "", "", "", "", result.error["code"], result.error["message"]]]
    return [
        [written_cell(image), name, r.version, written_cell(caption), round(r.ms), "", ""]
        for name, r in result.results.items()
        for caption in r.captions
    ]


def text_lines(image: str, result: JobResult) -> str:
    if result.error is not None:
        return f"{image}: refused ({result.error['code']}): {result.error['message']}"
    if len(result.results) == 1 and len(next(iter(result.results.values())).captions) == 1:
        return f"{image}: {next(iter(result.results.values())).captions[0]}"
    lines = [f"{image}:"]
    for name, r in result.results.items():
        lines += [f"  {name} ({r.version}): {caption}" for caption in r.captions]
    return "\n".join(lines)
