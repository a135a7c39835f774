"""What every endpoint shares about HTTP: Google-style errors, JSON answers, bounded body reading."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from moderation.rows import jsonable

GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 500: "INTERNAL", 503: "UNAVAILABLE"}


class ApiError(Exception):
    """A request we refuse, answered in Google's error shape so Perspective clients report it properly."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Response:
        status = GOOGLE_STATUS.get(self.status, "UNKNOWN")
        return json_response({"error": {"code": self.status, "message": self.message, "status": status}}, self.status)


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body, default=jsonable, ensure_ascii=False), status, media_type="application/json")


def json_object(body: dict, key: str) -> dict:
    """``body[key]`` when it is a JSON object (missing or null: empty), else a 400."""
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise ApiError(400, f"'{key}' must be a JSON object")
    return value


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 past ``max_bytes`` (read no further than that)."""
    too_large = ApiError(413, f"Request body too large: the limit is {max_bytes} bytes")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_bytes:
            raise too_large
    return bytes(raw)


def parse_json(raw: bytes) -> dict:
    """A request body's JSON object, or a 400 saying what is wrong with it."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON payload received: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid JSON payload received: expected a JSON object")
    return value
