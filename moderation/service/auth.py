"""Who may ask: API keys for Perspective-style clients, Coral's signature for its phase, and the rule that a
server without keys listens on loopback only."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from pathlib import Path

from starlette.requests import Request

from moderation.service.http import ApiError


class ServeError(RuntimeError):
    """A configuration the server will not start with."""


def read_api_keys(path: str | None) -> list[str]:
    """Keys from ``$MODERATION_API_KEYS`` (comma-separated) and the file at ``path`` (one a line, # comments)."""
    keys = [k.strip() for k in os.environ.get("MODERATION_API_KEYS", "").split(",")]
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ServeError(f"{path}: cannot read API keys: {exc}") from exc
        keys += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    return [k for k in keys if k]


def read_coral_secrets() -> list[str]:
    """``$MODERATION_CORAL_SECRET``: the phase's signing secret; comma-separated, several while you rotate."""
    return [s.strip() for s in os.environ.get("MODERATION_CORAL_SECRET", "").split(",") if s.strip()]


def authorize(request: Request, keys: list[bytes]) -> None:
    """An API key from ``?key=`` (as Perspective clients send it) or ``X-API-Key``, when keys are set."""
    if not keys:
        return
    given = request.query_params.get("key") or request.headers.get("x-api-key")
    if not given:
        raise ApiError(401, "The request is missing a valid API key (?key= or X-API-Key header)")
    if not any([hmac.compare_digest(given.encode(), key) for key in keys]):
        raise ApiError(403, "API key not valid. Please pass a valid API key.")


def verify_signature(secrets: str | list[str], body: bytes, header: str | None) -> bool:
    """Coral's ``X-Coral-Signature``: ``sha256=<hex HMAC of the raw body>``, one per secret still active on
    Coral's side, comma-separated; any one made with any of our ``secrets`` is enough. Every candidate is
    compared in constant time."""
    if not header:
        return False
    secrets = [secrets] if isinstance(secrets, str) else secrets
    expected = ["sha256=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets]
    parts = [part.strip().encode() for part in header.split(",")]
    return any([hmac.compare_digest(e.encode(), part) for e in expected for part in parts])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_keys: list[str]) -> None:
    """Without API keys only this machine may connect: refuse any other listening address."""
    if not api_keys and not is_loopback(host):
        raise ServeError(f"refusing to listen on {host} without API keys: set MODERATION_API_KEYS or pass "
                         "--api-keys FILE, or listen on 127.0.0.1")
