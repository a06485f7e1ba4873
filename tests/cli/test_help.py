"""`--help` of every command and subcommand has its description line and takes -v and --quiet (subcommands
added later too: they are made by the same parser class); `captionbot --version`; `models` prints counts as
whole numbers."""

import argparse
import json
import shutil
from importlib.metadata import version
from pathlib import Path

import pytest

from captionbot.cli import build_parser, main


def command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += [(*path, name), *command_paths(sub, (*path, name))]
    return paths


def help_of(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_every_command_has_a_description_and_takes_v_and_quiet(capsys) -> None:
    paths = command_paths(build_parser())
    assert {("worker",), ("discord",), ("slack",), ("reload",), ("rollback",), ("check-model",), ("demo",),
            ("models",), ("api",), ("feedback", "stats"), ("api-key", "create")} <= set(paths)
    for path in paths:
        text = help_of(capsys, *path)
        description = text.split("\n\n")[1].strip()
        assert description and not description.startswith(("positional", "options")), path
        assert "-v, --verbose" in text and "-q, --quiet" in text, path


def test_v_and_quiet_after_a_subcommand_as_before_it() -> None:
    parser = build_parser()
    assert parser.parse_args(["feedback", "stats", "--quiet"]).quiet
    assert parser.parse_args(["-v", "caption", "a.jpg"]).verbose
    assert parser.parse_args(["caption", "a.jpg", "-v"]).verbose


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"captionbot {version('captionbot')}\n"


def test_models_prints_counts_as_whole_numbers(settings_env, tmp_path: Path, tiny_checkpoint: Path, redis_url: str,
                                               capsys) -> None:
    from captionbot.core.registry import Registry

    trained = shutil.copytree(tiny_checkpoint, tmp_path / "trained")
    (trained / "metrics.json").write_text(json.dumps({"epoch": 6.0, "step": 342.0, "CIDEr": 0.41234, "BLEU-4": 1.0}))
    registry = Registry(tmp_path / "registry")
    registry.add_version(trained, "v6")
    settings_env(MODEL_DIR=tmp_path / "registry", REDIS_URL=redis_url)
    assert main(["models"]) == 0
    assert "    v6  epoch 6, step 342, CIDEr 0.412, BLEU-4 1.000\n" in capsys.readouterr().out
