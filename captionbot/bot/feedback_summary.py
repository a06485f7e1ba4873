"""The approval rate per model version and the /compare preferences as lines of text, for `captionbot models`,
`captionbot feedback stats` and both bots' `/models` and `/feedback`."""

from captionbot.bot import messages
from captionbot.feedback.stats import approval, preferences
from captionbot.feedback.store import Counts, FeedbackStore


async def approval_lines(store: FeedbackStore) -> list[str]:
    lines = [
        messages.approval_line(row.model, row.version, row.up.wins, row.up.total, *row.up.interval)
        for row in await approval(store)
    ]
    for pair in await preferences(store):
        share = pair.finetuned_preferred
        line = messages.preference_line(pair.pretrained, pair.finetuned, share.wins, share.total, *share.interval)
        lines.append(line)
    return lines or [messages.APPROVAL_NONE]


def counts_text(counts: Counts) -> str:
    return messages.FEEDBACK_COUNTS.format(
        **{key: counts.votes.get(key, 0) for key in ("up", "down", "pretrained", "finetuned")},
        **{key: counts.suggestions.get(key, 0) for key in ("pending", "approved", "rejected")},
    )
