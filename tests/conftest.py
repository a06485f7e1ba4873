"""Fixtures shared by every test: offline Hugging Face, tiny real checkpoints, the real Redis, a real worker."""

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
# State a command writes by default (DATA_DIR: the platform's data folder) stays in this run's own folder.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="captionbot-test-data-")
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.fixtures.models", "tests.fixtures.services", "tests.fixtures.object_store", "tests.fixtures.feedback"]


def pytest_collection_modifyitems(config, items) -> None:
    """`-m gpu` tests need CUDA: skipped, saying so, where there is none."""
    import pytest
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
