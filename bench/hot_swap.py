"""Hot swap under load: the serving stall (largest gap between completions) and the reload time, against the
same load without a swap; peak memory during a swap (worker VmHWM) against two resident models; and whether the
old model's memory, and a refused candidate's, is given back (host RSS, and CUDA's reserved memory on a GPU).

    .venv/bin/python bench/hot_swap.py            # needs Redis at REDIS_URL (default 127.0.0.1:6379)
    .venv/bin/python bench/hot_swap.py --release  # the memory-return phase only (no Redis), DEVICE=cuda on a GPU

Stall phase: tiny checkpoints, so completions come every few ms and a stall would show. Memory phases:
BLIP-base-shaped checkpoints (pretrained and fine-tuned both resident, then a third loaded beside them). The
release phase runs a swap and a refused reload in-process twice, each in a fresh interpreter: with the
worker's memory return (`worker/memory.py`) and, as the baseline, with it switched off.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import CACHE, base_checkpoint, sample_jpeg  # noqa: E402

from captionbot.commands.worker_process import WorkerProcess  # noqa: E402
from captionbot.core.celery_config import make_celery  # noqa: E402
from captionbot.core.control import reload_workers  # noqa: E402
from captionbot.core.jobs import Job, Options  # noqa: E402
from captionbot.core.queue import CaptionQueue  # noqa: E402
from captionbot.core.registry import Registry  # noqa: E402
from captionbot.core.settings import Settings  # noqa: E402

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def registry_with(root: Path, checkpoints: dict[str, Path]) -> Path:
    registry = Registry(root)
    for name, path in checkpoints.items():
        registry.add_version(path, name)
    registry.set_current(next(iter(checkpoints)))
    return root


def start_worker(values: dict[str, str], log: Path) -> WorkerProcess:
    env = {**os.environ, **values, "HF_HUB_OFFLINE": "1", "REDIS_URL": REDIS_URL}
    return WorkerProcess(env, log, name=f"swap-{uuid.uuid4().hex[:6]}@localhost").start(timeout=600)


def steady_load(settings: Settings, stop: threading.Event, completions: list[float], failures: list) -> None:
    async def client():
        queue = CaptionQueue(settings)
        image = sample_jpeg(128)

        async def loop():
            while not stop.is_set():
                result = await queue.caption(Job(image=image, options=Options(beams=1, max_words=10)), timeout=60)
                (failures if result.error else completions).append(time.perf_counter() if not result.error else result.error)

        await asyncio.gather(*(loop() for _ in range(4)))
        await queue.aclose()

    asyncio.run(client())


def largest_gap_ms(times: list[float], start: float, end: float) -> float:
    window = sorted(t for t in times if start <= t <= end)
    return max((b - a for a, b in zip(window, window[1:])), default=float("nan")) * 1000


def stall_phase(work: Path) -> None:
    from captionbot.training.scratch import save_random_blip

    tiny = {name: save_random_blip(work / f"tiny-{name}", ["a", "red", "circle"], seed=i) for i, name in enumerate(("v1", "v2"))}
    values = {"PRETRAINED_MODEL": str(tiny["v1"]), "MODEL_DIR": str(registry_with(work / "tiny-registry", tiny)), "QUEUE_NAME": f"swap-{uuid.uuid4().hex[:6]}", "DEVICE": os.environ.get("DEVICE", "auto")}
    settings = Settings(queue_name=values["QUEUE_NAME"], redis_url=REDIS_URL, _env_file=None)
    worker = start_worker(values, work / "stall.log")
    completions, failures, stop = [], [], threading.Event()
    load = threading.Thread(target=steady_load, args=(settings, stop, completions, failures))
    load.start()
    try:
        time.sleep(5)
        quiet_start = time.perf_counter()
        time.sleep(5)
        quiet_end = swap_start = time.perf_counter()
        replies = [reload_workers(make_celery(settings), version, timeout=120)[0] for version in ("v2", "v1", "v2")]
        swap_end = time.perf_counter()
        time.sleep(1)
    finally:
        stop.set()
        load.join()
        worker.stop()
    print(f"stall phase (tiny model, 4 closed-loop clients): {len(completions)} jobs answered, {len(failures)} failed")
    print(f"  largest gap between completions without a swap: {largest_gap_ms(completions, quiet_start, quiet_end):7.1f} ms")
    print(f"  largest gap during three reloads:                {largest_gap_ms(completions, swap_start, swap_end):7.1f} ms")
    print("  reload time (load + check, per reply): " + ", ".join(f"{r.version} {r.load_s:.2f} s" for r in replies))


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory_phase(work: Path) -> None:
    base = base_checkpoint()
    versions = {"v1": base, "v2": base}
    values = {"PRETRAINED_MODEL": str(base), "MODEL_DIR": str(registry_with(work / "base-registry", versions)), "QUEUE_NAME": f"swapmem-{uuid.uuid4().hex[:6]}", "DEVICE": "cpu"}
    settings = Settings(queue_name=values["QUEUE_NAME"], redis_url=REDIS_URL, _env_file=None)
    worker = start_worker(values, work / "memory.log")
    try:
        CaptionQueue(settings).caption_sync(Job(image=sample_jpeg(), options=Options(beams=1)), timeout=600)
        two_models = vm_kib(worker.process.pid, "VmRSS")
        peak_before = vm_kib(worker.process.pid, "VmHWM")
        (reply,) = reload_workers(make_celery(settings), "v2", timeout=600)
        time.sleep(2)
        peak_during, after = vm_kib(worker.process.pid, "VmHWM"), vm_kib(worker.process.pid, "VmRSS")
    finally:
        worker.stop()
    model_mib = sum(p.stat().st_size for p in base.glob("*.safetensors")) / 2**20
    print(f"memory phase (BLIP-base shape, fp32, CPU): one model's weights {model_mib:.0f} MiB; reload {reply.status} in {reply.load_s:.2f} s")
    print(f"  RSS with two models resident {two_models / 1024:7.0f} MiB (peak so far {peak_before / 1024:.0f} MiB)")
    print(f"  peak RSS through the swap    {peak_during / 1024:7.0f} MiB  (+{(peak_during - two_models) / 1024:.0f} MiB = {(peak_during - two_models) / 1024 / model_mib:.2f} models)")
    print(f"  RSS after the swap           {after / 1024:7.0f} MiB")


def release_run(registry_root: str, returning: bool) -> dict:
    """In this process: both models resident, swap v1 -> v2, then a refused reload; RSS (and CUDA reserved)."""
    import torch

    from captionbot.worker import memory, swap
    from captionbot.worker.startup import build_engine

    if not returning:
        swap.return_memory = memory.return_memory = lambda device: None
    device = os.environ.get("DEVICE", "cpu")
    Registry(registry_root).set_current("v1")  # each run starts from v1 (the one before swapped to v2)
    settings = Settings(pretrained_model=str(base_checkpoint()), model_dir=registry_root, device=device, _env_file=None)
    engine = build_engine(settings)
    swapper = swap.Swapper(engine, settings)
    reserved = (lambda: torch.cuda.memory_reserved() / 2**20) if torch.cuda.is_available() and device != "cpu" else (lambda: None)
    figures = {"two_models": (vm_kib(os.getpid(), "VmRSS") / 1024, reserved())}
    figures["swap"] = swapper.reload("v2")["status"]
    figures["after_swap"] = (vm_kib(os.getpid(), "VmRSS") / 1024, reserved())
    figures["refusal"] = swapper.reload("wrong-config")["status"]
    figures["after_refusal"] = (vm_kib(os.getpid(), "VmRSS") / 1024, reserved())
    engine.close()
    return figures


def release_phase(work: Path) -> None:
    base = base_checkpoint()
    mismatched = work / "mismatched"
    shutil.copytree(base, mismatched)
    processor = json.loads((mismatched / "processor_config.json").read_text())
    processor["image_processor"]["size"] = {"height": 192, "width": 192}  # loads whole, then the check refuses it
    (mismatched / "processor_config.json").write_text(json.dumps(processor))
    root = registry_with(work / "release-registry", {"v1": base, "v2": base, "wrong-config": mismatched})
    model_mib = sum(p.stat().st_size for p in base.glob("*.safetensors")) / 2**20
    print(f"release phase (BLIP-base shape, {os.environ.get('DEVICE', 'cpu')}): one model's weights {model_mib:.0f} MiB; "
          "RSS MiB (CUDA reserved MiB) with two models resident, after a swap, after a refused candidate")
    for label, returning in (("memory kept (baseline)", False), ("memory returned", True)) * 2:
        out = subprocess.run([sys.executable, __file__, "--release-run", str(root), "1" if returning else "0"],
                             capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        f = json.loads(out.stdout.strip().splitlines()[-1])
        cells = [f"{rss:6.0f}" + (f" ({cuda:.0f})" if cuda is not None else "") for rss, cuda in (f["two_models"], f["after_swap"], f["after_refusal"])]
        grown = f["after_refusal"][0] - f["two_models"][0]
        print(f"  {label:24} {' -> '.join(cells)}  ({f['swap']}, {f['refusal']}; +{grown:.0f} MiB = {grown / model_mib:.2f} models)")


def main() -> None:
    if sys.argv[1:2] == ["--release-run"]:
        print(json.dumps(release_run(sys.argv[2], sys.argv[3] == "1")))
        return
    with tempfile.TemporaryDirectory(dir=CACHE if CACHE.exists() else None) as scratch:
        if sys.argv[1:2] != ["--release"]:
            stall_phase(Path(scratch))
            memory_phase(Path(scratch))
        release_phase(Path(scratch))
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
