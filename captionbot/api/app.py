"""The ASGI app: the same `CaptionService` as the bots (admission, rate limits, timeouts, typed errors), a
rate-limit bucket per API key, problem details for every failure, and the web page."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from captionbot.api.keys import KeyStore
from captionbot.api.limits import UploadSlots
from captionbot.api.model_listing import ModelListing
from captionbot.api.problems import Problem, install_handlers
from captionbot.api.routes import captions, docs, health, models, page
from captionbot.api.workers import WorkerProbe
from captionbot.bot.service import CaptionService
from captionbot.core.settings import Settings

DESCRIPTION = """Image captions from BLIP, on the same queue, workers and limits as the Discord and Slack bots.

Send `Authorization: Bearer KEY` (keys come from `captionbot api-key create NAME`). Every failure is an
RFC 9457 problem (`application/problem+json`) whose `code` is stable and whose `detail` is a sentence to show."""


def create_app(settings: Settings) -> FastAPI:
    """The app; the queue client and the worker probe start with it and stop with it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Every API key gets API_RATE_PER_MINUTE requests, in the same Redis token buckets the bots use.
        service = CaptionService(settings.model_copy(update={"user_rate_per_minute": settings.api_rate_per_minute}))
        probe = WorkerProbe(service.queue.app, settings.queue_name, settings.api_worker_probe_s)
        health_redis = aioredis.from_url(
            settings.redis_url.get_secret_value(), socket_connect_timeout=2, socket_timeout=2
        )
        app.state.service, app.state.workers, app.state.health_redis = service, probe, health_redis
        await probe.start()
        try:
            yield
        finally:
            await probe.stop()
            await health_redis.aclose()
            await service.aclose()

    app = FastAPI(
        title="captionbot", version="1", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.keys = KeyStore(settings.api_keys_file)
    app.state.uploads = UploadSlots(settings.api_uploads_per_key)
    app.state.model_listing = ModelListing(settings.model_dir)
    if settings.api_open_on_trusted_network:
        # Without keys, a web page anywhere could reach this API through DNS rebinding (a name of its own that
        # resolves here); its requests carry that name as Host.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.api_allowed_hosts)
    install_handlers(app, settings.api_rate_per_minute)
    app.include_router(captions.router(settings))
    app.include_router(models.router)
    app.include_router(health.router)
    app.include_router(page.router)
    app.include_router(docs.router())
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    app.mount(docs.ASSETS_URL, StaticFiles(directory=docs.ASSETS), name="docs-assets")
    app.openapi = lambda: _openapi(app, settings.api_open_on_trusted_network)
    return app


def _openapi(app: FastAPI, key_optional: bool) -> dict:
    """FastAPI's document, plus the `Problem` schema that every error response names; on a trusted network
    the key is optional, and the document says so."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
        for operation in (op for path in document["paths"].values() for op in path.values()):
            if key_optional and "security" in operation:
                operation["security"].append({})
        app.openapi_schema = document
    return app.openapi_schema
