"""A local stand-in for Discord: the REST API (under /api/v10), the gateway (a websocket) and the CDN, answering
discord.py the way Discord does and recording every request it receives, in order.

It keeps Discord's rules that a bot can get wrong, each as Discord's documentation (github.com/discord/
discord-api-docs, pages under developers/) states it, cited where it is encoded: a REST call needs the bot token;
an interaction is acknowledged once, and followups only after that; the first followup after a "thinking" defer
edits the deferred message and keeps its visibility whatever its own flags say; a "thinking" defer the bot never
answers is reported (`left_thinking`, which the harness refuses at the end of every test); messages over the
content, embed (6,000 characters in all) and upload limits are refused (400, 413); the gateway closes with 4014 when the bot asks for the message_content
intent that the "portal" has not enabled; without that intent, a guild message that does not mention the bot
arrives with its content and attachments blanked.

Every message the bot makes is kept as Discord would store it (`messages`, with the flags Discord gives it), so
a test reads what people see, not only what the bot asked for.
"""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.bot.discord import payloads as p

API = "/api/v10"
CALL = web.RequestKey("call", object)

# developers/resources/message, "Embed Limits" (measured after trimming whitespace) and Create Message "content".
CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT = 256, 1024
EMBEDS_TOTAL_LIMIT = 6000
ALT_TEXT_LIMIT = 1024  # developers/resources/message, attachment object: description (alt text)
# developers/resources/message, Create Message, "Limitations": "The maximum request size when sending a message is
# 25 MiB"; developers/reference, "Uploading Files": the upload limit applies to each file (attachment_size_limit).
REQUEST_LIMIT = 25 * 1024 * 1024
FILE_LIMIT = 10 * 1024 * 1024
STORED = ("content", "embeds", "attachments", "components", "flags")  # of a message, in `Message.body`


@dataclass
class Upload:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Message:
    """A message as Discord stores it; `body` holds its content, embeds, attachments, components and flags."""

    id: str
    channel_id: str
    body: dict
    uploads: list[Upload]
    interaction_token: str | None = None
    loading: bool = False  # a "thinking…" defer not yet edited
    deleted: bool = False
    at: float = field(default_factory=time.monotonic)

    @property
    def ephemeral(self) -> bool:
        return bool(self.body.get("flags", 0) & p.EPHEMERAL)


@dataclass
class Call:
    method: str
    path: str  # after /api/v10 for the REST API; /attachments/... for the CDN
    query: dict[str, str]
    body: Any  # the JSON body, or a multipart body's payload_json
    uploads: list[Upload] = field(default_factory=list)
    authorization: str | None = None
    size: int = 0  # of the request body, in bytes
    at: float = field(default_factory=time.monotonic)


class FakeDiscord:
    def __init__(self, token: str, *, message_content_allowed: bool = True) -> None:
        self.token = token
        self.message_content_allowed = message_content_allowed
        self.application_id = p.snowflake()
        self.bot_user = p.user(p.snowflake(), "captionbot", bot=True)
        self.owner = p.user(p.snowflake(), "ada")
        self.guild_id = p.snowflake()
        self.channel = p.text_channel(p.snowflake(), self.guild_id, "general")
        self.auto_channel = p.text_channel(p.snowflake(), self.guild_id, "captions", position=1)
        self.admin_role = p.role(p.snowflake(), "caption admins", position=1)
        self.calls: list[Call] = []
        self.identifies: list[dict] = []
        self.commands: dict[str, dict] = {}  # name -> the command as the last sync registered it
        self.files: dict[str, tuple[bytes, str]] = {}  # CDN path -> (bytes, content type)
        self.messages: list[Message] = []  # every message the bot made, as Discord keeps it
        self.reactions: list[tuple[str, str, str]] = []  # (channel id, message id, emoji) the bot added
        self._originals: dict[str, Message] = {}  # interaction token -> its original response
        self.on_request: Callable[[Call], Any] | None = None  # runs as each request arrives, before the answer
        self._acknowledged: set[str] = set()  # interaction ids
        self._webhook_tokens: set[str] = set()  # their tokens, which followups are sent with
        self._socket: web.WebSocketResponse | None = None
        self._intents = 0
        self._sequence = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- running -------------------------------------------------------------------------------------------
    async def start(self) -> "FakeDiscord":
        app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        app.router.add_get(f"{API}/users/@me", self._me)
        app.router.add_get(f"{API}/oauth2/applications/@me", self._application)
        app.router.add_put(f"{API}/applications/{{app}}/commands", self._put_commands)
        app.router.add_put(f"{API}/applications/{{app}}/guilds/{{guild}}/commands", self._put_commands)
        app.router.add_post(f"{API}/interactions/{{id}}/{{token}}/callback", self._callback)
        app.router.add_post(f"{API}/webhooks/{{app}}/{{token}}", self._followup)
        app.router.add_patch(f"{API}/webhooks/{{app}}/{{token}}/messages/@original", self._edit_original)
        app.router.add_delete(f"{API}/webhooks/{{app}}/{{token}}/messages/@original", self._delete_original)
        app.router.add_put(f"{API}/channels/{{channel}}/messages/{{message}}/reactions/{{emoji}}/@me", self._react)
        app.router.add_post(f"{API}/channels/{{channel}}/messages", self._channel_message)
        app.router.add_post(f"{API}/channels/{{channel}}/typing", self._typing)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/{kind:(ephemeral-)?attachments}/{path:.+}", self._cdn)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.base_url + API

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http", "ws", 1) + "/gateway"

    def add_file(self, data: bytes, filename: str, content_type: str, *, ephemeral: bool = False) -> str:
        """Host a file on the CDN; returns its URL (without the signature query Discord adds)."""
        owner = self.application_id if ephemeral else self.channel["id"]
        path = f"/{'ephemeral-attachments' if ephemeral else 'attachments'}/{owner}/{p.snowflake()}/{filename}"
        self.files[path] = (data, content_type)
        return self.base_url + path

    # --- waiting on what the bot does --------------------------------------------------------------------------
    async def wait_until(self, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
        async with self._changed:
            return await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def wait_for_call(self, predicate: Callable[[Call], bool], timeout: float = 30.0) -> Call:
        return await self.wait_until(lambda: next((c for c in self.calls if predicate(c)), None), timeout)

    def left_thinking(self) -> list[Message]:
        """Deferred responses never answered. developers/interactions/receiving-and-responding, "Interaction
        Response Object": DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE (5) "ACK an interaction and edit a response later,
        the user sees a loading state"; the response must follow within the token's 15 minutes ("Interaction
        tokens are valid for 15 minutes"), after which the person is left with the loading state and an error."""
        return [m for m in self.messages if m.loading and not m.deleted]

    def calls_to(self, method: str, path_part: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and path_part in c.path]

    async def poke(self) -> None:
        """Wake whoever waits on the fake (to re-check a condition that is not about a request)."""
        await self._changed_now()

    async def _changed_now(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- the gateway -----------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict) -> None:
        """Send a DISPATCH (op 0) on the live gateway connection, as Discord would."""
        if event == "MESSAGE_CREATE":
            data = self._as_delivered(data)
        self._sequence += 1
        await self._socket.send_json({"op": 0, "t": event, "s": self._sequence, "d": data})

    def _as_delivered(self, message: dict) -> dict:
        """Without the message_content intent, guild messages that do not mention the bot lose their content."""
        mentioned = any(u["id"] == self.bot_user["id"] for u in message.get("mentions", []))
        if self._intents & p.MESSAGE_CONTENT_INTENT or "guild_id" not in message or mentioned:
            return message
        return {**message, "content": "", "attachments": [], "embeds": [], "components": []}

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json(
            {"op": 10, "d": {"heartbeat_interval": 41250, "_trace": ["gateway-test"]}, "s": None, "t": None}
        )
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload["op"] == 1:
                await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif payload["op"] == 2:
                await self._identify(socket, payload["d"])
        return socket

    async def _identify(self, socket: web.WebSocketResponse, identify: dict) -> None:
        self.identifies.append(identify)
        if identify.get("token") != self.token:
            await socket.close(code=4004, message=b"Authentication failed.")
        elif identify.get("intents", 0) & p.MESSAGE_CONTENT_INTENT and not self.message_content_allowed:
            await socket.close(code=4014, message=b"Disallowed intent(s).")
        else:
            self._socket, self._intents, self._sequence = socket, identify.get("intents", 0), 0
            await self.dispatch("READY", p.ready(self.bot_user, self.application_id, [self.guild_id], self.gateway_url))
            await self.dispatch("GUILD_CREATE", self.guild_payload())
        await self._changed_now()

    def guild_payload(self) -> dict:
        everyone = p.role(self.guild_id, "@everyone", position=0, permissions="1071698660929")
        members = [p.member(self.bot_user, []), p.member(self.owner, [])]
        return p.guild_create(
            self.guild_id, self.owner["id"], [self.channel, self.auto_channel], [everyone, self.admin_role], members
        )

    @property
    def connected(self) -> bool:
        return self._socket is not None and not self._socket.closed

    # --- the REST API -----------------------------------------------------------------------------------------
    @web.middleware
    async def _record(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)
        call = Call(
            request.method,
            request.path.removeprefix(API),
            dict(request.query),
            None,
            authorization=request.headers.get("Authorization"),
        )
        call.size = request.content_length or 0
        if request.content_type.startswith("multipart/"):
            await self._read_multipart(request, call)
        elif request.can_read_body:
            raw = await request.read()
            call.body = json.loads(raw) if raw else None
        self.calls.append(call)
        await self._changed_now()  # a request held by `on_request` is seen as it arrives
        if self.on_request is not None:
            outcome = self.on_request(call)
            if asyncio.iscoroutine(outcome):
                await outcome
        request[CALL] = call
        try:
            return await handler(request)
        finally:
            await self._changed_now()

    @staticmethod
    async def _read_multipart(request: web.Request, call: Call) -> None:
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()
            if part.name == "payload_json":
                call.body = json.loads(data)
            else:
                call.uploads.append(Upload(part.name, part.filename, part.headers.get("Content-Type", ""), bytes(data)))

    def _authorized(self, request: web.Request) -> bool:
        return request[CALL].authorization == f"Bot {self.token}"

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        return _json(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        return _json(p.application(self.application_id, self.owner))

    async def _put_commands(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        guild_id = request.match_info.get("guild")
        registered = []
        for command in request[CALL].body:
            entry = {
                "id": p.snowflake(),
                "application_id": self.application_id,
                "version": p.snowflake(),
                "default_member_permissions": None,
                "type": 1,
                "nsfw": False,
                "description": "",
                "dm_permission": True,
                "contexts": None,
                "integration_types": [0],
                **command,
            }
            if guild_id:
                entry["guild_id"] = guild_id
            registered.append(entry)
            self.commands[command["name"]] = entry
        return _json(registered)

    async def _callback(self, request: web.Request) -> web.Response:
        interaction_id = request.match_info["id"]
        if interaction_id in self._acknowledged:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        body = request[CALL].body
        data = body.get("data") or {}
        refused = self._refusal(request[CALL], data)
        if refused is not None:
            return refused
        self._acknowledged.add(interaction_id)
        token = request.match_info["token"]
        self._webhook_tokens.add(token)
        call = Call(request[CALL].method, request[CALL].path, {}, data, request[CALL].uploads)
        message = self._message(call, self.channel["id"], flags=data.get("flags", 0))
        self._originals[token] = self._keep(message, call, token, loading=body["type"] == 5)
        answer = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_id": message["id"],
                "response_message_loading": body["type"] == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & p.EPHEMERAL),
            },
            "resource": {"type": body["type"], "message": message},
        }
        return _json(answer)

    async def _followup(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if token not in self._webhook_tokens:
            return _error(404, 10015, "Unknown Webhook")
        call = request[CALL]
        refused = self._refusal(call, call.body or {})
        if refused is not None:
            return refused
        original = self._originals.get(token)
        if original is not None and original.loading and not original.deleted:
            # developers/interactions/receiving-and-responding, "Create Followup Message": directly after a
            # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE this works as Edit Original Interaction Response: no new
            # message; "The ephemeral flag will be ignored, and the value you provided in the initial defer
            # response will be preserved".
            return self._edit(original, call)
        message = self._message(call, self.channel["id"], flags=(call.body or {}).get("flags", 0))
        self._keep(message, call, token)
        return _json({**message, "webhook_id": self.application_id, "application_id": self.application_id})

    async def _edit_original(self, request: web.Request) -> web.Response:
        """developers/interactions/receiving-and-responding, "Edit Original Interaction Response"; an existing
        message's ephemeral state cannot change, so its flags stay."""
        original = self._originals.get(request.match_info["token"])
        if original is None or original.deleted:
            return _error(404, 10008, "Unknown Message")
        refused = self._refusal(request[CALL], request[CALL].body or {})
        return refused if refused is not None else self._edit(original, request[CALL])

    async def _delete_original(self, request: web.Request) -> web.Response:
        original = self._originals.get(request.match_info["token"])
        if original is None or original.deleted:
            return _error(404, 10008, "Unknown Message")
        original.deleted = True
        return web.Response(status=204)

    def _edit(self, original: Message, call: Call) -> web.Response:
        flags = original.body.get("flags", 0)
        message = self._message(call, original.channel_id, flags=flags)
        if "components" not in (call.body or {}):  # an edit leaves the fields it does not name as they were
            message["components"] = original.body.get("components", [])
        original.body = {key: message[key] for key in STORED}
        original.uploads, original.loading, original.at = list(call.uploads), False, time.monotonic()
        return _json({**message, "id": original.id})

    async def _channel_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        refused = self._refusal(request[CALL], request[CALL].body or {})
        if refused is not None:
            return refused
        message = self._message(request[CALL], request.match_info["channel"])
        self._keep(message, request[CALL], None)
        return _json(message)

    async def _react(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        info = request.match_info
        self.reactions.append((info["channel"], info["message"], info["emoji"]))
        return web.Response(status=204)

    def _keep(self, message: dict, call: Call, token: str | None, *, loading: bool = False) -> Message:
        body = {key: message[key] for key in STORED}
        kept = Message(message["id"], message["channel_id"], body, list(call.uploads), token, loading)
        self.messages.append(kept)
        return kept

    def _refusal(self, call: Call, body: dict) -> web.Response | None:
        """Discord's answer to a message over its limits, or None when it is within them."""
        if call.size > REQUEST_LIMIT or any(len(u.data) > FILE_LIMIT for u in call.uploads):
            return _error(413, 40005, "Request entity too large")
        problem = limit_problem(body)
        return _error(400, 50035, f"Invalid Form Body: {problem}") if problem else None

    async def _typing(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        return web.Response(status=204)

    async def _cdn(self, request: web.Request) -> web.Response:
        found = self.files.get(request.path)
        if found is None:
            return web.Response(status=404, text="Not Found")
        data, content_type = found
        return web.Response(body=data, content_type=content_type)

    async def _unknown(self, request: web.Request) -> web.Response:
        return _error(404, 0, "404: Not Found")

    def _message(self, call: Call, channel_id: str, flags: int = 0) -> dict:
        """The message Discord would store for a create-message body, attachments included."""
        body = call.body or {}
        attachments = []
        for index, upload in enumerate(call.uploads):
            declared = next((a for a in body.get("attachments", []) if str(a.get("id")) == str(index)), {})
            url = self.add_file(upload.data, upload.filename, upload.content_type)
            attachment = p.attachment(url, upload.filename, len(upload.data), upload.content_type)
            if declared.get("description"):
                attachment["description"] = declared["description"]
            attachments.append(attachment)
        data = p.message(
            p.snowflake(), channel_id, self.guild_id, self.bot_user, body.get("content") or "", attachments
        )
        data.update(
            embeds=body.get("embeds", []), components=body.get("components", []), flags=flags, member=p.member(None, [])
        )
        if "message_reference" in body:
            data.update(type=19, message_reference=body["message_reference"])
        return data


def limit_problem(body: dict) -> str | None:
    """Which of Discord's message limits `body` breaks (developers/resources/message, "Embed Limits")."""
    if len((body.get("content") or "").strip()) > CONTENT_LIMIT:
        return f"content: must be {CONTENT_LIMIT} or fewer in length"
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_PER_MESSAGE:
        return f"embeds: must be {EMBEDS_PER_MESSAGE} or fewer in length"
    total = 0
    for embed in embeds:
        texts = {
            "title": embed.get("title"),
            "description": embed.get("description"),
            "footer": (embed.get("footer") or {}).get("text"),
            "author": (embed.get("author") or {}).get("name"),
        }
        for name, text in texts.items():
            if len((text or "").strip()) > EMBED_LIMITS[name]:
                return f"embeds.{name}: must be {EMBED_LIMITS[name]} or fewer in length"
            total += len((text or "").strip())
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_PER_EMBED:
            return f"embeds.fields: must be {FIELDS_PER_EMBED} or fewer in length"
        for item in fields:
            if len(item["name"].strip()) > FIELD_NAME_LIMIT or len(item["value"].strip()) > FIELD_VALUE_LIMIT:
                return "embeds.fields: a name or value is too long"
            total += len(item["name"].strip()) + len(item["value"].strip())
    if total > EMBEDS_TOTAL_LIMIT:
        return f"embeds: {total} characters in all, over {EMBEDS_TOTAL_LIMIT}"
    if any(len(a.get("description") or "") > ALT_TEXT_LIMIT for a in body.get("attachments") or []):
        return f"attachments.description: must be {ALT_TEXT_LIMIT} or fewer in length"
    return None


def _json(data: object, status: int = 200) -> web.Response:
    """JSON as Discord sends it: `application/json` with no charset (discord.py compares the header exactly)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)
