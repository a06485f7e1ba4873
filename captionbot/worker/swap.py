"""Hot swap of the fine-tuned model: load a registry version beside the serving one, check it, swap it in
between batches, free the old one. A version that fails the check is refused and the old one keeps serving.

Loading takes seconds, so it runs on its own thread: the control command that starts it returns at once
(Celery runs control commands on the consumer's loop, which must keep taking jobs meanwhile), and the outcome
is read back by request id through the status command.
"""

import logging
import threading
import time

import torch
from PIL import Image

from captionbot.blip.devices import pick_device, pick_dtype
from captionbot.core.errors import CaptionError
from captionbot.core.registry import Registry, validate_version
from captionbot.core.settings import Settings
from captionbot.worker.engine import CaptionEngine
from captionbot.worker.generation import beam_captions
from captionbot.worker.models import LoadedModel, ModelLoadError, ModelSource, load_model
from captionbot.worker.preprocess import to_pixel_values

log = logging.getLogger("captionbot.worker")

MAX_OUTCOMES = 32


class CheckFailed(Exception):
    """A loaded checkpoint is unfit to serve; the message says why."""


class Swapper:
    def __init__(self, engine: CaptionEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.registry = Registry(settings.model_dir)
        self._lock = threading.Lock()
        self._outcomes: dict[str, dict] = {}
        self._loading: str | None = None

    def start(self, version: str | None, request_id: str) -> dict:
        """Begin a reload; the reply says it was accepted, or why not at once."""
        with self._lock:
            if self._loading is not None:
                return self._refusal(f"another reload (request {self._loading}) is still loading")
            self._loading = request_id
            self._outcomes[request_id] = {"status": "loading"}
        threading.Thread(target=self._reload, args=(version, request_id), name="reload", daemon=True).start()
        return {"status": "accepted"}

    def outcome(self, request_id: str) -> dict | None:
        with self._lock:
            return self._outcomes.get(request_id)

    def reload(self, version: str | None) -> dict:
        """Load, check and swap in `version` (default: the registry's CURRENT) on this thread."""
        live = self.engine.model("finetuned")
        started = time.perf_counter()
        try:
            version = validate_version(version) if version else self.registry.current()
            if not version:
                raise CheckFailed("no version given and the registry has no CURRENT")
            if live is not None and live.version == version:
                return {"status": "unchanged", "version": version, "load_s": 0.0}
            candidate = self._load(version)
            check(candidate)
        except (CheckFailed, ModelLoadError, CaptionError) as err:
            reason = getattr(err, "message", None) or str(err)
            log.error("reload of %s refused: %s", version, reason)
            return self._refusal(reason)
        self.engine.swap("finetuned", candidate)
        del live  # the old model is freed once the batches that hold it finish
        self.registry.set_current(version)
        load_s = round(time.perf_counter() - started, 3)
        log.info("now serving finetuned %s (loaded and checked in %.2f s)", version, load_s)
        return {"status": "ok", "version": version, "load_s": load_s}

    def _reload(self, version: str | None, request_id: str) -> None:
        try:
            outcome = self.reload(version)
        except Exception as err:  # noqa: BLE001 - a failed reload must never take the worker down
            log.exception("reload failed")
            outcome = self._refusal(f"unexpected error: {type(err).__name__}")
        with self._lock:
            self._outcomes[request_id] = outcome
            self._loading = None
            while len(self._outcomes) > MAX_OUTCOMES:
                self._outcomes.pop(next(iter(self._outcomes)))

    def _load(self, version: str) -> LoadedModel:
        device = pick_device(self.settings.device)
        path = self.registry.version_path(version)
        return load_model("finetuned", ModelSource(str(path), version), device, pick_dtype(device), self.settings.cpu_int8)

    def _refusal(self, reason: str) -> dict:
        live = self.engine.model("finetuned")
        return {"status": "refused", "version": live.version if live else None, "reason": reason}


def probe_picture(size: int) -> Image.Image:
    """A smooth colour gradient, size × size."""
    ramp = torch.linspace(0, 255, size).to(torch.uint8)
    rgb = torch.stack([ramp.expand(size, size), ramp.expand(size, size).T, ramp.flip(0).expand(size, size)], dim=-1)
    return Image.fromarray(rgb.numpy())


def check(candidate: LoadedModel) -> None:
    """It loads (done), its processor matches its config, it captions a probe image, its outputs are finite."""
    config = candidate.model.config
    if candidate.spec.size != config.vision_config.image_size:
        raise CheckFailed(
            f"its processor resizes to {candidate.spec.size} px but the model expects {config.vision_config.image_size} px"
        )
    if len(candidate.tokenizer) > config.text_config.vocab_size:
        raise CheckFailed(
            f"its tokenizer has {len(candidate.tokenizer)} tokens but the model only {config.text_config.vocab_size}"
        )
    pixel_values = to_pixel_values([probe_picture(candidate.spec.size)], candidate.spec, candidate.device, candidate.dtype)
    with torch.inference_mode():
        input_ids = torch.tensor([[config.text_config.bos_token_id]], device=candidate.device)
        logits = candidate.model(pixel_values=pixel_values.to(candidate.device, candidate.dtype), input_ids=input_ids).logits
    if not torch.isfinite(logits).all():
        raise CheckFailed("it produces non-finite outputs (NaN or infinity) on a probe image")
    (caption,) = beam_captions(candidate, pixel_values, beams=1, max_words=10)
    if not caption.strip():
        raise CheckFailed("it captions a probe image with nothing")
