"""Reads and writes of the feedback tables, all async. `FeedbackStore.open` connects and migrates (the CLI);
the bots open the store `unmigrated` and migrate it when the database answers (`service.py`): until then every
read and write raises `DatabaseNotReady`, which the bots answer as any unreachable database."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from captionbot.core.settings import Settings
from captionbot.feedback.database import database_url, make_engine
from captionbot.feedback.migrate import upgrade
from captionbot.feedback.schema import Shown, ShownModel, StoredImage, Suggestion, Vote
from captionbot.feedback.shown import ModelShown, ShownReply

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


@dataclass(frozen=True)
class ServerScope:
    """Limits a read or a review to one Discord server or Slack workspace (an admin's own); None: all of them."""

    platform: str
    server_id: str | None


@dataclass(frozen=True)
class PendingSuggestion:
    id: int
    text: str
    status: str
    suggested_at: datetime
    platform: str
    shown: dict[str, str]  # model -> the (first) caption it showed


@dataclass(frozen=True)
class Counts:
    votes: dict[str, int]  # up, down, pretrained, finetuned
    suggestions: dict[str, int]  # pending, approved, rejected


def now() -> datetime:
    return datetime.now(UTC)


class DatabaseNotReady(ConnectionError):
    """The feedback database has not answered since this process started, so its schema is not known current."""


class FeedbackStore:
    def __init__(self, engine: AsyncEngine, ready: bool = True) -> None:
        self.engine = engine
        self.ready = ready
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def sessions(self) -> async_sessionmaker:
        if not self.ready:
            raise DatabaseNotReady("the feedback database has not answered since the bot started")
        return self._sessions

    @classmethod
    async def open(cls, settings: Settings) -> "FeedbackStore":
        engine = make_engine(database_url(settings))
        await upgrade(engine)
        return cls(engine)

    @classmethod
    def unmigrated(cls, settings: Settings) -> "FeedbackStore":
        """Nothing is connected yet; `migrate` makes it ready."""
        return cls(make_engine(database_url(settings)), ready=False)

    async def migrate(self) -> None:
        """Bring the schema up to date; raises what the database raises (SQLAlchemyError, OSError)."""
        await upgrade(self.engine)
        self.ready = True

    async def aclose(self) -> None:
        await self.engine.dispose()

    def _insert(self, table: type):  # noqa: ANN202 (a dialect's Insert)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # --- replies ------------------------------------------------------------------------------------------------
    async def reply_models(self, token: str) -> dict[str, ModelShown] | None:
        """The models a recorded reply showed; None when nobody has reacted to it yet."""
        async with self.sessions() as session:
            rows = (await session.execute(select(ShownModel).where(ShownModel.token == token))).scalars().all()
        return {row.model: ModelShown(row.version, list(row.captions)) for row in rows} or None

    async def _record_reply(self, session: AsyncSession, token: str, reply: ShownReply) -> None:
        """Image (once per content), reply and models; a second bot host recording the same reply is a no-op."""
        image_hash = sha256(reply.image).hexdigest()
        image = {"content_hash": image_hash, "jpeg": reply.image, "stored_at": now()}
        await session.execute(self._insert(StoredImage).values(image).on_conflict_do_nothing())
        place = reply.place
        shown = {
            "token": token, "platform": place.platform, "server_id": place.server_id, "channel_id": place.channel_id,
            "image_hash": image_hash, "mode": reply.mode, "options": reply.options, "prompt": reply.prompt,
            "shown_at": reply.shown_at,
        }
        await session.execute(self._insert(Shown).values(shown).on_conflict_do_nothing())
        models = [
            {"token": token, "model": name, "version": model.version, "captions": model.captions}
            for name, model in reply.models.items()
        ]
        await session.execute(self._insert(ShownModel).values(models).on_conflict_do_nothing())

    # --- votes and suggestions ------------------------------------------------------------------------------------
    async def vote(self, token: str, reply: ShownReply | None, user_hash: str, value: str) -> str | None:
        """Record or change a vote; `reply` is given when it is not recorded yet. Returns the vote it replaced."""
        async with self.sessions.begin() as session:
            if reply is not None:
                await self._record_reply(session, token, reply)
            before = await session.scalar(select(Vote.value).where(Vote.token == token, Vote.user_hash == user_hash))
            row = {"token": token, "user_hash": user_hash, "value": value, "voted_at": now()}
            upsert = self._insert(Vote).values(row)
            await session.execute(
                upsert.on_conflict_do_update(
                    index_elements=["token", "user_hash"], set_={"value": value, "voted_at": row["voted_at"]}
                )
            )
        return before

    async def suggest(self, token: str, reply: ShownReply | None, user_hash: str, text: str) -> None:
        """Record a suggestion, pending review; a second one from the same person replaces the first."""
        async with self.sessions.begin() as session:
            if reply is not None:
                await self._record_reply(session, token, reply)
            row = {"token": token, "user_hash": user_hash, "text": text, "status": PENDING, "suggested_at": now()}
            changes = {"text": text, "status": PENDING, "suggested_at": row["suggested_at"], "reviewed_at": None}
            upsert = self._insert(Suggestion).values(row)
            await session.execute(upsert.on_conflict_do_update(index_elements=["token", "user_hash"], set_=changes))

    # --- consent: forget and purge --------------------------------------------------------------------------------
    async def forget(self, user_hash: str) -> tuple[int, int]:
        """Delete every vote and suggestion of one person, and what only they had kept; (votes, suggestions)."""
        async with self.sessions.begin() as session:
            votes = (await session.execute(delete(Vote).where(Vote.user_hash == user_hash))).rowcount
            suggestions = (await session.execute(delete(Suggestion).where(Suggestion.user_hash == user_hash))).rowcount
            await _drop_orphans(session)
        return votes, suggestions

    async def purge(self, before: datetime) -> tuple[int, int]:
        """Delete votes and suggestions made before `before`, and what only they had kept; (votes, suggestions)."""
        async with self.sessions.begin() as session:
            votes = (await session.execute(delete(Vote).where(Vote.voted_at < before))).rowcount
            suggestions = (await session.execute(delete(Suggestion).where(Suggestion.suggested_at < before))).rowcount
            await _drop_orphans(session)
        return votes, suggestions

    # --- review ---------------------------------------------------------------------------------------------------
    async def suggestions(
        self, status: str | None = PENDING, scope: ServerScope | None = None, limit: int | None = None
    ) -> list[PendingSuggestion]:
        """Newest first, each with the captions its reply showed."""
        query = select(Suggestion, Shown.platform).join(Shown, Shown.token == Suggestion.token)
        if status is not None:
            query = query.where(Suggestion.status == status)
        query = _scoped(query, scope).order_by(Suggestion.suggested_at.desc(), Suggestion.id.desc()).limit(limit)
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
            tokens = {suggestion.token for suggestion, _ in rows}
            shown = await _first_captions(session, tokens)
        return [
            PendingSuggestion(s.id, s.text, s.status, s.suggested_at, platform, shown.get(s.token, {}))
            for s, platform in rows
        ]

    async def review(self, suggestion_ids: Sequence[int], status: str, scope: ServerScope | None = None) -> int:
        """Approve or reject; returns how many suggestions changed (ids outside `scope` are left alone)."""
        tokens = _scoped(select(Shown.token), scope)
        query = (
            update(Suggestion)
            .where(Suggestion.id.in_(list(suggestion_ids)), Suggestion.token.in_(tokens))
            .values(status=status, reviewed_at=now())
        )
        async with self.sessions.begin() as session:
            return (await session.execute(query)).rowcount

    async def approve_all_from(self, since: datetime) -> int:
        """Approve every pending suggestion made since `since`."""
        query = (
            update(Suggestion)
            .where(Suggestion.status == PENDING, Suggestion.suggested_at >= since)
            .values(status=APPROVED, reviewed_at=now())
        )
        async with self.sessions.begin() as session:
            return (await session.execute(query)).rowcount

    async def counts(self, scope: ServerScope | None = None) -> Counts:
        tokens = _scoped(select(Shown.token), scope)
        votes = select(Vote.value, func.count()).where(Vote.token.in_(tokens)).group_by(Vote.value)
        suggestions = (
            select(Suggestion.status, func.count()).where(Suggestion.token.in_(tokens)).group_by(Suggestion.status)
        )
        async with self.sessions() as session:
            vote_counts = {value: count for value, count in await session.execute(votes)}
            suggestion_counts = {status: count for status, count in await session.execute(suggestions)}
        return Counts(vote_counts, suggestion_counts)


def _scoped(query: Select, scope: ServerScope | None) -> Select:
    if scope is None:
        return query
    return query.where(Shown.platform == scope.platform, Shown.server_id.is_(None) if scope.server_id is None
                       else Shown.server_id == scope.server_id)


async def _first_captions(session: AsyncSession, tokens: set[str]) -> dict[str, dict[str, str]]:
    rows = (await session.execute(select(ShownModel).where(ShownModel.token.in_(tokens)))).scalars().all()
    shown: dict[str, dict[str, str]] = {}
    for row in rows:
        shown.setdefault(row.token, {})[row.model] = row.captions[0] if row.captions else ""
    return shown


async def _drop_orphans(session: AsyncSession) -> None:
    """Replies nobody voted on or corrected any more, then images no reply shows."""
    voted, suggested = select(Vote.token), select(Suggestion.token)
    await session.execute(delete(Shown).where(Shown.token.not_in(voted), Shown.token.not_in(suggested)))
    await session.execute(delete(StoredImage).where(StoredImage.content_hash.not_in(select(Shown.image_hash))))
