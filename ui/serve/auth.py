"""Bearer API keys: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ui.serve.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="an API key from RAG_API_KEYS")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def key_checker(keys: frozenset[str]) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that lets a request through only with one of ``keys`` (all, if none are set)."""
    encoded = [k.encode() for k in keys]

    async def require_key(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:  # noqa: B008
        if not encoded:
            return  # loopback without keys: the start-up check refused every other host
        if credentials is None:
            raise ApiError(401, "an API key is required: send the header 'Authorization: Bearer <key>'",
                           "authentication_error", "missing_api_key", headers=_CHALLENGE)
        given = credentials.credentials.encode()
        if not any(hmac.compare_digest(given, key) for key in encoded):
            raise ApiError(401, "the API key is not valid", "authentication_error", "invalid_api_key",
                           headers=_CHALLENGE)

    return require_key
