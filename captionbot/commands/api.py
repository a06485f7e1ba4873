"""`captionbot api` (the HTTP API and web page) and `captionbot api-key create|list|revoke`."""

import argparse
import logging
import sys

from captionbot.api.keys import KeyCommandError, KeyStore
from captionbot.core.errors import UsageError


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    api = subparsers.add_parser("api", help="serve the HTTP API and the web page (uvicorn)")
    api.add_argument("--host", help="address to listen on (default API_HOST)")
    api.add_argument("--port", type=int, help="port to listen on (default API_PORT)")
    api.set_defaults(func=_api)

    keys = subparsers.add_parser("api-key", help="make, list and revoke API keys (stored in API_KEYS_FILE)")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key and print it once")
    create.add_argument("name", help="who or what the key is for, e.g. cms or alice")
    create.set_defaults(func=_create)
    listing = actions.add_parser("list", help="list key names and when each was made (never the keys)")
    listing.set_defaults(func=_list)
    revoke = actions.add_parser("revoke", help="delete a key; requests with it are refused at once")
    revoke.add_argument("name")
    revoke.set_defaults(func=_revoke)


def _api(args: argparse.Namespace) -> int:
    from captionbot.api.server import run
    from captionbot.core.settings import get_settings

    # uvicorn logs through this process's logging: its start and its access log are this service's output.
    logging.getLogger("uvicorn").setLevel(args.verbosity.own_level(logging.INFO))
    return run(get_settings(), args.host, args.port)


def _store() -> KeyStore:
    from captionbot.core.settings import get_settings

    return KeyStore(get_settings().api_keys_file)


def _create(args: argparse.Namespace) -> int:
    store = _store()
    try:
        key = store.create(args.name)
    except KeyCommandError as err:
        raise UsageError(str(err)) from err
    print(key)
    print(f"Key '{args.name}' saved as a hash in {store.path}; copy it now, it is not shown again.", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    try:
        entries = _store().entries()
    except KeyCommandError as err:
        raise UsageError(str(err)) from err
    if not entries:
        print("No API keys yet; make one with `captionbot api-key create NAME`.")
    for entry in entries:
        print(f"{entry.name}\tcreated {entry.created}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    try:
        _store().revoke(args.name)
    except KeyCommandError as err:
        raise UsageError(str(err)) from err
    print(f"Key '{args.name}' revoked.")
    return 0
