"""The approval rate per model version and the /compare preferences, with 95% Wilson intervals."""

import asyncio

import pytest

from captionbot.feedback.stats import approval, preferences, summary, wilson
from captionbot.feedback.store import FeedbackStore
from tests.feedback.conftest import caption_reply, compare_reply, jpeg


@pytest.mark.parametrize(
    ("wins", "total", "low", "high"),
    [(8, 10, 0.4902, 0.9433), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (1, 2, 0.0945, 0.9055)],
)
def test_wilson_interval_matches_published_values(wins: int, total: int, low: float, high: float) -> None:
    assert wilson(wins, total) == pytest.approx((low, high), abs=1e-4)


def test_no_votes_is_no_knowledge() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def test_approval_per_model_version_and_compare_preferences(feedback_settings):
    async def scenario():
        store = await FeedbackStore.open(feedback_settings)
        try:
            for i, value in enumerate(["up", "up", "up", "down"]):
                await store.vote("v1", caption_reply(version="v1", image=jpeg((i, 0, 0))) if i == 0 else None,
                                 f"user{i}", value)
            await store.vote("v2", caption_reply(version="v2", image=jpeg((0, 9, 0))), "user0", "down")
            await store.vote("pre", caption_reply(model="pretrained", version="blip-base"), "user0", "up")
            await store.vote("cmp", compare_reply(version="v2"), "user0", "finetuned")
            await store.vote("cmp", None, "user1", "finetuned")
            await store.vote("cmp", None, "user2", "pretrained")
            return await approval(store), await preferences(store), await summary(store)
        finally:
            await store.aclose()

    rows, pairs, summed = asyncio.run(scenario())
    by_key = {(r.model, r.version): (r.up.wins, r.up.total) for r in rows}
    assert by_key == {("finetuned", "v1"): (3, 4), ("finetuned", "v2"): (0, 1), ("pretrained", "blip-base"): (1, 1)}
    v1 = next(r for r in rows if r.version == "v1")
    assert v1.up.ratio == 0.75 and v1.up.interval == pytest.approx(wilson(3, 4))
    (pair,) = pairs
    assert (pair.pretrained, pair.finetuned) == ("blip-base", "v2")
    assert (pair.finetuned_preferred.wins, pair.finetuned_preferred.total) == (2, 3)
    assert summed["votes"] == {"up": 4, "down": 2, "finetuned": 2, "pretrained": 1}
    assert summed["compare"][0]["finetuned_preferred"] == 2
