"""Optional API keys: ``Authorization: Bearer <key>``, compared in constant time."""

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
