"""Peak memory of a bot's image step under hostile files: eight PNGs of a few hundred KB that decode to
7000x7000 RGBA, shrunk at once as `CaptionService` does (`shrink_for_job` on asyncio's threads), through
today's path and through the path before bounded decoding (core/images.py at commit BEFORE). Each path runs
in a fresh process; the figure is its peak RSS (VmHWM) over its RSS just before (Linux: ru_maxrss would carry
the parent's peak across exec).

    .venv/bin/python bench/image_memory.py [--files 8] [--side 7000]
"""

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "4b474f1"  # the last commit before bounded decoding


def hostile_png(path: Path, side: int, seed: int) -> None:
    """Mostly flat RGBA (so it compresses to a few hundred KB) with a few translucent shapes."""
    image = Image.new("RGBA", (side, side), (20 + seed, 120, 200, 160))
    draw = ImageDraw.Draw(image)
    for i in range(6):
        box = (i * side // 7, i * side // 9, i * side // 7 + side // 5, i * side // 9 + side // 6)
        draw.ellipse(box, fill=(250, 40 * i, 30, 90))
    image.save(path, format="PNG")


def load_module(path: Path) -> object:
    spec = importlib.util.spec_from_file_location("images_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def memory_kib(field: str) -> int:
    """A line of /proc/self/status: VmRSS (resident now) or VmHWM (the peak of this process), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(module_path: Path, files: list[Path]) -> None:
    """Child process: read the files, note the peak RSS, shrink them all at once, print the rise in MiB."""
    shrink = load_module(module_path).shrink_for_job
    blobs = [path.read_bytes() for path in files]

    async def all_at_once() -> list[bytes]:
        return await asyncio.gather(*(asyncio.to_thread(shrink, data, 25 * 2**20, 50_000_000, 768) for data in blobs))

    before = memory_kib("VmRSS")
    shrunk = asyncio.run(all_at_once())
    rise = (memory_kib("VmHWM") - before) / 1024
    print(f"{rise:.0f} {sum(map(len, shrunk))}")


def run_path(label: str, module_path: Path, files: list[Path]) -> float:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(module_path), *map(str, files)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout.split()
    print(f"{label:<40} peak RSS rise {float(output[0]):7.0f} MiB  ({int(output[1]) // 1024} KiB of JPEG out)")
    return float(output[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(Path(args.child[0]), [Path(p) for p in args.child[1:]])
        return
    with tempfile.TemporaryDirectory() as work:
        files = [Path(work) / f"hostile-{i}.png" for i in range(args.files)]
        for i, path in enumerate(files):
            hostile_png(path, args.side, i)
        old = Path(work) / "images_before.py"
        old.write_text(subprocess.run(["git", "show", f"{BEFORE}:captionbot/core/images.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        sizes = sorted(path.stat().st_size // 1024 for path in files)
        print(f"{args.files} PNGs of {args.side}x{args.side} RGBA, {sizes[0]}-{sizes[-1]} KiB each, shrunk at once to 768 px")
        before = run_path(f"before (commit {BEFORE})", old, files)
        after = run_path("bounded (captionbot/core/images.py)", ROOT / "captionbot" / "core" / "images.py", files)
        print(f"ratio: {before / after:.1f}x less")


if __name__ == "__main__":
    main()
