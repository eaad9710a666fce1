"""API keys: off without keys, otherwise 'Bearer <a listed key>' and nothing else."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from nightowl.service.errors import Unauthenticated
from nightowl.service.serving.auth import check_bearer, key_matches

KEYS = [SecretStr("first-key"), SecretStr("second-key")]


def test_no_keys_means_no_check():
    check_bearer(None, [])
    check_bearer("Bearer anything", [])


@pytest.mark.parametrize("header", ["Bearer second-key", "bearer first-key",
                                    "Bearer  first-key "])
def test_a_listed_key_passes(header):
    check_bearer(header, KEYS)


@pytest.mark.parametrize(("header", "message"), [
    (None, "needs an API key"), ("", "needs an API key"), ("Basic first-key", "needs an API key"),
    ("Bearer", "needs an API key"), ("Bearer third-key", "not valid"),
    ("Bearer first-key2", "not valid")])
def test_anything_else_is_refused_saying_why(header, message):
    with pytest.raises(Unauthenticated, match=message):
        check_bearer(header, KEYS)


def test_every_key_is_compared():
    assert key_matches("second-key", KEYS) and not key_matches("", KEYS)
