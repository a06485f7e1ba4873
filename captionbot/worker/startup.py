"""Loading both models at worker start: the pretrained one must load; the fine-tuned one may be missing."""

import logging

from captionbot.blip.devices import pick_device, pick_dtype
from captionbot.core.errors import InvalidVersion
from captionbot.core.settings import Settings
from captionbot.worker.engine import CaptionEngine
from captionbot.worker.models import (
    ModelLoadError,
    finetuned_source,
    load_model,
    pretrained_source,
)

log = logging.getLogger("captionbot.worker")


def build_engine(settings: Settings) -> CaptionEngine:
    """Raises `ModelLoadError` when the pretrained model cannot be loaded."""
    device = pick_device(settings.device)
    dtype = pick_dtype(device)
    pretrained = load_model("pretrained", pretrained_source(settings), device, dtype, settings.cpu_int8)
    log.info("loaded pretrained %s on %s (%s) in %.1f s", pretrained.version, device, dtype, pretrained.load_s)
    finetuned = None
    try:
        source = finetuned_source(settings)
        if source is None:
            log.warning("no fine-tuned model: FINETUNED_MODEL is unset and the registry has no CURRENT")
        else:
            finetuned = load_model("finetuned", source, device, dtype, settings.cpu_int8)
            log.info("loaded finetuned %s in %.1f s", finetuned.version, finetuned.load_s)
    except (ModelLoadError, InvalidVersion) as err:
        log.error("serving without a fine-tuned model: %s", err)
    return CaptionEngine(settings, {"pretrained": pretrained, "finetuned": finetuned})
