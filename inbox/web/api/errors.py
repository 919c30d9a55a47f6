"""The API's error answers, in one place: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from inbox.errors import DomainError
from inbox.web.errors import ApiError, error_body, status_of

log = logging.getLogger(__name__)


def domain_error_response(exc: DomainError) -> JSONResponse:
    status = status_of(exc)
    return JSONResponse(error_body(status, exc.message, exc.code), status_code=status)


def validation_error_response(exc: RequestValidationError) -> JSONResponse:
    parts = []
    for err in exc.errors()[:10]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return JSONResponse(error_body(422, "; ".join(parts) or "invalid request"), status_code=422)


async def answer(request: Request, exc: Exception) -> JSONResponse:
    """The API's answer for each error the app maps (see inbox/web/app.py)."""
    if isinstance(exc, ApiError):
        return JSONResponse(error_body(exc.status, exc.message, exc.code), status_code=exc.status, headers=exc.headers)
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, RequestValidationError):
        return validation_error_response(exc)
    if isinstance(exc, StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "error"
        return JSONResponse(error_body(exc.status_code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None))
    raise exc
