"""Secrets at rest: what one key sealed opens only with that key, and a changed value is refused."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.core.sealed import Sealer, SealError


def key() -> str:
    return Fernet.generate_key().decode()


def test_a_sealed_value_opens_and_does_not_show_the_secret() -> None:
    sealer = Sealer(key())
    sealed = sealer.seal("xoxb-secret-token")
    assert "xoxb" not in sealed
    assert sealer.open(sealed) == "xoxb-secret-token"


def test_another_key_or_a_changed_value_is_refused_without_the_value() -> None:
    sealed = Sealer(key()).seal("xoxb-secret-token")
    with pytest.raises(SealError) as refused:
        Sealer(key()).open(sealed)
    assert "xoxb" not in str(refused.value)
    with pytest.raises(SealError):
        Sealer(key()).open(sealed[:-4] + "AAAA")


def test_a_new_key_first_still_opens_the_old_and_rotate_moves_to_it() -> None:
    old, new = key(), key()
    sealed = Sealer(old).seal("k")
    both = Sealer(f"{new},{old}")
    assert both.open(sealed) == "k"
    assert Sealer(new).open(both.rotate(sealed)) == "k"


def test_a_key_that_is_not_fernet_is_named_not_shown() -> None:
    with pytest.raises(ValueError) as refused:
        Sealer("hunter2-not-a-key")
    assert "TOLK_SECRET_KEY" in str(refused.value)
    assert "hunter2" not in str(refused.value)
