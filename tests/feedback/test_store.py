"""The feedback store on SQLite and on PostgreSQL: migrations that match the models, one vote per user and
reply that can change, each image stored once, forgetting a person, the retention purge, review."""

import asyncio
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text, update

from captionbot.core.settings import Settings
from captionbot.feedback.migrate import current_revision, head_revision
from captionbot.feedback.schema import Base, Shown, ShownModel, StoredImage, Suggestion, Vote
from captionbot.feedback.store import APPROVED, PENDING, REJECTED, FeedbackStore, ServerScope
from captionbot.feedback.shown import Place
from tests.feedback.conftest import caption_reply, compare_reply, jpeg


def run(coro):
    return asyncio.run(coro)


async def opened(settings: Settings) -> FeedbackStore:
    return await FeedbackStore.open(settings)


async def table_counts(store: FeedbackStore) -> dict[str, int]:
    async with store.sessions() as session:
        return {
            table.__tablename__: await session.scalar(select(func.count()).select_from(table))
            for table in (StoredImage, Shown, ShownModel, Vote, Suggestion)
        }


def test_migrations_reach_head_and_match_the_models(feedback_settings):
    async def scenario():
        store = await opened(feedback_settings)
        await store.aclose()
        store = await opened(feedback_settings)  # a second start finds the schema current and changes nothing
        try:
            async with store.engine.connect() as connection:
                revision = await connection.run_sync(current_revision)
                diff = await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
                journal = None
                if store.engine.dialect.name == "sqlite":
                    journal = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            return revision, diff, journal, store.engine.dialect.name
        finally:
            await store.aclose()

    revision, diff, journal, dialect = run(scenario())
    assert revision == head_revision()
    assert diff == []
    if dialect == "sqlite":
        assert journal == "wal"


def test_one_vote_per_user_and_reply_changeable_and_each_image_stored_once(feedback_settings):
    async def scenario():
        store = await opened(feedback_settings)
        try:
            image = jpeg((10, 200, 10))
            first, second = caption_reply(image=image), caption_reply("a green square", image=image)
            results = [
                await store.vote("t1", first, "alice", "up"),
                await store.vote("t1", first, "bob", "down"),  # the reply is recorded once, whoever comes first
                await store.vote("t1", None, "alice", "down"),
                await store.vote("t2", second, "alice", "up"),  # another reply of the same picture
            ]
            async with store.sessions() as session:
                votes = [tuple(row) for row in await session.execute(select(Vote.token, Vote.user_hash, Vote.value))]
            return results, sorted(votes), await table_counts(store)
        finally:
            await store.aclose()

    results, votes, counts = run(scenario())
    assert results == [None, None, "up", None]
    assert votes == [("t1", "alice", "down"), ("t1", "bob", "down"), ("t2", "alice", "up")]
    assert counts == {"images": 1, "shown": 2, "shown_models": 2, "votes": 3, "suggestions": 0}


def test_forget_deletes_a_person_and_what_only_they_kept(feedback_settings):
    async def scenario():
        store = await opened(feedback_settings)
        try:
            await store.vote("mine", caption_reply(image=jpeg((1, 2, 3))), "alice", "up")
            await store.suggest("mine", None, "alice", "a tiny dark square")
            await store.vote("shared", compare_reply(image=jpeg((9, 9, 9))), "alice", "finetuned")
            await store.vote("shared", None, "bob", "pretrained")
            forgotten = await store.forget("alice")
            async with store.sessions() as session:
                left = (await session.execute(select(Vote.user_hash))).scalars().all()
                tokens = (await session.execute(select(Shown.token))).scalars().all()
            return forgotten, left, tokens, await table_counts(store)
        finally:
            await store.aclose()

    forgotten, left, tokens, counts = run(scenario())
    assert forgotten == (2, 1)
    assert left == ["bob"] and tokens == ["shared"]
    assert counts == {"images": 1, "shown": 1, "shown_models": 2, "votes": 1, "suggestions": 0}


def test_purge_deletes_what_is_older_than_the_retention(feedback_settings):
    async def scenario():
        store = await opened(feedback_settings)
        try:
            await store.vote("old", caption_reply(image=jpeg((5, 5, 5))), "alice", "up")
            await store.vote("new", caption_reply(image=jpeg((250, 250, 250))), "alice", "up")
            long_ago = datetime.now(UTC) - timedelta(days=400)
            async with store.sessions.begin() as session:
                await session.execute(update(Vote).where(Vote.token == "old").values(voted_at=long_ago))
            purged = await store.purge(datetime.now(UTC) - timedelta(days=365))
            async with store.sessions() as session:
                tokens = (await session.execute(select(Shown.token))).scalars().all()
            return purged, tokens, await table_counts(store)
        finally:
            await store.aclose()

    purged, tokens, counts = run(scenario())
    assert purged == (1, 0)
    assert tokens == ["new"]
    assert counts["images"] == 1 and counts["votes"] == 1


def test_review_approves_and_rejects_within_a_server_only(feedback_settings):
    async def scenario():
        store = await opened(feedback_settings)
        try:
            here, there = Place("discord", "111", "c"), Place("discord", "999", "c")
            await store.suggest("a", caption_reply(place=here, image=jpeg((1, 1, 1))), "alice", "first better one")
            await store.suggest("b", caption_reply(place=there, image=jpeg((2, 2, 2))), "alice", "second better one")
            await store.suggest("c", caption_reply(place=here, image=jpeg((3, 3, 3))), "bob", "third better one")
            scope = ServerScope("discord", "111")
            waiting = await store.suggestions(scope=scope)
            by_text = {s.text: s.id for s in await store.suggestions()}
            outside = await store.review([by_text["second better one"]], APPROVED, scope)
            inside = await store.review([by_text["first better one"]], REJECTED, scope)
            since = await store.approve_all_from(datetime.now(UTC) - timedelta(hours=1))
            statuses = {s.text: s.status for s in await store.suggestions(status=None)}
            return [s.text for s in waiting], waiting[0].shown, outside, inside, since, statuses, await store.counts()
        finally:
            await store.aclose()

    waiting, shown, outside, inside, since, statuses, counts = run(scenario())
    assert waiting == ["third better one", "first better one"]  # newest first, this server's only
    assert shown == {"finetuned": "a red square"}
    assert (outside, inside, since) == (0, 1, 2)
    assert statuses == {"first better one": REJECTED, "second better one": APPROVED, "third better one": APPROVED}
    assert counts.suggestions == {APPROVED: 2, REJECTED: 1} and PENDING not in counts.suggestions


def test_a_second_suggestion_replaces_the_first_and_waits_for_review_again(feedback_settings):
    async def scenario():
        store = await opened(feedback_settings)
        try:
            await store.suggest("a", caption_reply(), "alice", "first try at it")
            (first,) = await store.suggestions()
            await store.review([first.id], APPROVED)
            await store.suggest("a", None, "alice", "second try at it")
            return await store.suggestions()
        finally:
            await store.aclose()

    (again,) = run(scenario())
    assert again.text == "second try at it" and again.status == PENDING


def test_the_sqlite_file_holding_images_is_its_owners_alone(tmp_path, redis_url):
    settings = Settings(redis_url=redis_url, data_dir=tmp_path / "data", _env_file=None)
    older = tmp_path / "older"
    older.mkdir()
    (older / "feedback.sqlite3").touch(mode=0o644)  # as a bot made it before this rule

    async def modes(data_dir):
        """Each file's permissions while the database is open and written (its -wal and -shm exist then)."""
        store = await opened(settings.model_copy(update={"data_dir": data_dir}))
        try:
            await store.vote("t1", caption_reply(), "user", "up")
            return {path.name: path.stat().st_mode & 0o777 for path in data_dir.iterdir()}
        finally:
            await store.aclose()

    made, kept = run(modes(settings.data_dir)), run(modes(older))
    private = {name: 0o600 for name in ("feedback.sqlite3", "feedback.sqlite3-shm", "feedback.sqlite3-wal")}
    assert made == private and kept == private
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700
