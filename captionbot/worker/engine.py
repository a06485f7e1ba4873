"""The captioning engine: both models resident, images decoded off the batching thread (`pictures.py`), jobs
batched on the device.

Used by the Celery tasks and, in-process, by `captionbot caption`.
"""

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
import torch

from captionbot.blip.decoding import beam_captions, variation_captions
from captionbot.blip.loading import LoadedModel
from captionbot.blip.tensors import to_pixel_values
from captionbot.core.errors import CaptionError, ModelUnavailable
from captionbot.core.jobs import VARIATION_TEMPERATURES, Job, JobResult, Mode, ModelName, ModelResult, Options
from captionbot.core.settings import Settings
from captionbot.worker import metrics
from captionbot.worker.batcher import Batcher, Request
from captionbot.worker.pictures import Pictures, decode_processes

log = logging.getLogger(__name__)

NO_FINETUNED = "No fine-tuned model is published yet; use the pretrained model or ask an admin to publish one."


@dataclass(frozen=True)
class Work:
    picture: np.ndarray  # uint8 (S, S, 3), the spec of the model that was live at submission
    options: Options
    beams: int  # the job's, or for a compare the model's own (each model decodes as it was meant to)


@dataclass(frozen=True)
class ModelCaptions:
    """What one batch gives one job for one model."""

    version: str
    captions: list[str]
    started: float  # wall clock, for queue wait
    compute_s: float


class CaptionEngine:
    def __init__(self, settings: Settings, models: dict[str, LoadedModel | None]) -> None:
        self.settings = settings
        self._models = dict(models)
        self._lock = threading.Lock()
        self._batcher = Batcher(self._run_batch, settings.batch_max_size, settings.batch_max_wait_ms / 1000)
        on_gpu = any(m is not None and m.device.type == "cuda" for m in self._models.values())
        self._pictures = Pictures(decode_processes(settings.image_decode_processes, on_gpu), settings.max_image_bytes,
                                  settings.max_image_pixels)
        for name, loaded in self._models.items():
            metrics.set_version(name, loaded.version if loaded else None)

    def model(self, name: str) -> LoadedModel | None:
        with self._lock:
            return self._models.get(name)

    def versions(self) -> dict[str, str | None]:
        with self._lock:
            return {name: (m.version if m else None) for name, m in self._models.items()}

    def swap(self, name: str, loaded: LoadedModel) -> None:
        """Put a checked model live; batches already running finish on the old one, which is then freed."""
        with self._lock:
            self._models[name] = loaded
        metrics.set_version(name, loaded.version)
        # No gc.collect(): it would hold the interpreter for every serving thread; the old model goes with its
        # last reference, when the batches still holding it finish.
        if loaded.device.type == "cuda":
            torch.cuda.empty_cache()

    def run(self, job: Job) -> JobResult:
        """Caption one job; every failure a user can cause comes back as a typed error, never an exception."""
        try:
            futures = {name: self._submit(name, job) for name in job.models}
            results = {name: self._result(job, future.result()) for name, future in futures.items()}
        except CaptionError as err:
            metrics.JOBS.labels(err.code).inc()
            return JobResult.failed(job.job_id, err)
        metrics.JOBS.labels("ok").inc()
        return JobResult(job_id=job.job_id, results=results)

    def batching_alive(self) -> bool:
        return self._batcher.alive

    def close(self) -> None:
        self._batcher.close()
        self._pictures.close()

    def _submit(self, name: ModelName, job: Job) -> Future:
        loaded = self.model(name)
        if loaded is None:
            raise ModelUnavailable(NO_FINETUNED if name == "finetuned" else None)
        picture = self._pictures.picture(job.image, loaded.spec)
        beams = loaded.decoding.beams if len(job.models) > 1 else job.options.beams
        key = (name, job.mode, job.options) if job.mode == Mode.variations else (name, job.mode, beams, job.options.max_words)
        return self._batcher.submit(key, Work(picture, job.options, beams), deadline=job.deadline)

    @staticmethod
    def _result(job: Job, outcome: ModelCaptions) -> ModelResult:
        metrics.QUEUE_WAIT.observe(max(0.0, outcome.started - job.submitted_at))
        return ModelResult(
            version=outcome.version,
            captions=outcome.captions,
            ms=round(outcome.compute_s * 1000, 1),
            queue_ms=round(max(0.0, outcome.started - job.submitted_at) * 1000, 1),
        )

    def _run_batch(self, batch: list[Request]) -> None:
        name, mode = batch[0].key[0], batch[0].key[1]
        loaded = self.model(name)  # the model live now serves this whole batch
        if loaded is None:
            raise ModelUnavailable()
        started_wall, started = time.time(), time.perf_counter()
        works = [request.payload for request in batch]
        pixel_values = to_pixel_values([work.picture for work in works], loaded.spec, loaded.device, loaded.dtype)  # (B, 3, S, S)
        options = works[0].options
        if mode == Mode.variations:
            temperatures = tuple(t * options.temperature for t in VARIATION_TEMPERATURES)
            captions = variation_captions(loaded, pixel_values, temperatures, options.max_words)
        else:
            captions = [[c] for c in beam_captions(loaded, pixel_values, works[0].beams, options.max_words)]
        compute_s = time.perf_counter() - started
        metrics.BATCH_SIZE.observe(len(batch))
        metrics.COMPUTE.labels(name, mode).observe(compute_s)
        for request, texts in zip(batch, captions):
            request.future.set_result(ModelCaptions(loaded.version, texts, started_wall, compute_s))
