"""Replies as the bots keep them, and feedback settings on a database of each kind."""

import io

import pytest
from PIL import Image

from captionbot.core.jobs import JobResult, Mode, ModelResult, Options
from captionbot.core.settings import Settings
from captionbot.feedback.shown import Place, ShownReply
from captionbot.feedback.store import FeedbackStore

PLACE = Place("discord", "111", "222")


def jpeg(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG", quality=90)
    return out.getvalue()


def caption_reply(caption: str = "a red square", version: str = "v1", model: str = "finetuned",
                  image: bytes | None = None, mode: Mode = Mode.single, place: Place = PLACE) -> ShownReply:
    result = JobResult(job_id="j", results={model: ModelResult(version=version, captions=[caption], ms=1, queue_ms=1)})
    return ShownReply.from_result(place, result, image or jpeg(), mode, Options())


async def up_votes_on_many_versions(store: FeedbackStore, count: int) -> None:
    """A 👍 for each of `count` fine-tuned versions with names as long as the registry allows: an approval report
    longer than any one message may carry."""
    for index in range(count):
        await store.vote(f"long{index}", caption_reply(version=f"{index:03d}-" + "x" * 60), "user0", "up")


def compare_reply(pretrained: str = "a square", finetuned: str = "a red square", version: str = "v1",
                  image: bytes | None = None) -> ShownReply:
    results = {
        "pretrained": ModelResult(version="blip-base", captions=[pretrained], ms=1, queue_ms=1),
        "finetuned": ModelResult(version=version, captions=[finetuned], ms=1, queue_ms=1),
    }
    return ShownReply.from_result(PLACE, JobResult(job_id="j", results=results), image or jpeg(), Mode.single, Options())


@pytest.fixture
def feedback_settings(feedback_db: dict, redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, feedback_discord_servers=[PLACE.server_id], _env_file=None, **feedback_db)
