"""Secrets at rest: workspaces' bot tokens and provider keys are stored sealed with
``TOLK_SECRET_KEY`` (``cryptography``'s Fernet: AES-128-CBC with an HMAC-SHA256, so a
changed or truncated value is refused rather than read wrong).

``TOLK_SECRET_KEY`` is one Fernet key, or several separated by commas: the first seals,
every one opens (``MultiFernet``), so a key is rotated by putting the new one first and
dropping the old one once ``rotate`` has been run over what is stored."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

GENERATE = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


class SealError(Exception):
    """A value could not be opened: sealed with another key, or changed. The message
    never holds the value or the key."""


class Sealer:
    def __init__(self, secret_key: str) -> None:
        """``secret_key``: ``TOLK_SECRET_KEY``. ``ValueError`` (naming the variable, not
        the value) when a part is not a Fernet key."""
        parts = [p.strip() for p in secret_key.split(",") if p.strip()]
        if not parts:
            raise ValueError(f"TOLK_SECRET_KEY is empty: generate one with {GENERATE}")
        keys = []
        for n, part in enumerate(parts, 1):
            try:
                keys.append(Fernet(part.encode()))
            except (ValueError, TypeError):
                raise ValueError(
                    f"TOLK_SECRET_KEY part {n} of {len(parts)} is not a Fernet key (32 bytes, "
                    f"url-safe base64): generate one with {GENERATE}"
                ) from None
        self._fernet = MultiFernet(keys)

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise SealError(
                "a stored secret could not be opened with TOLK_SECRET_KEY (another key sealed it, "
                "or it was changed)"
            ) from None

    def rotate(self, sealed: str) -> str:
        """``sealed`` again under the first key (after a new key was put first)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError):
            raise SealError("a stored secret could not be opened with TOLK_SECRET_KEY") from None
