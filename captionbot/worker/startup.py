"""Loading both models at worker start: the pretrained one must load; the fine-tuned one may be missing.

The fine-tuned one goes through the same fetch, load and check as a reload (`candidate.py`): a version that a
reload would refuse is never served after a restart. When CURRENT is refused, the versions live before it are
tried, newest first, so a restarted worker serves the last good version rather than nothing.
"""

import logging
from collections.abc import Callable, Collection
from pathlib import Path

from captionbot.blip.devices import pick_device, pick_dtype
from captionbot.blip.loading import LoadedModel, load_model, pretrained_source
from captionbot.core.jobs import MODEL_NAMES
from captionbot.core.registry import Registry, RegistryError
from captionbot.core.settings import Settings
from captionbot.worker.candidate import REFUSALS, load_folder, prepare_version, refusal_reason
from captionbot.worker.engine import CaptionEngine
from captionbot.worker.memory import return_memory

log = logging.getLogger("captionbot.worker")

FALLBACKS = 3  # earlier live versions tried when CURRENT is refused at start


def build_engine(settings: Settings, names: Collection[str] = MODEL_NAMES) -> CaptionEngine:
    """Raises `ModelLoadError` when the pretrained model cannot be loaded. A worker loads both models; a
    command that needs one (`captionbot caption --model finetuned`) names it and the other stays unloaded."""
    pretrained = finetuned = None
    if "pretrained" in names:
        device = pick_device(settings.device)
        dtype = pick_dtype(device)
        pretrained = load_model("pretrained", pretrained_source(settings), device, dtype, settings.cpu_int8,
                                settings.serving_decoder, settings.compile_vision)
        log.info("loaded pretrained %s on %s (%s) in %.1f s", pretrained.version, device, dtype, pretrained.load_s)
    if "finetuned" in names:
        finetuned = load_finetuned(settings)
    if finetuned is not None:
        log.info("loaded finetuned %s in %.1f s", finetuned.version, finetuned.load_s)
    return CaptionEngine(settings, {"pretrained": pretrained, "finetuned": finetuned})


def load_finetuned(settings: Settings) -> LoadedModel | None:
    """`FINETUNED_MODEL` (a folder or a registry version), else the registry's CURRENT, checked; else none."""
    wanted = settings.finetuned_model
    if wanted and Path(wanted).is_dir():
        return _first_fit([wanted], lambda folder: load_folder(folder, settings), settings)
    registry = Registry(settings.model_dir)
    try:
        versions = [wanted] if wanted else start_versions(registry)
    except RegistryError as err:
        log.error("serving without a fine-tuned model: %s", err.message)
        return None
    if not versions:
        log.warning("no fine-tuned model: FINETUNED_MODEL is unset and the registry has no CURRENT")
        return None
    return _first_fit(versions, lambda version: prepare_version(registry, settings, version), settings)


def start_versions(registry: Registry) -> list[str]:
    """CURRENT, then the versions live before it (newest first), each once."""
    current = registry.current()
    if current is None:
        return []
    earlier = [name for name in dict.fromkeys(reversed(registry.history())) if name != current]
    return [current, *earlier[:FALLBACKS]]


def _first_fit(choices: list[str], prepare: Callable[[str], LoadedModel], settings: Settings) -> LoadedModel | None:
    for choice in choices:
        try:
            return prepare(choice)
        except REFUSALS as err:
            log.error("refused finetuned %s at start: %s", choice, refusal_reason(err))
        return_memory(pick_device(settings.device))
    log.error("serving without a fine-tuned model: %s refused", ", ".join(choices))
    return None
