"""A swap and a refused candidate leave exactly the two serving models alive: the old or refused model goes
with its last reference (no reference cycles keep it), and the reload returns only after it went."""

import gc
import json
import shutil

import pytest
from transformers import BlipForConditionalGeneration

from captionbot.core.registry import Registry
from captionbot.core.settings import Settings
from captionbot.worker.startup import build_engine
from captionbot.worker.swap import Swapper
from tests.fixtures.models import make_tiny_checkpoint


def blip_models_alive() -> int:
    return sum(isinstance(obj, BlipForConditionalGeneration) for obj in gc.get_objects())


@pytest.fixture()
def swapper(tiny_checkpoint, tmp_path):
    registry = Registry(tmp_path / "models")
    for seed, name in ((1, "v1"), (2, "v2")):
        registry.add_version(make_tiny_checkpoint(tmp_path / name, seed=seed), name)
    mismatched = tmp_path / "mismatched"
    shutil.copytree(tmp_path / "v2", mismatched)
    processor = json.loads((mismatched / "processor_config.json").read_text())
    processor["image_processor"]["size"] = {"height": 32, "width": 32}
    (mismatched / "processor_config.json").write_text(json.dumps(processor))
    registry.add_version(mismatched, "wrong-config")
    registry.set_current("v1")
    settings = Settings(pretrained_model=str(tiny_checkpoint), model_dir=str(tmp_path / "models"), device="cpu",
                        _env_file=None)
    engine = build_engine(settings)
    yield Swapper(engine, settings)
    engine.close()


def test_a_swap_and_a_refusal_leave_only_the_serving_models(swapper):
    gc.collect()
    before = blip_models_alive()
    gc.disable()  # what frees the models here is their last reference going, not a collection
    try:
        assert swapper.reload("v2")["status"] == "ok"
        assert blip_models_alive() == before
        refused = swapper.reload("wrong-config")
        assert refused["status"] == "refused" and "processor" in refused["reason"]
        assert blip_models_alive() == before
    finally:
        gc.enable()
    assert swapper.engine.versions()["finetuned"] == "v2"
