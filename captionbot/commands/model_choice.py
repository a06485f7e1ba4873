"""Which models a caption on the command line uses, found as a person who has just run `captionbot demo` expects:
the configured ones where they load, else the demo's (`.demo/`, labelled as such) where the demo made them.
Offline, the Hub is asked once, for at most `HUB_PROBE_S`, and never retried: the libraries are then told they
are offline, and a model that is not on this machine is one sentence, not a minute of retries. No torch here.
"""

import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from captionbot.core.errors import UsageError
from captionbot.core.registry import Registry, RegistryError
from captionbot.core.settings import Settings

DEMO_DIR = Path(".demo")
DEMO_PRETRAINED = "demo-untrained"  # the demo's stand-in for the Hub model: untrained, a handful of words
DEMO_REGISTRY = "models"  # the demo's registry: CURRENT is a tiny model trained on synthetic shapes
HUB_PROBE_S = 2.0
PUBLISH_HINT = "publish one with `captionbot publish RUN_DIR/best --activate`"


@dataclass
class ModelChoice:
    settings: Settings  # with the demo's locations where they stand in
    load: tuple[str, ...]  # the models to load: those asked for, the pretrained one where no fine-tuned is published
    finetuned: str | None  # the fine-tuned version (or folder) to serve; None: none is published
    demo: set[str] = field(default_factory=set)  # which of them are the demo's

    def not_published(self) -> str:
        return f"No fine-tuned model is published in {self.settings.model_dir} (MODEL_DIR); {PUBLISH_HINT}."

    def summary(self) -> str:
        """One line: which models this command uses, the demo's said to be."""
        parts = []
        if "pretrained" in self.load:
            parts.append(f"pretrained {self.settings.pretrained_model}" + (" (demo model)" if "pretrained" in self.demo else ""))
        if "finetuned" in self.load and self.finetuned:
            where = "" if self.settings.finetuned_model else f" from {self.settings.model_dir}"
            parts.append(f"fine-tuned {self.finetuned}{where}" + (" (demo model)" if "finetuned" in self.demo else ""))
        line = "models: " + ", ".join(parts)
        if self.demo & set(self.load):
            line += "; the demo's models caption coloured shapes, not photos (set PRETRAINED_MODEL and MODEL_DIR for others)"
        return line


def choose_models(settings: Settings, wanted: tuple[str, ...], demo_dir: Path = DEMO_DIR) -> ModelChoice:
    """The models to caption `wanted` with; `UsageError` (one sentence) where the pretrained model is needed
    and neither here nor reachable."""
    updates: dict[str, str] = {}
    demo: set[str] = set()
    finetuned = _published(settings)
    demo_registry = demo_dir / DEMO_REGISTRY
    if finetuned is None and "model_dir" not in settings.model_fields_set and _published_in(demo_registry):
        updates["model_dir"] = str(demo_registry)
        finetuned = _published_in(demo_registry)
        demo.add("finetuned")
    load = tuple(name for name in wanted if name != "finetuned" or finetuned)
    if finetuned is None and "pretrained" not in load:
        load = ("pretrained", *load)
    if "pretrained" in load and not pretrained_available(settings.pretrained_model):
        stand_in = demo_dir / DEMO_PRETRAINED
        if "pretrained_model" in settings.model_fields_set or not (stand_in / "config.json").is_file():
            raise UsageError(
                f"the pretrained model {settings.pretrained_model} is not on this machine and the Hub cannot be "
                "reached (offline?); run `captionbot demo` once to make demo models here, or set PRETRAINED_MODEL "
                "to a model folder"
            )
        updates["pretrained_model"] = str(stand_in)
        demo.add("pretrained")
    chosen = settings.model_copy(update=updates)
    # The demo itself names its models in the environment: they are the demo's all the same.
    if _same_place(chosen.pretrained_model, demo_dir / DEMO_PRETRAINED):
        demo.add("pretrained")
    if _same_place(chosen.model_dir, demo_registry) and not chosen.finetuned_model:
        demo.add("finetuned")
    return ModelChoice(chosen, load, finetuned, demo)


def _same_place(location: str, path: Path) -> bool:
    return Path(location).resolve() == path.resolve()


def _published(settings: Settings) -> str | None:
    if settings.finetuned_model:
        return settings.finetuned_model
    try:
        return Registry(settings.model_dir).current()
    except RegistryError as err:
        raise UsageError(f"the registry {settings.model_dir} (MODEL_DIR) cannot be read: {err.message}") from err


def _published_in(registry: Path) -> str | None:
    return Registry(str(registry)).current() if registry.is_dir() else None


def pretrained_available(model: str) -> bool:
    """A folder, the Hub cache, or a quick probe of the Hub (no retries, no warnings) before one download.
    Where the Hub does not answer, the libraries are put offline for the rest of the process."""
    if Path(model).is_dir():
        return True
    if os.environ.get("HF_HUB_OFFLINE") == "1" or not hub_answers():
        go_offline()
        return _in_hub_cache(model)
    from huggingface_hub import hf_hub_download

    try:
        hf_hub_download(model, "config.json", etag_timeout=HUB_PROBE_S)
        return True
    except Exception:  # noqa: BLE001 - any failure means: not reachable from here
        return _in_hub_cache(model)


def _in_hub_cache(model: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "config.json"), str)


def go_offline() -> None:
    """Tell huggingface_hub (and transformers through it) not to try the network: for libraries imported
    later (and subprocesses) through the environment, for one imported already through its constant."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def hub_answers() -> bool:
    """One TCP connection to the Hub's host, HUB_PROBE_S at most: offline machines answer in no time or never."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=HUB_PROBE_S).close()
        return True
    except OSError:
        return False
