"""`captionbot api`: check the key file, then serve the app with uvicorn until SIGTERM or Ctrl-C."""

import logging
import sys

import uvicorn
from fastapi import FastAPI

from captionbot.api.app import create_app
from captionbot.api.keys import KeyCommandError, KeyStore
from captionbot.api.routes.health import workers_check
from captionbot.core.metrics import serve_metrics
from captionbot.core.redis_login import login_refused
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)


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
    host, port = host or settings.api_host, port or settings.api_port
    # log_config=None keeps the process's logging; the access log shows paths, never the Authorization header.
    uvicorn.run(app, host=host, port=port, log_config=None, server_header=False)
    return 0


def workers_problem(app: FastAPI) -> str | None:
    """None while a worker consumed this API's queue at the latest probe, else what is wrong."""
    probe = getattr(app.state, "workers", None)
    if probe is None:
        return "the API has not started yet"
    check = workers_check(probe.snapshot, app.state.settings.queue_name)
    return None if check.ok else check.error
