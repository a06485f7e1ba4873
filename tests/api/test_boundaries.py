"""The API is a front end like the bots: it imports core (and the bots' shared service), never torch,
transformers, the worker, training or a chat SDK."""

import subprocess
import sys
from pathlib import Path

from tests.test_boundaries import imported_modules

API = Path(__file__).parents[2] / "captionbot" / "api"
FORBIDDEN = ("torch", "transformers", "discord", "slack_bolt", "slack_sdk", "captionbot.worker", "captionbot.training")


def test_the_api_imports_stay_inside_its_boundary():
    crossing = {m for m in imported_modules(API) if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN)}
    bots = {m for m in imported_modules(API) if m.startswith("captionbot.bot")}
    assert not crossing, f"captionbot.api imports {sorted(crossing)}"
    assert bots == {"captionbot.bot.service"}


def test_serving_the_api_loads_no_torch():
    code = (
        "import sys, importlib, pkgutil, captionbot.api as api\n"
        "for m in pkgutil.walk_packages(api.__path__, api.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        "from captionbot.api.app import create_app\n"
        "from captionbot.core.settings import Settings\n"
        "create_app(Settings(_env_file=None)).openapi()\n"
        "bad = [m for m in ('torch', 'transformers', 'discord', 'slack_bolt') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
