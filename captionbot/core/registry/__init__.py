"""The model registry (docs/architecture.md, "Model registry", contract): `Registry(MODEL_DIR)` is a local
folder or `s3://bucket/prefix`, with one interface; versions are published by manifest and, from object
storage, fetched into a worker's checked cache."""

from captionbot.core.registry.base import Registry, VersionInfo, VersionState
from captionbot.core.registry.cache import ModelCache
from captionbot.core.registry.errors import RegistryError, RegistryUnavailable, VersionCorrupt
from captionbot.core.registry.gate import gate_refusal
from captionbot.core.registry.layout import (
    MANIFEST_FILE,
    METRICS_FILE,
    PREVIOUS,
    TRAINING_CONFIG_FILE,
    WeightsNotSafetensors,
    atomic_write_text,
    read_json,
    require_safetensors,
    validate_new_version,
    validate_version,
)
from captionbot.core.registry.manifest import Manifest

__all__ = [
    "MANIFEST_FILE",
    "METRICS_FILE",
    "PREVIOUS",
    "TRAINING_CONFIG_FILE",
    "Manifest",
    "ModelCache",
    "Registry",
    "RegistryError",
    "RegistryUnavailable",
    "VersionCorrupt",
    "VersionInfo",
    "VersionState",
    "WeightsNotSafetensors",
    "atomic_write_text",
    "gate_refusal",
    "read_json",
    "require_safetensors",
    "validate_new_version",
    "validate_version",
]
