"""The feedback tables. Nothing is written for a caption nobody votes on or corrects: a `shown` row (and its
image) is created by the first vote or suggestion on it.

    images        the shrunk JPEG a job captioned, once per content hash
    shown         one reply's captions: platform, server, channel, mode, options, prompt, when
    shown_models  each model of a reply with its version and captions (two rows for /compare)
    votes         one per user per reply: up / down, or on /compare the model preferred
    suggestions   one per user per reply: a better caption, pending until reviewed
"""

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

HASH_LENGTH = 64  # sha256 / HMAC-SHA256, hex
TOKEN_LENGTH = 32
SUGGESTION_MAX = 200


class Base(DeclarativeBase):
    pass


class StoredImage(Base):
    __tablename__ = "images"

    content_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Shown(Base):
    __tablename__ = "shown"

    token: Mapped[str] = mapped_column(String(TOKEN_LENGTH), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    server_id: Mapped[str | None] = mapped_column(String(64))  # Discord guild or Slack workspace; None in DMs
    channel_id: Mapped[str] = mapped_column(String(64))
    image_hash: Mapped[str] = mapped_column(ForeignKey("images.content_hash"), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict] = mapped_column(JSON)
    prompt: Mapped[str | None] = mapped_column(String(200))  # None: unconditional captioning
    shown_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ShownModel(Base):
    __tablename__ = "shown_models"

    token: Mapped[str] = mapped_column(ForeignKey("shown.token", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[str] = mapped_column(String(200), index=True)
    captions: Mapped[list] = mapped_column(JSON)


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("token", "user_hash", name="one_vote_per_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(ForeignKey("shown.token", ondelete="CASCADE"))
    user_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), index=True)
    value: Mapped[str] = mapped_column(String(16))  # up, down, pretrained, finetuned
    voted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Suggestion(Base):
    __tablename__ = "suggestions"
    __table_args__ = (UniqueConstraint("token", "user_hash", name="one_suggestion_per_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(ForeignKey("shown.token", ondelete="CASCADE"))
    user_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), index=True)
    text: Mapped[str] = mapped_column(String(SUGGESTION_MAX))
    status: Mapped[str] = mapped_column(String(10), index=True)  # pending, approved, rejected
    suggested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
