"""Prometheus gauges of the approval rate, refreshed from the database by every bot after each vote (so each bot
host exports the totals of all of them), on the bots' METRICS_PORT."""

from prometheus_client import Gauge

from captionbot.feedback.stats import approval, preferences
from captionbot.feedback.store import FeedbackStore

VOTES = Gauge(
    "captionbot_feedback_votes", "👍/👎 votes stored per model, version and vote", ["model", "version", "vote"]
)
APPROVAL = Gauge(
    "captionbot_feedback_approval_ratio",
    "Share of 👍 per model and version (bound=share), with its 95% Wilson interval (bound=low, high)",
    ["model", "version", "bound"],
)
PREFERRED = Gauge(
    "captionbot_feedback_compare_finetuned_ratio",
    "Share of /compare votes preferring the fine-tuned caption, per version pair, with its 95% Wilson interval",
    ["pretrained", "finetuned", "bound"],
)


def _bounds(share: float, interval: tuple[float, float]) -> dict[str, float]:
    return {"share": share, "low": interval[0], "high": interval[1]}


async def refresh(store: FeedbackStore) -> None:
    rows, pairs = await approval(store), await preferences(store)
    for gauge in (VOTES, APPROVAL, PREFERRED):
        gauge.clear()
    for row in rows:
        VOTES.labels(row.model, row.version, "up").set(row.up.wins)
        VOTES.labels(row.model, row.version, "down").set(row.up.total - row.up.wins)
        for bound, value in _bounds(row.up.ratio, row.up.interval).items():
            APPROVAL.labels(row.model, row.version, bound).set(value)
    for pair in pairs:
        share = pair.finetuned_preferred
        for bound, value in _bounds(share.ratio, share.interval).items():
            PREFERRED.labels(pair.pretrained, pair.finetuned, bound).set(value)
