"""`captionbot api`: check the key file, then serve the app with uvicorn until SIGTERM or Ctrl-C, with limits
that a client cannot outwait: a deadline for each request to arrive (`deadline.py`), a cap on open connections
(uvicorn answers 503 beyond it), idle keep-alive connections closed after KEEP_ALIVE_S, and X-Forwarded-For
believed only from FORWARDED_ALLOW_IPS."""

import logging
import sys

import uvicorn
from fastapi import FastAPI

from captionbot.api.app import create_app
from captionbot.api.deadline import with_deadline
from captionbot.api.keys import KeyCommandError, KeyStore
from captionbot.api.routes.health import workers_check
from captionbot.core.metrics import serve_metrics
from captionbot.core.redis_login import login_refused
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this long


def run(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Exit status 2 with one line on stderr when API_KEYS_FILE cannot be read or Redis refuses REDIS_URL's login."""
    refused = login_refused(settings.redis_url.get_secret_value())
    if refused:
        print(refused, file=sys.stderr)
        return 2
    try:
        keys = KeyStore(settings.api_keys_file).entries()
    except KeyCommandError as err:
        print(err, file=sys.stderr)
        return 2
    if settings.api_open_on_trusted_network:
        log.warning("API_OPEN_ON_TRUSTED_NETWORK is on: requests without a key are served; keep this off the internet")
    elif not keys:
        log.warning("no API keys in %s yet: make one with `captionbot api-key create NAME`", settings.api_keys_file)
    app = create_app(settings)
    # The metrics port answers /healthz as every process's does (core/health.py); the API's own /healthz adds
    # the same checks on the API port.
    serve_metrics(settings.metrics_port, settings).add("workers", lambda: workers_problem(app))
    uvicorn.Server(uvicorn_config(app, settings, host or settings.api_host, port or settings.api_port)).run()
    return 0


def uvicorn_config(app: FastAPI, settings: Settings, host: str, port: int) -> uvicorn.Config:
    # log_config=None keeps the process's logging; the access log shows paths, never the Authorization header.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        server_header=False,
        http=with_deadline(settings.api_request_timeout_s),
        limit_concurrency=settings.api_max_connections,
        timeout_keep_alive=KEEP_ALIVE_S,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: then every made-up address
        # sent through a local proxy (or from the host itself) had a rate-limit bucket of its own.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=",".join(settings.forwarded_allow_ips) or None,
    )


def workers_problem(app: FastAPI) -> str | None:
    """None while a worker consumed this API's queue at the latest probe, else what is wrong."""
    probe = getattr(app.state, "workers", None)
    if probe is None:
        return "the API has not started yet"
    check = workers_check(probe.snapshot, app.state.settings.queue_name)
    return None if check.ok else check.error
