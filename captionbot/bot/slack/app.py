"""`captionbot slack`: the Bolt app, what it needs while it runs, and running it until stopped.

`build_app` wires the listeners to their dependencies; `open_app` owns what they share (the caption service,
a Redis client for dedupe and cooldowns, the download client); `run` checks the tokens, then serves
in Socket Mode or, with `--http`, over HTTP with signature checks (modes.py).
"""

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as aioredis
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from captionbot.bot.fetch import Fetcher
from captionbot.bot.service import CaptionService
from captionbot.bot.recent_images import RecentImages
from captionbot.bot.slack import admin, commands, events, review, shortcuts, votes
from captionbot.bot.slack.captioner import SlackCaptioner
from captionbot.bot.slack.cooldown import Cooldown
from captionbot.bot.slack.credentials import StartupError, credentials_problem, verify_bot_token
from captionbot.bot.slack.dedupe import Dedupe, skip_repeated_events
from captionbot.bot.slack.error_handler import answer_error
from captionbot.bot.slack.files import SlackFiles
from captionbot.bot.slack.inflight import InFlight
from captionbot.bot.slack.modes import http_server, socket_mode
from captionbot.bot.slack.redact import redact_secrets
from captionbot.bot.slack.socket_health import socket_check
from captionbot.bot.slack.threads import ThreadAnswers
from captionbot.core.metrics import serve_metrics
from captionbot.core.redis_login import login_refused
from captionbot.core.settings import Settings, get_settings
from captionbot.feedback.service import FeedbackService, open_feedback

log = logging.getLogger(__name__)

# Redis answers dedupe claims in the request path, before the 3 s ack: fail fast rather than hold the ack.
STORE_TIMEOUT_S = 2.0


class _UnusedTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment by itself and, given our client (which holds that token),
    warns at every start that it will not use it: true, and no concern of the operator's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def _quiet_bolt_notice() -> None:
    bolt_logger = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")
    if not any(isinstance(f, _UnusedTokenNotice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_UnusedTokenNotice())


@dataclass(frozen=True)
class SlackBot:
    app: AsyncApp
    inflight: InFlight
    feedback: FeedbackService | None = None


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client at SLACK_API_URL (Slack's by default), retrying calls Slack rate-limits."""
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    client = AsyncWebClient(base_url=base_url, token=settings.slack_bot_token.get_secret_value())
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return client


def build_app(
    settings: Settings,
    service: CaptionService,
    store: aioredis.Redis,
    fetcher: Fetcher,
    *,
    verify_requests: bool,
    feedback: FeedbackService | None = None,
) -> SlackBot:
    """`verify_requests`: check request signatures with SLACK_SIGNING_SECRET (HTTP mode; Socket Mode has none);
    `feedback`: the vote buttons under captions, where FEEDBACK_* turns them on."""
    client = web_client(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    _quiet_bolt_notice()
    app = AsyncApp(client=client, signing_secret=secret, request_verification_enabled=verify_requests)
    dedupe, cooldown, inflight = Dedupe(store), Cooldown(store, settings.command_cooldown_s), InFlight()
    captioner = SlackCaptioner(service, SlackFiles(client, fetcher, settings))
    slack_feedback = votes.SlackFeedback(feedback, client, service.job_images)
    answers = ThreadAnswers(captioner, client, slack_feedback)

    app.middleware(skip_repeated_events(dedupe))
    events.register(app, answers, dedupe, frozenset(settings.slack_auto_caption_channels), inflight)
    commands.register(app, captioner, cooldown, inflight, slack_feedback)
    shortcuts.register(app, answers, cooldown, inflight)
    admin.register(app, service, frozenset(settings.slack_admin_user_ids), inflight, slack_feedback)
    votes.register(app, slack_feedback, inflight)
    review.register(app, slack_feedback, frozenset(settings.slack_admin_user_ids), inflight)
    app.error(inflight.track(answer_error))
    return SlackBot(app, inflight, feedback)


@asynccontextmanager
async def open_app(settings: Settings, *, verify_requests: bool) -> AsyncIterator[SlackBot]:
    service = CaptionService(settings)
    store = aioredis.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_connect_timeout=STORE_TIMEOUT_S, socket_timeout=STORE_TIMEOUT_S
    )
    try:
        async with Fetcher(loopback_for_tests=settings.fetch_loopback_for_tests) as fetcher, open_feedback(
            settings, service.queue.check_user
        ) as feedback:
            if feedback is not None:
                service.job_images = RecentImages()
            yield build_app(settings, service, store, fetcher, verify_requests=verify_requests, feedback=feedback)
    finally:
        await store.aclose()
        await service.aclose()


def run(http: bool, port: int) -> int:
    """Exit status 2 with one line on stderr when a token is missing, mistaken or refused, or Redis refuses
    REDIS_URL's login."""
    settings = get_settings()
    problem = credentials_problem(settings, http) or login_refused(settings.redis_url.get_secret_value())
    if problem:
        print(problem, file=sys.stderr)
        return 2
    redact_secrets(settings)
    try:
        asyncio.run(serve(settings, http, port))
    except StartupError as err:
        print(err, file=sys.stderr)
        return err.status
    return 0


async def serve(settings: Settings, http: bool, port: int) -> None:
    """Serve until SIGTERM (docker stop, systemd) or Ctrl-C; then take no new work and let the answers in
    flight finish (up to a job timeout)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_app(settings, verify_requests=http) as bot:
        identity = await verify_bot_token(bot.app.client)
        log.info("signed in to Slack workspace %s as %s", identity.get("team"), identity.get("user"))
        health = serve_metrics(settings.metrics_port, settings)
        if http:
            async with http_server(bot.app, port):
                await stop.wait()
        else:
            async with socket_mode(bot.app, settings.slack_app_token.get_secret_value()) as socket:
                health.add("socket", socket_check(socket.client))
                await stop.wait()
        log.info("stopping; answers in flight: %d", bot.inflight.running)
        if not await bot.inflight.wait_idle(settings.job_timeout_s + 10):
            log.warning("stopped; answers left unfinished: %d", bot.inflight.running)
