"""Making a fine-tuned version fit to serve, the same way at every reload and at every start: fetch it from the
registry (from object storage into the checked cache), then load and check it (`blip/fitness.py`). Whatever
fails here is refused with the reason; nothing unchecked is ever served, so a version a reload refused is not
served after a restart.
"""

from pathlib import Path

from captionbot.blip.fitness import UNFIT, load_checked
from captionbot.blip.loading import LoadedModel, ModelSource
from captionbot.core.errors import CaptionError
from captionbot.core.registry import Registry, RegistryError
from captionbot.core.settings import Settings

# Every way a version can be refused; each carries a sentence (`.message`, or its text) saying why.
REFUSALS = (*UNFIT, CaptionError, RegistryError)


def refusal_reason(err: Exception) -> str:
    return getattr(err, "message", None) or str(err)


def prepare_version(registry: Registry, settings: Settings, version: str) -> LoadedModel:
    """Fetch (checked against its manifest), load and check a registry version."""
    path = registry.local_copy(version, settings.model_cache_dir, settings.model_cache_keep)
    return load_checked(ModelSource(str(path), version, settings.caption_prompt), **model_options(settings))


def load_folder(folder: str, settings: Settings) -> LoadedModel:
    """A save_pretrained folder outside the registry (FINETUNED_MODEL, check-model), named after itself."""
    source = ModelSource(folder, Path(folder).resolve().name, settings.caption_prompt)
    return load_checked(source, **model_options(settings))


def model_options(settings: Settings) -> dict:
    """How a worker loads every model: its device and the serving options."""
    return {"device": settings.device, "cpu_int8": settings.cpu_int8, "serving_decoder": settings.serving_decoder,
            "compile_vision": settings.compile_vision}
