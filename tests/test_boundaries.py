"""The package boundaries docs/architecture.md draws: core and bot load no torch; worker and training never meet."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "captionbot"


def imported_modules(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("core", ("torch", "transformers", "discord", "slack_bolt", "slack_sdk", "captionbot.bot", "captionbot.worker", "captionbot.training")),
        ("bot", ("torch", "transformers", "captionbot.worker", "captionbot.training")),
        ("blip", ("captionbot.worker", "captionbot.training", "captionbot.bot", "discord", "slack_bolt", "slack_sdk")),
        ("worker", ("captionbot.training", "captionbot.bot", "discord", "slack_bolt", "slack_sdk")),
        ("training", ("captionbot.worker", "captionbot.bot", "discord", "slack_bolt", "slack_sdk")),
        ("feedback", ("torch", "transformers", "discord", "slack_bolt", "slack_sdk", "captionbot.bot", "captionbot.commands", "captionbot.worker", "captionbot.training")),
    ],
)
def test_package_imports_stay_inside_their_boundary(package, forbidden):
    crossing = {m for m in imported_modules(PACKAGE / package) if m.split(".")[0] in forbidden or m.startswith(forbidden)}
    assert not crossing, f"captionbot.{package} imports {sorted(crossing)}"


def test_importing_the_bots_loads_no_torch():
    code = (
        "import sys, importlib, pkgutil, captionbot.bot as bot, captionbot.core as core, captionbot.feedback as fb\n"
        "for pkg in (core, bot, fb):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import captionbot.cli; captionbot.cli.build_parser()\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
