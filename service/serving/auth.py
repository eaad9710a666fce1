"""Optional API keys: ``Authorization: Bearer <key>`` (or, for a browser's page and its
image streams, a ``key`` query parameter), compared in constant time."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from nightowl.service.errors import Unauthenticated


def key_matches(presented: str, keys: list[SecretStr]) -> bool:
    """True if ``presented`` equals one of ``keys``; every key is compared, in constant time."""
    given = presented.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given, key.get_secret_value().encode())
    return found


def check_bearer(authorization: str | None, keys: list[SecretStr]) -> None:
    """Unauthenticated unless keys are off or ``authorization`` is 'Bearer <a valid key>'."""
    if not keys:
        return
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("this server needs an API key: send 'Authorization: Bearer <key>'")
    if not key_matches(token.strip(), keys):
        raise Unauthenticated("the API key is not valid")


def check_viewer(authorization: str | None, key: str | None, keys: list[SecretStr]) -> None:
    """As :func:`check_bearer`, but a browser's ``?key=`` is taken when no header is sent: an
    <img> or a typed address cannot send one."""
    if not keys or authorization:
        check_bearer(authorization, keys)
        return
    if not key:
        raise Unauthenticated("this server needs an API key: open the page as /live?key=<key> "
                              "or send 'Authorization: Bearer <key>'")
    if not key_matches(key, keys):
        raise Unauthenticated("the API key is not valid")
