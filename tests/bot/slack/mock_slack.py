"""A local Slack for the tests, in the manner of Bolt's own mock Web API server: it answers the Web API methods
the bot calls and records each call, serves files (with an optional redirect to a second host name, and a gate
that holds downloads until a test releases them), records what is POSTed to response_urls, and speaks Socket
Mode (apps.connections.open, then a websocket that sends envelopes and records the acks).

Where Slack's documentation states a rule the bot can break, the mock keeps it, cited beside the code: blocks
are checked with slack_sdk's own Block Kit models and refused as `invalid_blocks`; a message with blocks and a
blank top-level `text` is noted in `warnings` (notifications would show nothing); files.info and
chat.postMessage answer the errors their reference pages list for a file or channel the test marks; an argument
a method's reference page does not list is refused as `invalid_arguments`."""

import asyncio
import inspect
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

TEAM_ID = "T0CAPTION"
BOT_USER_ID = "U0CAPBOT"
BOT_ID = "B0CAPBOT"
# The two host names of the one local server: Slack's "files host", and a second host a download may be
# redirected to. Both are in SLACK_FILE_HOSTS; the bot token may go only to the first.
FILES_HOST = "127.0.0.1"
OTHER_HOST = "localhost"
BLOCKS_PER_MESSAGE = 50  # https://docs.slack.dev/reference/block-kit/blocks: "up to 50 blocks in each message"


def block_problem(blocks: list[dict] | None) -> str | None:
    """Why Slack would refuse these blocks (`invalid_blocks`), judged by slack_sdk's Block Kit models, which
    encode Block Kit's documented limits (section text 3000, ten fields of 2000, ten context elements...)."""
    if not blocks:
        return None
    if len(blocks) > BLOCKS_PER_MESSAGE:
        return f"{len(blocks)} blocks, over {BLOCKS_PER_MESSAGE}"
    for block in blocks:
        try:
            Block.parse(block).validate_json()
        except SlackObjectFormationError as err:
            return str(err)
    return None


# Bolt's own authorization calls auth.test through its per-request client, which adds `team_id` to every call:
# not the bot's doing, and what every Bolt app sends Slack.
BOLTS_OWN_ARGUMENTS = {"auth.test": {"team_id"}}


def argument_problem(method: str, args: dict) -> str | None:
    """The arguments `method` does not take. Each method's reference page lists its arguments
    (docs.slack.dev/reference/methods/<method>, "Arguments"; e.g. views.open: token, view, trigger_id,
    interactivity_pointer), and slack_sdk's WebClient method of the same name, generated from them, takes exactly
    those; every method's page lists `invalid_arguments` among its errors."""
    function = getattr(AsyncWebClient, method.replace(".", "_"), None)
    if function is None:
        return None
    documented = {"token", *inspect.signature(function).parameters, *BOLTS_OWN_ARGUMENTS.get(method, ())}
    documented -= {"self", "kwargs"}
    unknown = sorted(set(args) - documented)
    return f"not arguments of {method}: {', '.join(unknown)}" if unknown else None


@dataclass
class Call:
    method: str
    args: dict
    authorization: str | None


@dataclass
class FileHit:
    host: str
    path: str
    authorization: str | None


@dataclass
class MockSlack:
    bot_token: str
    app_token: str = ""
    calls: list[Call] = field(default_factory=list)
    file_hits: list[FileHit] = field(default_factory=list)
    responses: list[dict] = field(default_factory=list)  # response_url POSTs, each with its "url_id"
    files: dict[str, dict] = field(default_factory=dict)  # what files.info answers, by file id
    file_bytes: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)  # file id → where its download redirects
    history: dict[str, list[dict]] = field(default_factory=dict)  # channel → messages, newest first
    errors: dict[str, str] = field(default_factory=dict)  # method → the error it answers
    # files.info's answer for a file this app may not see (https://docs.slack.dev/reference/methods/files.info#errors)
    file_errors: dict[str, str] = field(default_factory=dict)  # file id → access_denied, not_visible, ...
    # chat.postMessage's answer for a channel it may not post in: read-only, thread-only, locked threads
    # (https://docs.slack.dev/reference/methods/chat.postMessage#errors: restricted_action_read_only_channel, ...)
    post_errors: dict[str, str] = field(default_factory=dict)  # channel id → error
    # Messages with blocks but a blank `text`: chat.postMessage takes `text` as the fallback "for notifications"
    # (https://docs.slack.dev/reference/methods/chat.postMessage#arguments), and slack_sdk warns without it.
    warnings: list[str] = field(default_factory=list)
    downloads_open: asyncio.Event = field(default_factory=asyncio.Event)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    socket_acks: list[dict] = field(default_factory=list)
    port: int = 0
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))

    async def __aenter__(self) -> "MockSlack":
        self.downloads_open.set()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{team_file}/download/{name}", self._file)
        app.router.add_get("/cdn/{file_id}", self._file)
        app.router.add_post("/respond/{url_id}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, FILES_HOST, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.downloads_open.set()
        for socket in self.sockets:
            await socket.close()
        await self._runner.cleanup()

    # --- what the tests set up ------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://{FILES_HOST}:{self.port}/api/"

    @property
    def workspace_url(self) -> str:
        return f"http://{OTHER_HOST}:{self.port}/"

    def response_url(self) -> str:
        return f"http://{FILES_HOST}:{self.port}/respond/{uuid.uuid4().hex[:8]}"

    def add_file(
        self,
        data: bytes,
        name: str = "photo.png",
        mimetype: str = "image/png",
        *,
        size: int | None = None,
        channels: tuple[str, ...] = (),
        public: bool = False,
        redirect_to: str | None = None,
        slack_connect: bool = False,
    ) -> dict:
        """A file as a message lists it. `redirect_to` ("other" or "elsewhere") makes its download redirect to
        the second host name, or to a host outside SLACK_FILE_HOSTS; `slack_connect` lists it as Slack Connect
        does, with no metadata until files.info is asked."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        url = f"http://{FILES_HOST}:{self.port}/files-pri/{TEAM_ID}-{file_id}/download/{name}"
        info = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "size": len(data) if size is None else size,
            "url_private": url.replace("/download/", "/"),
            "url_private_download": url,
            "permalink": f"{self.workspace_url}files/U0SHARER/{file_id}/{name}",
            "channels": list(channels),
            "is_public": public,
            "mode": "hosted",
        }
        self.files[file_id], self.file_bytes[file_id] = info, data
        if redirect_to == "other":
            self.redirects[file_id] = f"http://{OTHER_HOST}:{self.port}/cdn/{file_id}"
        elif redirect_to == "elsewhere":
            self.redirects[file_id] = f"http://files.elsewhere.test:{self.port}/cdn/{file_id}"
        if slack_connect:
            return {"id": file_id, "file_access": "check_file_info", "created": int(time.time()), "user": "U0SHARER"}
        return dict(info)

    def post_message(
        self, channel: str, user: str, files: list[dict] = (), text: str = "", thread_ts: str | None = None
    ) -> dict:
        """A message as conversations.history lists it (and as an event carries it)."""
        message = {"type": "message", "user": user, "text": text, "ts": self.next_ts()}
        if files:
            message.update(subtype="file_share", files=list(files), upload=True)
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.history.setdefault(channel, []).insert(0, message)
        return dict(message)

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def send_envelope(self, kind: str, payload: dict) -> str:
        """Deliver `payload` over the open Socket Mode connection, as Slack does; returns its envelope id."""
        envelope_id = uuid.uuid4().hex
        await self.wait_for(lambda: self.sockets)
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    # --- what the tests read -----------------------------------------------------------------------------------

    def called(self, method: str) -> list[dict]:
        return [call.args for call in self.calls if call.method == method]

    async def wait_for(self, check: Callable[[], object], timeout: float = 30.0) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(
            f"not seen in {timeout} s; calls: {[(c.method, c.args) for c in self.calls]}; responses: {self.responses}"
        )

    # --- the server ----------------------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            args.update(
                await request.json() if request.content_type == "application/json" else dict(await request.post())
            )
        authorization = request.headers.get("Authorization")
        self.calls.append(Call(method, args, authorization))
        token = self.app_token if method == "apps.connections.open" else self.bot_token
        if authorization != f"Bearer {token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in self.errors:
            return web.json_response({"ok": False, "error": self.errors[method]})
        unknown = argument_problem(method, args)
        if unknown:
            return web.json_response(
                {"ok": False, "error": "invalid_arguments", "response_metadata": {"messages": [f"[ERROR] {unknown}"]}}
            )
        refused = self._message_problem(method, args)
        if refused:
            return web.json_response({"ok": False, "error": refused})
        answer = getattr(self, "_" + method.replace(".", "_"), lambda args: {})
        return web.json_response({"ok": True, **answer(args)})

    def _auth_test(self, args: dict) -> dict:
        return {
            "url": self.workspace_url,
            "team": "Test Team",
            "user": "captionbot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, args: dict) -> dict:
        return {"url": f"ws://{FILES_HOST}:{self.port}/socket"}

    def _message_problem(self, method: str, args: dict) -> str | None:
        """The error chat.postMessage / chat.postEphemeral would answer for this message, if any."""
        if method not in ("chat.postMessage", "chat.postEphemeral"):
            return None
        if method == "chat.postMessage" and args.get("channel") in self.post_errors:
            return self.post_errors[args["channel"]]
        return self._check_message(method, args)

    def _check_message(self, where: str, args: dict) -> str | None:
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if block_problem(blocks):
            return "invalid_blocks"
        if blocks and not str(args.get("text") or "").strip():
            self.warnings.append(f"{where}: blocks without fallback text")
        return None

    def _files_info(self, args: dict) -> dict:
        if args["file"] in self.file_errors:
            return {"ok": False, "error": self.file_errors[args["file"]]}
        if args["file"] not in self.files:
            return {"ok": False, "error": "file_not_found"}
        return {"file": self.files[args["file"]]}

    def _conversations_history(self, args: dict) -> dict:
        return {"messages": self.history.get(args["channel"], [])[: int(args.get("limit", 100))], "has_more": False}

    def _conversations_replies(self, args: dict) -> dict:
        thread = [m for m in self.history.get(args["channel"], []) if args["ts"] in (m["ts"], m.get("thread_ts"))]
        return {"messages": sorted(thread, key=lambda m: m["ts"]), "has_more": False}

    def _chat_postMessage(self, args: dict) -> dict:
        return {"channel": args["channel"], "ts": self.next_ts(), "message": {"text": args.get("text", "")}}

    def _chat_postEphemeral(self, args: dict) -> dict:
        return {"message_ts": self.next_ts()}

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self.file_hits.append(FileHit(request.url.host, request.path, request.headers.get("Authorization")))
        await self.downloads_open.wait()
        file_id = request.match_info.get("file_id") or request.match_info["team_file"].split("-", 1)[1]
        if file_id not in self.file_bytes:
            return web.Response(status=404)
        if "file_id" not in request.match_info and file_id in self.redirects:
            raise web.HTTPFound(self.redirects[file_id])
        return web.Response(body=self.file_bytes[file_id], content_type=self.files[file_id]["mimetype"])

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0CAPTION"}})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
        return socket

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append({"url_id": request.match_info["url_id"], **body})
        if self._check_message("response_url", body):
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")
