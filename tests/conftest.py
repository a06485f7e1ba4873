"""Fixtures shared by every test: offline Hugging Face, tiny real checkpoints, the real Redis, a real worker."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.fixtures.models", "tests.fixtures.services", "tests.fixtures.object_store", "tests.fixtures.feedback"]
