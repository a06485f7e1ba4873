"""Hot swap of the fine-tuned model: fetch a registry version, load it beside the serving one, check it, swap it
in between batches, make it the store's CURRENT and give the old model's memory back. A version that fails
(its files do not match their manifest, it does not load or check, or the quality gate holds it back) is
refused with the reason, the old one keeps serving, and the refused model's memory is given back too.

Loading takes seconds, so it runs on its own thread: the control command that starts it returns at once
(Celery runs control commands on the consumer's loop, which must keep taking jobs meanwhile), and the outcome
is read back by request id through the status command.
"""

import logging
import threading
import time

from captionbot.blip.fitness import CheckFailed
from captionbot.blip.loading import LoadedModel
from captionbot.core.errors import CaptionError
from captionbot.core.registry import Registry, RegistryError, gate_refusal, validate_version
from captionbot.core.settings import Settings
from captionbot.worker.candidate import REFUSALS, prepare_version, refusal_reason
from captionbot.worker.engine import CaptionEngine
from captionbot.worker.memory import Retiring, return_memory

log = logging.getLogger("captionbot.worker")

MAX_OUTCOMES = 32
LISTING_TTL_S = 30.0


class Swapper:
    def __init__(self, engine: CaptionEngine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.registry = Registry(settings.model_dir)
        self._lock = threading.Lock()
        self._outcomes: dict[str, dict] = {}
        self._loading: str | None = None
        self._listing = threading.Lock()
        self._available: list[str] = []
        self._listed_at = float("-inf")
        self._list_versions()

    def available(self) -> list[str]:
        """The registry's versions as last listed; a listing older than LISTING_TTL_S is renewed on a thread of
        its own, so the status command (on the consumer's loop) never waits for the store."""
        if time.monotonic() - self._listed_at > LISTING_TTL_S and self._listing.acquire(blocking=False):
            self._listing.release()
            threading.Thread(target=self._list_versions, name="list-versions", daemon=True).start()
        return self._available

    def _list_versions(self) -> None:
        with self._listing:
            try:
                self._available = self.registry.names()
            except RegistryError as err:
                log.error("could not list the registry's versions: %s", err.message)
            self._listed_at = time.monotonic()

    def start(self, version: str | None, request_id: str, force: bool = False) -> dict:
        """Begin a reload; the reply says it was accepted, or why not at once."""
        with self._lock:
            if self._loading is not None:
                return self._refusal(f"another reload (request {self._loading}) is still loading")
            self._loading = request_id
            self._outcomes[request_id] = {"status": "loading"}
        threading.Thread(target=self._reload, args=(version, request_id, force), name="reload", daemon=True).start()
        return {"status": "accepted"}

    def outcome(self, request_id: str) -> dict | None:
        with self._lock:
            return self._outcomes.get(request_id)

    def resolve_previous(self) -> dict:
        """The version live before the store's CURRENT, resolved once for all workers by the sender of a
        rollback, so every worker moves to the same version."""
        try:
            before = self.registry.previous()
        except RegistryError as err:
            return self._refusal(err.message)
        if before is None:
            return self._refusal(f"the registry has no version live before {self.registry.current()}")
        return {"status": "resolved", "version": before}

    def reload(self, version: str | None, force: bool = False) -> dict:
        """Fetch, gate, load, check and swap in `version` (default: the store's CURRENT) on this thread."""
        started = time.perf_counter()
        live = self.engine.model("finetuned")
        try:
            version = validate_version(version) if version else self.registry.current()
            if not version:
                raise CheckFailed("no version given and the registry has no CURRENT")
            if live is not None and live.version == version:
                return {"status": "unchanged", "version": version, "load_s": 0.0}
            if not force:
                self._gate(version, live)
            candidate = prepare_version(self.registry, self.settings, version)
        except REFUSALS as err:
            reason = refusal_reason(err)
            log.error("reload of %s refused: %s", version, reason)
            refusal = self._refusal(reason)
        else:
            retiring = Retiring(live.model, live.device) if live else None
            del live  # from here on only the batches that started on the old model hold it
            return self._swap_in(candidate, retiring, started)
        # The refused candidate went with the exception: give its memory back.
        return_memory(live.device if live else self.engine.model("pretrained").device)
        return refusal

    def _swap_in(self, candidate: LoadedModel, retiring: Retiring | None, started: float) -> dict:
        version, load_s = candidate.version, round(time.perf_counter() - started, 3)
        self.engine.swap("finetuned", candidate)
        reply = {"status": "ok", "version": version, "load_s": load_s}
        try:
            self.registry.set_current(version)
        except RegistryError as err:
            log.error("now serving %s, but the registry's CURRENT could not be written: %s", version, err.message)
            reply["reason"] = f"serving it, but CURRENT was not written: {err.message}"
        log.info("now serving finetuned %s (fetched, loaded and checked in %.2f s)", version, load_s)
        self._list_versions()
        if retiring is not None:
            retiring.wait()
        return reply

    def _gate(self, version: str, live: LoadedModel | None) -> None:
        if live is None:
            return
        reason = gate_refusal(
            version, self.registry.metrics(version), live.version, self._metrics_of(live.version),
            self.settings.quality_gate_margin,
        )
        if reason:
            raise CheckFailed(reason)

    def _metrics_of(self, version: str) -> dict:
        try:
            return self.registry.metrics(version)
        except CaptionError:  # live from a folder (FINETUNED_MODEL) whose name is no version: nothing to compare
            return {}

    def _reload(self, version: str | None, request_id: str, force: bool) -> None:
        try:
            outcome = self.reload(version, force)
        except Exception as err:  # noqa: BLE001 - a failed reload must never take the worker down
            log.exception("reload failed")
            outcome = self._refusal(f"unexpected error: {type(err).__name__}")
        with self._lock:
            self._outcomes[request_id] = outcome
            self._loading = None
            while len(self._outcomes) > MAX_OUTCOMES:
                self._outcomes.pop(next(iter(self._outcomes)))

    def _refusal(self, reason: str) -> dict:
        live = self.engine.model("finetuned")
        return {"status": "refused", "version": live.version if live else None, "reason": reason}
