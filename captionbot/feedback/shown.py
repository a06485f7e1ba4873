"""A reply the bot showed with feedback buttons, kept in Redis (not the database) until someone votes on it or
suggests a better caption, then written to the database once. Unused, it expires after FEEDBACK_VOTE_WINDOW_H:
the database never holds a caption nobody reacted to.

The buttons carry only the reply's token; everything else (the shrunk JPEG, models, versions, captions, options,
where it was shown) is found by that token here or, once recorded, in the database, so buttons keep working
across bot restarts and on any bot host."""

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import redis.asyncio as aioredis

from captionbot.core.jobs import JobResult, Mode, Options

TOKEN_BYTES = 16  # 32 hex characters


@dataclass(frozen=True)
class Place:
    platform: str  # discord, slack
    server_id: str | None  # Discord guild, Slack workspace; None in a direct message
    channel_id: str


@dataclass(frozen=True)
class ModelShown:
    version: str
    captions: list[str]


@dataclass(frozen=True)
class ShownReply:
    place: Place
    mode: str
    options: dict
    models: dict[str, ModelShown]  # one model, or pretrained and finetuned for /compare
    image: bytes  # the shrunk JPEG the job captioned
    prompt: str | None = None  # None: unconditional captioning, as every model here decodes
    shown_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_result(cls, place: Place, result: JobResult, image: bytes, mode: Mode, options: Options) -> "ShownReply":
        models = {name: ModelShown(model.version, list(model.captions)) for name, model in result.results.items()}
        return cls(place, str(mode), options.model_dump(), models, image)

    @property
    def is_compare(self) -> bool:
        return len(self.models) > 1

    def to_json(self) -> str:
        data = asdict(self)
        del data["image"]
        data["shown_at"] = self.shown_at.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, meta: str | bytes, image: bytes) -> "ShownReply":
        data = json.loads(meta)
        return cls(
            place=Place(**data["place"]),
            mode=data["mode"],
            options=data["options"],
            models={name: ModelShown(**model) for name, model in data["models"].items()},
            image=image,
            prompt=data["prompt"],
            shown_at=datetime.fromisoformat(data["shown_at"]),
        )


def new_token() -> str:
    return secrets.token_hex(TOKEN_BYTES)


class ShownReplies:
    """Replies waiting for a first reaction, in Redis, by token."""

    def __init__(self, client: aioredis.Redis, window_s: int) -> None:
        self._client = client
        self._window_s = window_s

    @staticmethod
    def key(token: str) -> str:
        return f"captionbot:feedback:shown:{token}"

    async def keep(self, reply: ShownReply) -> str:
        token = new_token()
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key(token), mapping={"meta": reply.to_json(), "image": reply.image})
            pipe.expire(self.key(token), self._window_s)
            await pipe.execute()
        return token

    async def find(self, token: str) -> ShownReply | None:
        meta, image = await self._client.hmget(self.key(token), ["meta", "image"])
        return None if meta is None or image is None else ShownReply.from_json(meta, image)
