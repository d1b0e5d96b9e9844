"""The API's documentation pages, from vendored files only (api/static/vendor/): `/docs` (Swagger UI),
`/redoc` (Redoc), with `/openapi.json`. `MOTCUA_PUBLIC_DOCS=false` switches all three off (404): the
schema describes every route, and an operator who hides the pages hides it too.

Each page carries its own CSP: the site's, plus a nonce (new for every answer) for the one inline
script that starts the viewer; Redoc's page also allows inline styles (its bundle inserts <style>
elements before it can be given the nonce; a page of documentation, with no personal data and no
inline script but its own). Nothing is loaded from elsewhere.
"""

import html
import json
import secrets
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from api.edge import CONTENT_SECURITY_POLICY

DOCS_URL, REDOC_URL, OAUTH2_REDIRECT_URL = "/docs", "/redoc", "/docs/oauth2-redirect"
VENDOR = "/static/vendor"
SWAGGER_JS, SWAGGER_CSS = f"{VENDOR}/swagger-ui-bundle.js", f"{VENDOR}/swagger-ui.css"
SWAGGER_FAVICON = f"{VENDOR}/swagger-ui-favicon-32x32.png"
REDOC_JS = f"{VENDOR}/redoc.standalone.js"
# No validator badge (it would load an image from validator.swagger.io).
SWAGGER_PARAMETERS = {"validatorUrl": None, "persistAuthorization": False}
# Search runs in a blob: worker, which the CSP does not allow.
REDOC_OPTIONS = {"disableSearch": True, "hideDownloadButton": False}


def csp_with_nonce(nonce: str, *, inline_styles: bool = False) -> str:
    """The site's CSP, plus the nonce; `inline_styles` for Redoc, whose bundle inserts some <style>
    elements before it learns the nonce (its styles only: scripts still need the nonce)."""
    styles = "'unsafe-inline'" if inline_styles else f"'nonce-{nonce}'"
    return CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'").replace(
        "style-src 'self'", f"style-src 'self' {styles}"
    )


def _nonced(page_for: Callable[[str], str], *, inline_styles: bool = False) -> HTMLResponse:
    """The page `page_for(nonce)` with a fresh nonce on its inline <script> and <style> elements, and
    the CSP naming it."""
    nonce = secrets.token_urlsafe(18)
    page = page_for(nonce).replace("<script>", f'<script nonce="{nonce}">')
    page = page.replace("<style>", f'<style nonce="{nonce}">')
    return HTMLResponse(page, headers={"Content-Security-Policy": csp_with_nonce(nonce, inline_styles=inline_styles)})


def redoc_html(*, openapi_url: str, title: str, nonce: str) -> str:
    """Redoc started by script, not by a <redoc> element, so that it gets the nonce for its styles."""
    options = json.dumps({**REDOC_OPTIONS, "nonce": nonce})
    return f"""<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="{SWAGGER_FAVICON}">
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<noscript>Redoc needs JavaScript; the schema is at <a href="{openapi_url}">{openapi_url}</a>.</noscript>
<div id="redoc"></div>
<script src="{REDOC_JS}"></script>
<script>
Redoc.init({json.dumps(openapi_url)}, {options}, document.getElementById("redoc"));
</script>
</body>
</html>
"""


def install(app: FastAPI, *, public: bool) -> None:
    """Add the documentation routes (create the app with `docs_url=None, redoc_url=None`, and
    `openapi_url=None` when the docs are not public)."""
    if not public:
        return
    title = f"{app.title} – API"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=title,
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=SWAGGER_FAVICON,
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )
        return _nonced(lambda _: page.body.decode())

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _nonced(lambda _: get_swagger_ui_oauth2_redirect_html().body.decode())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page_for = lambda nonce: redoc_html(openapi_url=app.openapi_url, title=title, nonce=nonce)  # noqa: E731
        return _nonced(page_for, inline_styles=True)
