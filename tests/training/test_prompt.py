"""BLIP's prompt in training and serving: recorded in every checkpoint, decoded from by the workers and
`evaluate`, never part of a reply; a version and a worker's CAPTION_PROMPT that disagree are corrected (the
version's recorded prompt wins, with a warning), and a prompt the model cannot spell is refused."""

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from captionbot.core.errors import UsageError
from captionbot.core.jobs import Job
from captionbot.core.registry import Registry
from captionbot.core.settings import Settings
from captionbot.training.train import main
from captionbot.worker.engine import CaptionEngine
from captionbot.blip.loading import ModelLoadError, ModelSource, load_model, pretrained_source
from captionbot.blip.pixels import model_picture
from captionbot.blip.tensors import to_pixel_values
from captionbot.worker.candidate import load_folder, prepare_version
from captionbot.worker.startup import load_finetuned
from captionbot.worker.swap import Swapper
from tests.training.conftest import TINY_RUN_FLAGS

PROMPT = "a picture of "


@pytest.fixture(scope="module")
def no_prompt_run(shapes_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("runs") / "no-prompt"
    flags = [*TINY_RUN_FLAGS, "--epochs", "1", "--prompt", ""]
    assert main(["--data", str(shapes_data), "--output", str(output), *flags]) == 0
    return output


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, device="cpu", **values)


def recorded_prompt(folder: Path) -> str:
    return json.loads((folder / "training_config.json").read_text())["decoding"]["prompt"]


def test_every_checkpoint_records_its_prompt(tiny_run: Path, no_prompt_run: Path) -> None:
    assert recorded_prompt(tiny_run / "best") == recorded_prompt(tiny_run / "checkpoint-epoch-0003") == PROMPT
    assert json.loads((tiny_run / "best" / "training_config.json").read_text())["decoding"] == {
        "prompt": PROMPT, "beams": 3, "min_length": 5, "max_length": 20}
    assert recorded_prompt(no_prompt_run / "best") == ""


def test_a_served_caption_starts_after_the_prompt_and_never_shows_it(tiny_run: Path, shapes_data: Path) -> None:
    loaded = load_model("finetuned", ModelSource(str(tiny_run / "best"), "p"), torch.device("cpu"), torch.float32)
    engine = CaptionEngine(settings(), {"finetuned": loaded, "pretrained": None})
    try:
        for path in sorted((shapes_data / "Flicker8k_Dataset").iterdir())[:4]:
            (caption,) = engine.run(Job(image=path.read_bytes())).results["finetuned"].captions
            assert caption and not caption.startswith(PROMPT.strip())
            # The whole decoder output, prompt included, as transformers' own generate gives it from the prompt:
            pixels = to_pixel_values([model_picture(path.read_bytes(), loaded.spec, 10**8, 10**8)], loaded.spec)
            prompt_ids = torch.tensor([loaded.prompt + [loaded.tokenizer.sep_token_id]])
            whole = loaded.model.generate(pixel_values=pixels, input_ids=prompt_ids, num_beams=3, min_length=5,
                                          max_length=20)
            assert loaded.tokenizer.decode(whole[0], skip_special_tokens=True) == PROMPT + caption
    finally:
        engine.close()


@pytest.mark.parametrize(("run", "caption_prompt", "served"), [("tiny_run", "none", PROMPT),
                                                                ("no_prompt_run", PROMPT, "")])
def test_a_version_is_served_with_its_recorded_prompt_whatever_caption_prompt_says(
        request, caplog, run: str, caption_prompt: str, served: str) -> None:
    best = request.getfixturevalue(run) / "best"
    with caplog.at_level(logging.WARNING, logger="captionbot.blip.loading"):
        loaded = load_folder(str(best), settings(caption_prompt=caption_prompt))
    assert loaded.decoding.prompt == served
    pieces = loaded.tokenizer(served, add_special_tokens=False).input_ids if served else []
    assert loaded.prompt == [loaded.model.config.text_config.bos_token_id, *pieces]
    assert f"decodes with the prompt {served!r}" in caplog.text and "not CAPTION_PROMPT" in caplog.text


def test_the_pretrained_model_decodes_from_caption_prompt(tiny_checkpoint: Path) -> None:
    for value, prompt in (("a photo of", "a photo of"), ("none", "")):
        source = pretrained_source(settings(pretrained_model=str(tiny_checkpoint), caption_prompt=value))
        assert load_model("pretrained", source, torch.device("cpu"), torch.float32).decoding.prompt == prompt


@pytest.mark.parametrize(("decoding", "reason"), [({"prompt": "a ☃ of "}, "does not know"),
                                                   ({"prompt": PROMPT, "beams": 0}, "beams")])
def test_a_version_whose_decoding_cannot_be_served_is_refused_by_the_swap_and_the_candidate_check(
        tiny_run: Path, tmp_path: Path, decoding: dict, reason: str) -> None:
    registry = Registry(tmp_path)
    for version in ("good", "bad"):
        registry.add_version(tiny_run / "best", version)
    config_file = registry.version_path("bad") / "training_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "decoding": {**config["decoding"], **decoding}}))
    registry.set_current("good")
    values = settings(model_dir=str(tmp_path))
    live = load_finetuned(values)
    engine = CaptionEngine(values, {"finetuned": live, "pretrained": None})
    try:
        outcome = Swapper(engine, values).reload("bad")
        assert outcome["status"] == "refused" and reason in outcome["reason"]
        assert engine.model("finetuned") is live and registry.current() == "good"
        with pytest.raises(ModelLoadError, match=reason):
            prepare_version(registry, values, "bad")
        with pytest.raises(ModelLoadError, match=reason):
            load_model("finetuned", ModelSource(str(registry.version_path("bad")), "bad"), torch.device("cpu"),
                       torch.float32)
    finally:
        engine.close()


def test_training_refuses_a_prompt_its_tokenizer_cannot_spell(tiny_checkpoint: Path, shapes_data: Path,
                                                              tmp_path: Path) -> None:
    flags = ["--data", str(shapes_data), "--output", str(tmp_path / "run"), "--base", str(tiny_checkpoint),
             "--epochs", "1", "--prompt", "a ☃ of"]
    with pytest.raises(UsageError, match="--prompt 'a ☃ of ': .*does not know"):
        main(flags)


def test_resume_keeps_the_runs_prompt(tiny_run: Path, tmp_path: Path, capsys) -> None:
    from captionbot.training.train import parse_args

    copy = tmp_path / "copy"
    shutil.copytree(tiny_run, copy)
    assert parse_args(["--output", str(copy), "--resume"]).prompt == PROMPT
    with pytest.raises(SystemExit):
        parse_args(["--output", str(copy), "--resume", "--prompt", ""])
    assert "--prompt '' differs from the resumed run's 'a picture of '" in capsys.readouterr().err
