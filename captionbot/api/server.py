"""`captionbot api`: check the key file, then serve the app with uvicorn until SIGTERM or Ctrl-C."""

import logging
import sys

import uvicorn

from captionbot.api.app import create_app
from captionbot.api.keys import KeyCommandError, KeyStore
from captionbot.core.metrics import serve_metrics
from captionbot.core.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Exit status 2 with one line on stderr when API_KEYS_FILE cannot be read."""
    try:
        keys = KeyStore(settings.api_keys_file).entries()
    except KeyCommandError as err:
        print(err, file=sys.stderr)
        return 2
    if settings.api_open_on_trusted_network:
        log.warning("API_OPEN_ON_TRUSTED_NETWORK is on: requests without a key are served; keep this off the internet")
    elif not keys:
        log.warning("no API keys in %s yet: make one with `captionbot api-key create NAME`", settings.api_keys_file)
    serve_metrics(settings.metrics_port)
    host, port = host or settings.api_host, port or settings.api_port
    # log_config=None keeps the process's logging; the access log shows paths, never the Authorization header.
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, server_header=False)
    return 0
