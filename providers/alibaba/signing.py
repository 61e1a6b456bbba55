"""Alibaba Cloud POP request signing, ACS3-HMAC-SHA256 ("signature V3").

Shared by every Alibaba RPC client (machine translation, MTS). Pure functions: the
caller passes the date and nonce, so the worked examples of
the Alibaba MT spec, 'V3 — ACS3-HMAC-SHA256', are known-answer tests.

The canonical request signs ``host``, every ``x-acs-*`` header and ``content-type``
when there is a body; callers may add more headers to sign (the SDK signs ``accept``
and ``user-agent`` too), and a verifier rebuilds from whatever ``SignedHeaders`` says.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Credentials:
    access_key_id: str = field(repr=False)
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


def percent(value: str) -> str:
    """RFC 3986 encoding: unreserved ``A-Za-z0-9-_.~`` kept, space as ``%20``."""
    return quote(value, safe="-_.~")


def encode_params(params: Mapping[str, str]) -> str:
    """Sorted ``k=v`` pairs joined by ``&``: the canonical query, and the form body."""
    return "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(params.items()))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def acs_date(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def new_nonce() -> str:
    return uuid.uuid4().hex


def sign_v3(
    credentials: Credentials,
    *,
    method: str,
    host: str,
    action: str,
    version: str,
    query: Mapping[str, str],
    body: bytes = b"",
    content_type: str | None = None,
    date: str,
    nonce: str,
    extra_headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The headers of a signed request, ``Authorization`` included."""
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": sha256_hex(body),
    }
    if content_type:
        headers["content-type"] = content_type
    if credentials.security_token:
        headers["x-acs-security-token"] = credentials.security_token
    headers.update({k.lower(): v for k, v in (extra_headers or {}).items()})
    signed = sorted(headers)
    canonical = "\n".join(
        [
            method.upper(),
            "/",
            encode_params(query),
            "".join(f"{name}:{headers[name].strip()}\n" for name in signed),
            ";".join(signed),
            headers["x-acs-content-sha256"],
        ]
    )
    string_to_sign = f"{ALGORITHM}\n{sha256_hex(canonical.encode())}"
    signature = hmac.new(
        credentials.access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    return headers
