"""Loader worker processes in a process that trains twice, and what importing the trainer loads.

Each check runs in a fresh interpreter under a timeout, so a hang fails the test instead of holding the suite.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"still running after {TIMEOUT_S} s (a loader worker hangs?): {err.stderr!r}")


def test_two_trainings_in_one_process_with_loader_workers_finish(tmp_path: Path) -> None:
    """The first run decodes in the parent (its memory store); the second's forked workers decode every step."""
    done = run_python(f"""
        from pathlib import Path
        from captionbot.training.synthetic import generate
        from captionbot.training.train import main

        work = Path({str(tmp_path)!r})
        data = generate(work / "data", images=24, size=(80, 60))
        flags = ["--data", str(data), "--base", "random:tiny", "--epochs", "1", "--max-steps", "2",
                 "--batch-size", "8", "--workers", "2"]
        assert main(flags + ["--output", str(work / "first"), "--picture-store", "memory"]) == 0
        assert main(flags + ["--output", str(work / "second"), "--picture-store", "decode"]) == 0
        print("both finished")
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "both finished" in done.stdout
    for run in ("first", "second"):
        assert (tmp_path / run / "best" / "model.safetensors").is_file()


def test_training_with_loader_workers_started_as_beside_a_gpu(tmp_path: Path) -> None:
    """Beside a GPU the workers start by forkserver and get the dataset pickled: the disk store as its file."""
    done = run_python(f"""
        from pathlib import Path
        import torch
        from captionbot.training import trainer
        from captionbot.training.synthetic import generate
        from captionbot.training.train import main

        as_on_a_gpu = trainer.loader_context(torch.device("cuda"))
        assert as_on_a_gpu.get_start_method() == "forkserver"
        trainer.loader_context = lambda device: as_on_a_gpu
        work = Path({str(tmp_path)!r})
        data = generate(work / "data", images=24, size=(80, 60))
        assert main(["--data", str(data), "--base", "random:tiny", "--epochs", "1", "--max-steps", "2",
                     "--batch-size", "8", "--workers", "2", "--output", str(work / "run"),
                     "--picture-store", "disk"]) == 0
        print("finished")
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "finished" in done.stdout
    assert list((tmp_path / "data" / ".picture-store").glob("*/pixels.u8"))


def test_importing_the_trainer_leaves_pycocoevalcap_unloaded() -> None:
    done = run_python("""
        import sys
        import captionbot.training.train, captionbot.training.trainer
        print(sorted(name for name in sys.modules if name.startswith("pycocoevalcap")))
    """)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
