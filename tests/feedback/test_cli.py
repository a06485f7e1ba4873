"""`captionbot feedback review|forget|export|purge|stats` on each database; an export that `check-data` reads
and `train` learns from for a few steps."""

import asyncio
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from captionbot.cli import main
from captionbot.core.settings import get_settings
from captionbot.feedback.identity import UserHasher
from captionbot.feedback.schema import Vote
from captionbot.feedback.store import APPROVED, PENDING, REJECTED, FeedbackStore
from tests.feedback.conftest import caption_reply, jpeg

COLOURS = [(200, 30, 30), (30, 60, 200), (30, 160, 40), (240, 210, 30), (120, 40, 160), (250, 130, 20),
           (20, 200, 200), (90, 90, 90), (240, 240, 240), (10, 10, 10)]


@pytest.fixture
def cli_env(feedback_db: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """The environment `captionbot` reads its settings from, naming the test's database."""
    for key, value in feedback_db.items():
        monkeypatch.setenv(key.upper(), value.get_secret_value() if hasattr(value, "get_secret_value") else str(value))
    get_settings.cache_clear()
    yield feedback_db
    get_settings.cache_clear()


def with_store(work):
    async def scenario():
        store = await FeedbackStore.open(get_settings())
        try:
            return await work(store)
        finally:
            await store.aclose()

    return asyncio.run(scenario())


def hashed(platform: str, user: str) -> str:
    return UserHasher.from_settings(get_settings())(platform, user)


def fill(store_count: int = 10):
    """A suggestion on each of `store_count` pictures; the first picture's caption also gets four 👍."""

    async def work(store: FeedbackStore) -> None:
        for index, colour in enumerate(COLOURS[:store_count]):
            reply = caption_reply(f"a shape number {index}", image=jpeg(colour))
            await store.suggest(f"t{index}", reply, hashed("discord", "7"), f"a plain colour field, number {index}")
        for user in ("1", "2", "3", "4"):
            await store.vote("t0", None, hashed("discord", user), "up")

    with_store(work)


def test_review_asks_for_each_suggestion_and_approve_all_from_approves_the_rest(cli_env, monkeypatch, capsys):
    fill(4)
    monkeypatch.setattr(sys, "stdin", io.StringIO("a\nwhat\nr\ns\n"))
    assert main(["feedback", "review"]) == 0
    out = capsys.readouterr().out
    assert "suggested:      a plain colour field, number 0" in out and "approved 1, rejected 1" in out

    async def statuses(store: FeedbackStore) -> dict[str, str]:
        return {s.text[-1]: s.status for s in await store.suggestions(status=None)}

    # a, then a re-asked r, a skip, and the end of input quits before the last one
    assert with_store(statuses) == {"0": APPROVED, "1": REJECTED, "2": PENDING, "3": PENDING}
    assert main(["feedback", "review", "--approve-all-from", f"{datetime.now(UTC):%Y-%m-%d}"]) == 0
    assert "approved 2 suggestion(s)" in capsys.readouterr().out
    assert with_store(statuses) == {"0": APPROVED, "1": REJECTED, "2": APPROVED, "3": APPROVED}


def test_forget_and_purge_from_the_command_line(cli_env, capsys):
    fill(2)

    async def age_votes(store: FeedbackStore) -> None:
        async with store.sessions.begin() as session:
            await session.execute(update(Vote).values(voted_at=datetime.now(UTC) - timedelta(days=30)))

    with_store(age_votes)
    assert main(["feedback", "purge", "--older-than-days", "10"]) == 0
    assert "4 vote(s), 0 suggestion(s)" in capsys.readouterr().out
    assert main(["feedback", "forget", "--user", "7", "--platform", "discord"]) == 0
    assert "0 vote(s), 2 suggestion(s) deleted" in capsys.readouterr().out
    assert main(["feedback", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"votes": {}, "suggestions": {}, "approval": [], "compare": []}


def test_export_is_a_kaggle_layout_data_set_that_check_data_reads(cli_env, tmp_path, capsys):
    fill()
    with_store(lambda store: store.review([s for s in range(1, 11) if s != 10], APPROVED))  # #10 stays pending
    target = tmp_path / "from-chat"
    assert main(["feedback", "export", str(target), "--with-upvoted"]) == 0
    assert "9 image(s), 9 approved suggestion(s), 1 upvoted caption(s)" in capsys.readouterr().out
    rows = (target / "captions.txt").read_text(encoding="utf-8").splitlines()
    assert rows[0] == "image,caption" and len(rows) == 1 + 9 + 1
    assert any(row.endswith(',"a plain colour field, number 0"') for row in rows)  # quoted: it holds a comma
    assert len(list((target / "Images").glob("*.jpg"))) == 9

    assert main(["check-data", str(target), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "kaggle" and summary["skipped"] == []
    assert {name: split["images"] for name, split in summary["splits"].items()} == {"train": 7, "val": 1, "test": 1}
    assert sum(split["captions"] for split in summary["splits"].values()) == 10

    with pytest.raises(SystemExit) as refused:  # never over an earlier export
        main(["feedback", "export", str(target)])
    assert refused.value.code == 2 and "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("feedback_db", ["sqlite"], indirect=True)
def test_an_exported_caption_never_starts_a_spreadsheet_formula_and_reads_back_as_typed(cli_env, tmp_path):
    from captionbot.training.data import read_kaggle

    typed = ["=1+2 and a red square", "+cmd|' /C calc'!A0 square", "-a blue circle", "@SUM(1+9) circle", "a plain one"]

    async def work(store: FeedbackStore) -> None:
        for index, text in enumerate(typed):
            await store.suggest(f"f{index}", caption_reply(image=jpeg(COLOURS[index])), hashed("slack", "9"), text)
        await store.review([s.id for s in await store.suggestions()], APPROVED)

    with_store(work)
    target = tmp_path / "from-chat"
    assert main(["feedback", "export", str(target)]) == 0
    cells = [row.split(",", 1)[1] for row in (target / "captions.txt").read_text(encoding="utf-8").splitlines()[1:]]
    read = read_kaggle(target, target / "captions.txt").captions
    assert sorted(cells) == sorted(["'=1+2 and a red square", "'+cmd|' /C calc'!A0 square", "'-a blue circle",
                                    "'@SUM(1+9) circle", "a plain one"])
    assert sorted(caption for captions in read.values() for caption in captions) == sorted(typed)


@pytest.mark.slow
@pytest.mark.parametrize("feedback_db", ["sqlite"], indirect=True)
def test_an_export_trains_for_a_few_steps(cli_env, tmp_path):
    from captionbot.training.history import read_history
    from captionbot.training.train import main as train

    fill()
    with_store(lambda store: store.review(list(range(1, 11)), APPROVED))
    data = tmp_path / "from-chat"
    assert main(["feedback", "export", str(data)]) == 0
    output = tmp_path / "run"
    flags = ["--base", "random:tiny", "--epochs", "2", "--batch-size", "4", "--lr", "2e-3", "--log-every", "1"]
    assert train(["--data", str(data), "--output", str(output), *flags]) == 0
    steps = [r for r in read_history(output / "metrics.jsonl") if r["kind"] == "train"]
    assert len(steps) >= 2 and all(r["loss"] > 0 for r in steps)
    assert (output / "best" / "model.safetensors").is_file()


def test_models_shows_the_approval_rate_per_version(cli_env, redis_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "registry"))
    get_settings.cache_clear()
    fill(1)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "approval in chat:\n  Fine-tuned · v1: 👍 100% of 4 votes (95% CI 51%–100%)" in out
    assert main(["models", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["feedback"]["approval"]
    assert (row["version"], row["up"], row["votes"]) == ("v1", 4, 4)
