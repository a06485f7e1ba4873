"""The API's documentation pages, /docs (Swagger UI) and /redoc (ReDoc), with their scripts and styles served
from the installed `fastapi-offline` package instead of a CDN, so they work on a closed network; and the icon
every browser asks for at /favicon.ico.

Each page has a Content-Security-Policy of its own: scripts only from this server, plus Swagger UI's one inline
start-up script by its hash; ReDoc writes its styles into `<style>` elements and runs its search in a worker
made from a blob, so its page allows those two and nothing more."""

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from captionbot.api.routes.page import STATIC

ASSETS = Path(str(files("fastapi_offline") / "static"))
ASSETS_URL = "/docs-assets"
FAVICON = STATIC / "favicon.ico"
FAVICON_URL = "/favicon.ico"
OPENAPI_URL = "/openapi.json"
TITLE = "captionbot API"

_COMMON = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _inline_script_hash(html: str) -> str:
    """The CSP source for the page's one inline script."""
    (script,) = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


def swagger_page() -> tuple[str, dict[str, str]]:
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=TITLE,
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=FAVICON_URL,
        # No badge fetched from validator.swagger.io: nothing leaves this server.
        swagger_ui_parameters={"validatorUrl": None},
    )
    html = page.body.decode("utf-8")
    return html, _headers(f"{_COMMON}; script-src 'self' {_inline_script_hash(html)}")


def redoc_page() -> tuple[str, dict[str, str]]:
    page = get_redoc_html(
        openapi_url=OPENAPI_URL,
        title=TITLE,
        redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=FAVICON_URL,
        with_google_fonts=False,
    )
    return page.body.decode("utf-8"), _headers(f"{_COMMON}; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:")


def _headers(policy: str) -> dict[str, str]:
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _serve(html: str, headers: dict[str, str]):  # noqa: ANN202 (an endpoint)
    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    return page


async def favicon() -> FileResponse:
    return FileResponse(FAVICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


def router() -> APIRouter:
    """The pages are made once: nothing in them changes while the API runs."""
    pages = {"/docs": swagger_page(), "/redoc": redoc_page()}
    routes = APIRouter(include_in_schema=False)
    for path, (html, headers) in pages.items():
        routes.add_api_route(path, _serve(html, headers), methods=["GET"])
    routes.add_api_route(FAVICON_URL, favicon, methods=["GET"])
    return routes
