"""OSS Signature V4 presigned GET URLs, and where an ``oss://`` object lives.

Written from the Alibaba MTS spec, 'Getting outputs out of OSS' (its worked example is a
known-answer test; another test proves the URL equals ``alibabacloud-oss-v2``'s presigner
for the same inputs). Pure functions: the caller passes the time, nothing is sent.

V4 query signing ('OSS V4 presign — worked example')::

    CanonicalRequest = "GET\\n" + CanonicalURI + "\\n" + CanonicalQuery + "\\n"
                       + "\\n" + "\\n" + "UNSIGNED-PAYLOAD"   # no headers, no additional headers
    CanonicalURI     = RFC 3986 encoding of "/<bucket>/<key>" ("/" kept) — even for
                       virtual-hosted URLs
    CanonicalQuery   = sorted x-oss-credential, x-oss-date, x-oss-expires,
                       x-oss-signature-version (and x-oss-security-token with STS keys)
    StringToSign     = "OSS4-HMAC-SHA256\\n" + date + "\\n" + scope + "\\n" + hex(sha256(CR))
    SigningKey       = HMAC chain "aliyun_v4"+secret → yyyymmdd → region → "oss" →
                       "aliyun_v4_request"

Choices (as the SDK does, 'Presigning with `alibabacloud-oss-v2`'):

- The URL's query parameters are in the SDK's order (signature-version, date, expires,
  credential, security token, signature), so the URL is byte-for-byte the SDK's.
- Addressing: path-style ``<scheme>://<host>/<bucket>/<key>`` when the endpoint's host is an
  IP address (an emulator on ``http://127.0.0.1:PORT``) — the SDK's rule — and also for
  ``localhost`` (the SDK would put the bucket in front of ``localhost``, which does not
  resolve); virtual-hosted ``https://<bucket>.<endpoint>/<key>`` otherwise.
- An endpoint without a scheme means HTTPS. Expiry is 1 s … 7 days (the SDK refuses more).
- Keys are taken literally: ``oss://b/a+b.jpg`` names the object ``a+b.jpg``.

Endpoint rule (PRODUCT.md, ``ALIBABA_OSS_ENDPOINT``): the configured endpoint if any, else
the host named in the ``oss://`` URL (``oss://bucket.oss-cn-shanghai.aliyuncs.com/k`` →
``oss-cn-shanghai.aliyuncs.com``), else ``oss-cn-hangzhou.aliyuncs.com``. The signing region
comes from an ``oss-<region>[-internal].aliyuncs.com`` host, else ``cn-hangzhou``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import time
from typing import NamedTuple, Protocol
from urllib.parse import quote, urlsplit

DEFAULT_ENDPOINT = "oss-cn-hangzhou.aliyuncs.com"
DEFAULT_REGION = "cn-hangzhou"
ALGORITHM = "OSS4-HMAC-SHA256"
MAX_EXPIRES = 7 * 24 * 3600
_REGION_HOST = re.compile(r"^oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class AccessKey(Protocol):
    """Anything with the attributes of ``providers.alibaba.signing.Credentials``."""

    @property
    def access_key_id(self) -> str: ...

    @property
    def access_key_secret(self) -> str: ...


class OssObject(NamedTuple):
    bucket: str
    key: str


# -- oss:// URLs and endpoints ---------------------------------------------------------------


def split_oss_url(url: str, *, strict: bool = False) -> tuple[str, str | None, str]:
    """``oss://bucket[.host]/key`` → ``(bucket, host or None, key)``; ValueError otherwise.
    ``strict`` also holds the bucket to OSS naming rules (answers may carry masked names
    such as the spec's ``example-****``, so reading is lenient)."""
    text = url.strip()
    if not text.lower().startswith("oss://"):
        raise ValueError(f"not an oss:// URL: {text[:80]!r}")
    authority, _, key = text[len("oss://") :].partition("/")
    bucket, dot, host = authority.partition(".")
    if not bucket or any(c.isspace() for c in authority):
        raise ValueError(f"the oss:// URL {text[:80]!r} names no bucket")
    if strict and not _BUCKET.match(bucket):
        raise ValueError(
            f"{bucket!r} is not an OSS bucket name (3-63 lower-case letters, digits, hyphens)"
        )
    if dot and not host:
        raise ValueError(f"the oss:// URL {text[:80]!r} has an empty host after the bucket")
    return bucket, (host.lower() or None), key


def parse_oss_url(url: str, *, strict: bool = False) -> OssObject:
    """``oss://bucket/key`` or ``oss://bucket.oss-<region>.aliyuncs.com/key`` → (bucket, key)."""
    bucket, _, key = split_oss_url(url, strict=strict)
    return OssObject(bucket, key)


def oss_endpoint(configured: str | None, oss_url: str | None = None) -> str:
    """The OSS endpoint to read ``oss_url`` from: ``configured`` if set, else the host the
    URL names, else ``oss-cn-hangzhou.aliyuncs.com``."""
    if configured and configured.strip():
        return configured.strip().rstrip("/")
    if oss_url:
        try:
            host = split_oss_url(oss_url)[1]
        except ValueError:
            host = None
        if host:
            return host
    return DEFAULT_ENDPOINT


def region_of(endpoint: str, default: str = DEFAULT_REGION) -> str:
    """``oss-cn-shanghai.aliyuncs.com`` (or ``https://…``, ``…-internal…``) → ``cn-shanghai``."""
    match = _REGION_HOST.match(_split_endpoint(endpoint)[1].split(":")[0])
    return match.group(1) if match else default


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """``(scheme, host[:port])``; a bare host means HTTPS."""
    text = endpoint.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if not parts.netloc:
        raise ValueError(f"not an OSS endpoint: {endpoint!r}")
    return parts.scheme.lower(), parts.netloc


def _is_path_style(host: str) -> bool:
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def object_url(endpoint: str, bucket: str, key: str) -> str:
    """The unsigned URL of an object: path-style on an IP/localhost endpoint, else virtual."""
    scheme, host = _split_endpoint(endpoint)
    path = quote(key, safe="/")
    if _is_path_style(host):
        return f"{scheme}://{host}/{bucket}/{path}"
    return f"{scheme}://{bucket}.{host}/{path}"


# -- V4 presign ------------------------------------------------------------------------------


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str) -> bytes:
    key = _hmac(f"aliyun_v4{secret}".encode(), day)
    for part in (region, "oss", "aliyun_v4_request"):
        key = _hmac(key, part)
    return key


def canonical_request(bucket: str, key: str, query: dict[str, str], method: str = "GET") -> str:
    uri = quote(f"/{bucket}/{key}", safe="/")
    pairs = sorted(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
    return "\n".join([method, uri, "&".join(pairs), "", "", "UNSIGNED-PAYLOAD"])


def presign_get(
    credentials: AccessKey,
    bucket: str,
    key: str,
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    region: str | None = None,
    expires: int = 3600,
    now: float,
) -> str:
    """A V4 presigned GET URL valid for ``expires`` seconds from ``now`` (epoch seconds)."""
    if not 1 <= int(expires) <= MAX_EXPIRES:
        raise ValueError(f"expires must be 1 to {MAX_EXPIRES} seconds")
    if not bucket or not key:
        raise ValueError("presign needs a bucket and an object key")
    region = region or region_of(endpoint)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(now)))
    scope = f"{stamp[:8]}/{region}/oss/aliyun_v4_request"
    query = {
        "x-oss-signature-version": ALGORITHM,
        "x-oss-date": stamp,
        "x-oss-expires": str(int(expires)),
        "x-oss-credential": f"{credentials.access_key_id}/{scope}",
    }
    token = getattr(credentials, "security_token", None)
    if token:
        query["x-oss-security-token"] = token
    digest = hashlib.sha256(canonical_request(bucket, key, query).encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
    secret_key = signing_key(credentials.access_key_secret, stamp[:8], region)
    query["x-oss-signature"] = hmac.new(
        secret_key, string_to_sign.encode(), hashlib.sha256
    ).hexdigest()
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    return f"{object_url(endpoint, bucket, key)}?{encoded}"
