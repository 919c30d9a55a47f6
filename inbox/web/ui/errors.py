"""The agent UI's error answers, in one place: every refusal a browser gets on a page is the
error page (templates/ui/error.html) in the agent's language with its status, never JSON.

A path that does not parse (an id that is not one, or out of range) names no page: 404, like
an unknown URL. A query or form field that does not parse is a 422 "some fields are invalid".
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from inbox.errors import DomainError
from inbox.web.errors import ApiError
from inbox.web.ui.routes import PageRefused, any_page

# The UI text for each status we answer ourselves; any other status gets the generic one.
TEXT_OF_STATUS = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "too_large", 422: "invalid"}


async def error_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    page = await any_page(request)
    response = page.render("ui/error.html", status, message=page.t(TEXT_OF_STATUS.get(status, "bad_request")))
    if headers:
        response.headers.update(headers)
    return response


async def answer(request: Request, exc: Exception) -> Response:
    """The UI's answer for each error the app maps (see inbox/web/app.py)."""
    if isinstance(exc, PageRefused):
        return exc.response
    if isinstance(exc, DomainError):
        return (await any_page(request)).refuse(exc)
    if isinstance(exc, RequestValidationError):
        in_path = any(err.get("loc", ("",))[0] == "path" for err in exc.errors())
        return await error_page(request, 404 if in_path else 422)
    if isinstance(exc, StarletteHTTPException):
        return await error_page(request, exc.status_code, getattr(exc, "headers", None))
    if isinstance(exc, ApiError):
        return await error_page(request, exc.status, exc.headers)
    raise exc
