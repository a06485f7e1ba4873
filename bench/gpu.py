"""The serving path on one GPU, today's path (transformers' `generate`, eager vision attention, images decoded
in the request threads) beside the serving decoder, in one run: single-caption latency, images/s through
`CaptionEngine` at several concurrencies, a decoder step, the vision encoder, variations and compare, and
peak GPU memory. Prints one table; every line is a ratio against the baseline measured in the same run.

    PYTHONPATH=. python bench/gpu.py                     # CUDA: BLIP-base shape, random weights, bf16
    .venv/bin/python bench/gpu.py --shape tiny           # the CPU: small sizes, a smoke run

Random weights run every caption to its token limit (worst case for length).
"""

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from transformers.models.blip.modeling_blip import BlipAttention

sys.path.insert(0, str(Path(__file__).parent))
from common import CACHE, base_checkpoint, percentile, sample_jpeg  # noqa: E402

from captionbot.blip.decoder import TextDecoder  # noqa: E402
from captionbot.blip.devices import pick_dtype  # noqa: E402
from captionbot.blip.graphs import Plan, PlanKey, cache_length  # noqa: E402
from captionbot.blip.search import BeamSearch, Limits  # noqa: E402
from captionbot.blip.vision import FusedBlipAttention  # noqa: E402
from captionbot.core.jobs import MODEL_NAMES, Job, Mode, Options  # noqa: E402
from captionbot.core.settings import BLIP_PROMPT, Settings  # noqa: E402
from captionbot.worker.startup import build_engine  # noqa: E402


def checkpoint(shape: str) -> Path:
    if shape == "base":
        return base_checkpoint()
    from captionbot.training.scratch import caption_words, save_random_blip

    path = CACHE / "blip-tiny-random-prompt"
    if not (path / "model.safetensors").is_file():
        save_random_blip(path, caption_words([BLIP_PROMPT]), shape="tiny")
    return path


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def engine_for(model: Path, device: str, serving: bool):
    settings = Settings(_env_file=None, pretrained_model=str(model), finetuned_model=str(model), device=device,
                        batch_max_size=128, batch_max_wait_ms=0, serving_decoder=serving,
                        image_decode_processes=None if serving else 0)
    engine = build_engine(settings)
    if not serving:  # today's vision encoder: transformers' eager attention
        for name in MODEL_NAMES:
            for layer in engine.model(name).model.vision_model.encoder.layers:
                layer.self_attn.__class__ = BlipAttention
    return engine


def load(engine, make_job, concurrency: int, requests: int) -> dict:
    latencies, lock = [], threading.Lock()

    def one(_):
        started = time.perf_counter()
        engine.run(make_job()).raise_for_error()
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    return {"p50": percentile(latencies, 50), "ips": requests / (time.perf_counter() - started)}


def step_ms(loaded, images: int, beams: int, steps: int, ours: bool) -> float:
    """One decoder step of 3-beam search for `images` images: ms a step."""
    model, device = loaded.model, loaded.device
    prompt = torch.tensor([loaded.prompt], device=device).expand(images * beams, -1)
    patches = (model.config.vision_config.image_size // model.config.vision_config.patch_size) ** 2 + 1
    embeds = torch.randn(images, patches, model.config.vision_config.hidden_size, device=device, dtype=loaded.dtype)
    with torch.inference_mode():
        if ours and device.type != "cuda":  # the CPU steps eagerly, in transformers' arithmetic
            decoder = TextDecoder(model.text_decoder, exact=True)
            images_keys = decoder.image_keys(embeds)
            cache = decoder.new_cache(images * beams, loaded.decoding.max_length, images_keys.keys)
            search = BeamSearch(images, beams, loaded.decoding.max_length, loaded.decoder.eos, device).start(prompt[0])
            limits = Limits(len(loaded.prompt), 0, loaded.decoding.max_length)
            at = len(loaded.prompt) + 1

            def one_step():
                logits = decoder(search.tokens(at), at - 1, cache, images_keys)
                cache.reorder(search.step(logits, at, limits))
        elif ours:
            decoder = loaded.decoder.decoder
            length = cache_length(loaded.decoding.max_length, decoder.positions)
            key = PlanKey("beams", beams, images, length, len(loaded.prompt), patches)
            plan = Plan(key, decoder, loaded.decoder.images, loaded.decoder.caches, device, loaded.decoder.eos,
                        loaded.decoder.pad, 1.0, False)
            plan.search.start(prompt[0])
            if device.type == "cuda":
                plan.capture(torch.cuda.graph_pool_handle())

            def one_step():
                plan.cur_len.fill_(len(loaded.prompt) + 1)
                plan.replay()
        else:
            expanded = embeds.repeat_interleave(beams, dim=0)
            out = model.text_decoder(input_ids=prompt, encoder_hidden_states=expanded, use_cache=True)
            token = out.logits[:, -1].argmax(-1, keepdim=True)

            def one_step():
                model.text_decoder(input_ids=token, encoder_hidden_states=expanded, use_cache=True,
                                   past_key_values=out.past_key_values if hasattr(out, "past_key_values") else out.cache)
        for _ in range(3):
            one_step()
        sync(device)
        started = time.perf_counter()
        for _ in range(steps):
            one_step()
        sync(device)
    return (time.perf_counter() - started) * 1000 / steps


def vision_ips(loaded, batch: int, repeat: int, fused: bool, compiled: bool = False) -> float:
    model = loaded.model.vision_model
    for layer in model.encoder.layers:
        layer.self_attn.__class__ = FusedBlipAttention if fused else BlipAttention
    size = loaded.spec.size
    pixels = torch.randn(batch, 3, size, size, device=loaded.device, dtype=loaded.dtype)
    run = torch.compile(model) if compiled else model
    with torch.inference_mode():
        for _ in range(3):
            run(pixel_values=pixels)
        sync(loaded.device)
        started = time.perf_counter()
        for _ in range(repeat):
            run(pixel_values=pixels)
        sync(loaded.device)
    for layer in model.encoder.layers:
        layer.self_attn.__class__ = FusedBlipAttention
    return batch * repeat / (time.perf_counter() - started)


def row(what: str, base: float, ours: float, unit: str, higher_is_better: bool) -> None:
    ratio = ours / base if higher_is_better else base / ours
    print(f"{what:<44}{base:>12.2f}{ours:>12.2f} {unit:<9}{ratio:>8.2f}x", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--shape", choices=("tiny", "base"), default=None, help="default: base on CUDA, tiny on the CPU")
    parser.add_argument("--concurrency", type=int, nargs="+", default=None, help="default: 8 32 128 (CUDA), 8 (CPU)")
    parser.add_argument("--requests", type=int, default=None, help="per measurement (default: 4 x concurrency)")
    parser.add_argument("--compile", action="store_true", help="also time the vision encoder under torch.compile")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    shape = args.shape or ("base" if cuda else "tiny")
    concurrencies = args.concurrency or ([8, 32, 128] if cuda else [8])
    model = checkpoint(shape)
    image = sample_jpeg(1024)
    card = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"{card}, {shape} shape, {pick_dtype(device)}, torch {torch.__version__}; 3 beams, <= 20 tokens", flush=True)
    print(f"{'':<44}{'generate':>12}{'ours':>12} {'':<9}{'ratio':>9}")

    # Ours first, alone on the device, for its memory: both models, then a batch of 128.
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    ours = engine_for(model, args.device, serving=True)
    if cuda:
        loaded_mib = torch.cuda.memory_allocated() / 2**20
        load(ours, lambda: Job(image=image), 128, 128)
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    base = engine_for(model, args.device, serving=False)

    single = lambda: Job(image=image)  # noqa: E731
    for engine in (base, ours):
        load(engine, single, 1, 3)  # warm-up: first captures, first kernels
    requests = args.requests or 30
    b, o = load(base, single, 1, requests), load(ours, single, 1, requests)
    row("single caption p50, concurrency 1", b["p50"], o["p50"], "ms", higher_is_better=False)
    for concurrency in concurrencies:
        count = args.requests or 4 * concurrency
        b, o = load(base, single, concurrency, count), load(ours, single, concurrency, count)
        row(f"single captions, {concurrency} concurrent", b["ips"], o["ips"], "images/s", True)
    for name, make in (("variations", lambda: Job(image=image, mode=Mode.variations, options=Options())),
                       ("compare", lambda: Job(image=image, models=MODEL_NAMES))):
        concurrency = 32 if cuda else 4
        count = args.requests or 4 * concurrency
        b, o = load(base, make, concurrency, count), load(ours, make, concurrency, count)
        row(f"{name}, {concurrency} concurrent", b["ips"], o["ips"], "images/s", True)

    loaded = ours.model("pretrained")
    steps = 50 if cuda else 5
    for images in (1, 32):
        row(f"decoder step, {images * 3} rows", step_ms(loaded, images, 3, steps, ours=False),
            step_ms(loaded, images, 3, steps, ours=True), "ms", False)
    batch = 64 if cuda else 8
    eager = vision_ips(loaded, batch, 10, fused=False)
    row(f"vision encoder, batch {batch}", eager, vision_ips(loaded, batch, 10, fused=True), "images/s", True)
    if cuda:
        print(f"GPU memory, both models loaded: {loaded_mib:.0f} MiB; peak with a batch of 128: {peak_mib:.0f} MiB",
              flush=True)
    if args.compile:
        row(f"vision encoder, batch {batch}, torch.compile", eager, vision_ips(loaded, batch, 10, True, True),
            "images/s", True)
    for engine in (base, ours):
        engine.close()


if __name__ == "__main__":
    main()
