"""State files default outside the folder a command runs in (the platform's data folder, or DATA_DIR), and the
checkout ignores what the product writes when run from it; commands are quiet unless -v."""

import subprocess
from pathlib import Path

from tests.cli.conftest import WORKTREE, captionbot


def test_feedback_state_goes_to_the_data_folder_not_the_working_folder(workdir: Path, user_env: dict[str, str],
                                                                        tmp_path: Path) -> None:
    ran = captionbot(workdir, user_env, "feedback", "stats")
    assert ran.status == 0, ran.err
    assert not (workdir / "data").exists()
    assert (Path(user_env["XDG_DATA_HOME"]) / "captionbot" / "feedback.sqlite3").is_file()
    assert ran.err == ""  # no alembic INFO lines

    ran = captionbot(workdir, {**user_env, "DATA_DIR": str(tmp_path / "chosen")}, "feedback", "stats", "-v")
    assert ran.status == 0 and (tmp_path / "chosen" / "feedback.sqlite3").is_file()
    assert "INFO alembic" in ran.err  # the libraries' lines are there for whoever asks


def test_caption_prints_results_one_line_of_models_and_nothing_else(workdir: Path, user_env: dict[str, str],
                                                                     tiny_checkpoint: Path, model_dir: Path) -> None:
    env = {**user_env, "PRETRAINED_MODEL": str(tiny_checkpoint), "MODEL_DIR": str(model_dir)}
    ran = captionbot(workdir, env, "caption", "--compare", "photo.jpg")
    assert ran.status == 0, ran.err
    assert ran.err.splitlines() == [f"captionbot caption: models: pretrained {tiny_checkpoint}, fine-tuned v1 from {model_dir}"]
    ran = captionbot(workdir, env, "caption", "photo.jpg", "--quiet")
    assert ran.status == 0 and ran.err == "" and ran.out.startswith("photo.jpg: ")


def test_the_checkout_ignores_what_the_product_writes_in_it() -> None:
    written = [".demo/models/finetuned/CURRENT", ".demo/demo-training.log", "models/finetuned/CURRENT",
               "data/feedback.sqlite3", "data/api_keys.json", "model-cache/v1/config.json", "runs/r1/metrics.jsonl"]
    done = subprocess.run(["git", "check-ignore", "--no-index", *written], cwd=WORKTREE, capture_output=True, text=True)
    assert done.stdout.splitlines() == written


def test_the_demo_training_output_and_its_childrens_go_to_its_log(tmp_path: Path, capfd) -> None:
    """What `captionbot demo` wraps its training in: Python's prints and a child's stderr (Java's tokenizer)."""
    import sys

    from captionbot.commands.demo import _output_to

    log = tmp_path / ".demo" / "demo-training.log"
    with _output_to(log):
        print("wrote /tmp/scratch-folder/run")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('PTBTokenizer tokenized 9 tokens\\n')"])
    print("after")
    out, err = capfd.readouterr()
    assert out == "after\n" and err == ""
    assert log.read_text() == "wrote /tmp/scratch-folder/run\nPTBTokenizer tokenized 9 tokens\n"
