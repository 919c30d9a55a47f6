"""HTTP errors of the web layer, shared by the API and the UI: the status of each kind of
domain error, and the HTTP error type the web code raises itself."""

from __future__ import annotations

from inbox.errors import DomainError, Kind

STATUS_OF_KIND: dict[Kind, int] = {"not_found": 404, "conflict": 409, "invalid": 422, "forbidden": 403}


def status_of(exc: DomainError) -> int:
    return STATUS_OF_KIND[exc.kind]


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.headers = headers


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def error_body(status: int, message: str, code: str | None = None) -> dict[str, dict[str, str]]:
    return {"error": {"code": code or _CODES.get(status, "error"), "message": message}}
