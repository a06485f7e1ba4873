"""The live comparison offline metrics cannot give: the share of 👍 per model and version, and on /compare which
model people preferred, each with its count and a 95% Wilson score interval (sound at small counts and at 0 or
100%, where the normal approximation is not)."""

import math
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from captionbot.feedback.schema import ShownModel, Vote
from captionbot.feedback.store import FeedbackStore

Z_95 = 1.959963984540054


def wilson(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of `successes` out of `total`; (0, 1) when there is nothing to go on."""
    if total == 0:
        return 0.0, 1.0
    share = successes / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Share:
    """`wins` of `total`, with its interval."""

    wins: int
    total: int

    @property
    def ratio(self) -> float:
        return self.wins / self.total if self.total else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.wins, self.total)


@dataclass(frozen=True)
class Approval:
    model: str
    version: str
    up: Share  # 👍 of all votes on this model's captions


@dataclass(frozen=True)
class Preference:
    pretrained: str  # versions compared
    finetuned: str
    finetuned_preferred: Share  # of /compare votes on this pair


async def approval(store: FeedbackStore) -> list[Approval]:
    """Per model and version, over the 👍/👎 on its captions (single captions and variations)."""
    ups = func.sum(case((Vote.value == "up", 1), else_=0))
    query = (
        select(ShownModel.model, ShownModel.version, ups, func.count())
        .join(Vote, Vote.token == ShownModel.token)
        .where(Vote.value.in_(("up", "down")))
        .group_by(ShownModel.model, ShownModel.version)
        .order_by(ShownModel.model, ShownModel.version)
    )
    async with store.sessions() as session:
        rows = (await session.execute(query)).all()
    return [Approval(model, version, Share(int(up), int(total))) for model, version, up, total in rows]


async def preferences(store: FeedbackStore) -> list[Preference]:
    """Per pair of versions shown side by side, how often the fine-tuned caption was preferred."""
    pretrained, finetuned = aliased(ShownModel), aliased(ShownModel)
    wins = func.sum(case((Vote.value == "finetuned", 1), else_=0))
    query = (
        select(pretrained.version, finetuned.version, wins, func.count())
        .select_from(Vote)
        .join(pretrained, and_(pretrained.token == Vote.token, pretrained.model == "pretrained"))
        .join(finetuned, and_(finetuned.token == Vote.token, finetuned.model == "finetuned"))
        .where(Vote.value.in_(("pretrained", "finetuned")))
        .group_by(pretrained.version, finetuned.version)
        .order_by(finetuned.version, pretrained.version)
    )
    async with store.sessions() as session:
        rows = (await session.execute(query)).all()
    return [Preference(pre, fin, Share(int(won), int(total))) for pre, fin, won, total in rows]


async def summary(store: FeedbackStore) -> dict:
    """Counts, approval and preferences as one JSON-ready object (`captionbot feedback stats --json`, `models`)."""
    counts = await store.counts()
    return {
        "votes": counts.votes,
        "suggestions": counts.suggestions,
        "approval": [
            {"model": r.model, "version": r.version, "up": r.up.wins, "votes": r.up.total, "share": r.up.ratio,
             "ci95": list(r.up.interval)}
            for r in await approval(store)
        ],
        "compare": [
            {"pretrained": p.pretrained, "finetuned": p.finetuned, "finetuned_preferred": p.finetuned_preferred.wins,
             "votes": p.finetuned_preferred.total, "share": p.finetuned_preferred.ratio,
             "ci95": list(p.finetuned_preferred.interval)}
            for p in await preferences(store)
        ],
    }
