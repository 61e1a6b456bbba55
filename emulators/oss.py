"""A local OSS that serves objects to presigned GETs, for tests, the sandbox and benchmarks.

It checks signatures with its **own** code (never ``providers.oss.presign``, so a presigning
bug cannot cancel itself out), written from the Alibaba MTS spec (``alibaba-mts.md``),
'Getting outputs out of OSS' and 'What an emulator must check' item 8: path-style
URLs ``GET|HEAD /<bucket>/<key>`` on loopback, with

- **V4** query signatures (``x-oss-signature-version=OSS4-HMAC-SHA256``, ``x-oss-credential``,
  ``x-oss-date``, ``x-oss-expires``, ``x-oss-signature``): the canonical request is rebuilt
  from the *decoded* path and query, re-encoded per RFC 3986; the scope's region must be
  ``region``; expired after ``x-oss-date + x-oss-expires``;
- **V1** query signatures (``OSSAccessKeyId``, ``Expires``, ``Signature`` =
  base64 HMAC-SHA1 of ``GET\\n\\n\\n<Expires>\\n/<bucket>/<key>``), as the SDK emits with
  ``signature_version="v1"``.

Answers are OSS-style XML errors (``<Error><Code>…<Message>…<RequestId>…<HostId>…``).
Which refusal comes when is [inferred] from OSS's public error pages:

=======  =========================  ==================================================
status   Code                       when
=======  =========================  ==================================================
404      ``NoSuchBucket``           no object was ever put in the bucket (checked first)
403      ``AccessDenied``           unsigned ("no right to access"), or expired
                                    ("Request has expired.")
403      ``InvalidAccessKeyId``     the key id is not in ``keys``
400      ``InvalidArgument``        malformed credential/date/expires, other region
403      ``SignatureDoesNotMatch``  the signature is wrong (path, query, method or secret)
404      ``NoSuchKey``              signed correctly but there is no such object
=======  =========================  ==================================================

Inspection: ``objects`` (``(bucket, key)`` → :class:`StoredObject`), ``requests`` (every GET
with its outcome). Control: ``keys`` (access key id → secret, read at every request),
``clock``, ``region``, :meth:`put`.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import unquote
from xml.sax.saxutils import escape

from aiohttp import web

from emulators._server import LoopbackServer

DEFAULT_KEY_ID = "LTAI5tTolkEmulator"
DEFAULT_SECRET = "emulator-secret"
V4 = "OSS4-HMAC-SHA256"
MAX_EXPIRES = 7 * 24 * 3600
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_V4_PARAMS = ("x-oss-credential", "x-oss-date", "x-oss-expires", "x-oss-signature")
_V1_PARAMS = ("OSSAccessKeyId", "Expires", "Signature")
MESSAGES = {
    "NoSuchBucket": "The specified bucket does not exist.",
    "NoSuchKey": "The specified key does not exist.",
    "AccessDenied": "You have no right to access this object because of bucket acl.",
    "Expired": "Request has expired.",
    "InvalidAccessKeyId": "The OSS Access Key Id you provided does not exist in our records.",
    "SignatureDoesNotMatch": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    ),
}


@dataclass(frozen=True)
class StoredObject:
    data: bytes = field(repr=False)
    content_type: str
    last_modified: float

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.data).hexdigest().upper()}"'


@dataclass(frozen=True)
class OssReceived:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    status: int
    code: str | None  # the error code, None when the object was served
    at: float


class OssRefusal(Exception):
    def __init__(self, status: int, code: str, message: str | None = None) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message or MESSAGES.get(code, code)


# -- the emulator's own V4/V1 arithmetic -------------------------------------------------------


def uri_encode(text: str, *, keep_slash: bool) -> str:
    """RFC 3986 byte-wise: unreserved bytes kept (and ``/`` if asked), the rest ``%XX``."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _UNRESERVED or (keep_slash and byte == 0x2F):
            out.append(chr(byte))
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def decoded_query(raw: str) -> list[tuple[str, str]]:
    """``a=b&c`` → ``[("a", "b"), ("c", "")]``; ``+`` stays a plus (OSS, unlike forms)."""
    pairs = []
    for part in raw.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def v4_canonical(method: str, bucket: str, key: str, pairs: list[tuple[str, str]]) -> str:
    encoded = sorted(
        (uri_encode(k, keep_slash=False), uri_encode(v, keep_slash=False))
        for k, v in pairs
        if k != "x-oss-signature"
    )
    query = "&".join(f"{k}={v}" if v else k for k, v in encoded)
    uri = uri_encode(f"/{bucket}/{key}", keep_slash=True)
    return f"{method}\n{uri}\n{query}\n\n\nUNSIGNED-PAYLOAD"


def v4_signature(secret: str, stamp: str, scope: str, region: str, canonical: str) -> str:
    to_sign = "\n".join([V4, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"aliyun_v4{secret}".encode()
    for part in (stamp[:8], region, "oss", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def v1_signature(secret: str, method: str, expires: str, bucket: str, key: str) -> str:
    to_sign = f"{method}\n\n\n{expires}\n/{bucket}/{key}"
    digest = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# -- the server -----------------------------------------------------------------------------


class OssEmulator(LoopbackServer):
    """Objects over presigned path-style GETs on a free port (``endpoint``)."""

    _url_name = "endpoint"

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        region: str = "cn-hangzhou",
    ) -> None:
        self.keys: dict[str, str] = (
            dict(keys) if keys is not None else {DEFAULT_KEY_ID: DEFAULT_SECRET}
        )
        self.clock = clock
        self.region = region
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.buckets: set[str] = set()
        self.requests: list[OssReceived] = []
        self.endpoint = ""

    # -- lifecycle ------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", "/{path:.*}", self._get)
        app.router.add_route("HEAD", "/{path:.*}", self._get)
        return app

    # -- objects --------------------------------------------------------------------------

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> None:
        self.buckets.add(bucket)
        self.objects[(bucket, key)] = StoredObject(bytes(data), content_type, self.clock())

    def get(self, bucket: str, key: str) -> bytes | None:
        stored = self.objects.get((bucket, key))
        return None if stored is None else stored.data

    def url(self, bucket: str, key: str) -> str:
        """The object's unsigned path-style URL (presign it to read it)."""
        return f"{self.endpoint}/{bucket}/{uri_encode(key, keep_slash=True)}"

    # -- requests -------------------------------------------------------------------------

    async def _get(self, request: web.Request) -> web.StreamResponse:
        bucket, _, key = unquote(request.rel_url.raw_path).lstrip("/").partition("/")
        pairs = decoded_query(request.rel_url.raw_query_string)
        query = dict(pairs)
        try:
            stored = self._authorize(request.method, bucket, key, pairs, query)
        except OssRefusal as refusal:
            self._log(request, bucket, key, query, refusal.status, refusal.code)
            return _error(refusal, request.host, bucket, key)
        self._log(request, bucket, key, query, 200, None)
        headers = {
            "ETag": stored.etag,
            "Last-Modified": formatdate(stored.last_modified, usegmt=True),
            "x-oss-request-id": _request_id(),
        }
        return web.Response(body=stored.data, content_type=stored.content_type, headers=headers)

    def _log(
        self,
        request: web.Request,
        bucket: str,
        key: str,
        query: dict[str, str],
        status: int,
        code: str | None,
    ) -> None:
        self.requests.append(
            OssReceived(request.method, bucket, key, query, status, code, self.clock())
        )

    def _authorize(
        self,
        method: str,
        bucket: str,
        key: str,
        pairs: list[tuple[str, str]],
        query: dict[str, str],
    ) -> StoredObject:
        if bucket not in self.buckets:
            raise OssRefusal(404, "NoSuchBucket")
        if not key:
            raise OssRefusal(403, "AccessDenied", "Listing objects is not emulated.")
        if query.get("x-oss-signature-version") or any(p in query for p in _V4_PARAMS):
            self._check_v4(method, bucket, key, pairs, query)
        elif any(p in query for p in _V1_PARAMS):
            self._check_v1(method, bucket, key, query)
        else:
            raise OssRefusal(403, "AccessDenied")
        stored = self.objects.get((bucket, key))
        if stored is None:
            raise OssRefusal(404, "NoSuchKey")
        return stored

    def _secret(self, key_id: str) -> str:
        secret = self.keys.get(key_id)
        if secret is None:
            raise OssRefusal(403, "InvalidAccessKeyId")
        return secret

    def _check_v4(
        self,
        method: str,
        bucket: str,
        key: str,
        pairs: list[tuple[str, str]],
        query: dict[str, str],
    ) -> None:
        if query.get("x-oss-signature-version") != V4:
            raise OssRefusal(400, "InvalidArgument", "Unsupported x-oss-signature-version.")
        missing = [p for p in _V4_PARAMS if not query.get(p)]
        if missing:
            raise OssRefusal(400, "InvalidArgument", f"Missing {', '.join(missing)}.")
        parts = query["x-oss-credential"].split("/")
        if len(parts) != 5 or parts[3:] != ["oss", "aliyun_v4_request"] or not parts[0]:
            raise OssRefusal(400, "InvalidArgument", "The x-oss-credential is malformed.")
        key_id, day, region = parts[:3]
        stamp = query["x-oss-date"]
        signed_at = _parse_stamp(stamp)
        if day != stamp[:8]:
            raise OssRefusal(400, "InvalidArgument", "Invalid signing date in x-oss-credential.")
        if region != self.region:
            raise OssRefusal(400, "InvalidArgument", f"Invalid signing region {region!r}.")
        expires = query["x-oss-expires"]
        if not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES:
            raise OssRefusal(400, "InvalidArgument", "x-oss-expires must be 1 to 604800.")
        secret = self._secret(key_id)
        scope = "/".join(parts[1:])
        canonical = v4_canonical(method, bucket, key, pairs)
        expected = v4_signature(secret, stamp, scope, region, canonical)
        if not hmac.compare_digest(expected, query["x-oss-signature"].lower()):
            raise OssRefusal(403, "SignatureDoesNotMatch")
        if self.clock() > signed_at + int(expires):
            raise OssRefusal(403, "AccessDenied", MESSAGES["Expired"])

    def _check_v1(self, method: str, bucket: str, key: str, query: dict[str, str]) -> None:
        missing = [p for p in _V1_PARAMS if not query.get(p)]
        if missing:
            raise OssRefusal(400, "InvalidArgument", f"Missing {', '.join(missing)}.")
        expires = query["Expires"]
        if not expires.isdigit():
            raise OssRefusal(400, "InvalidArgument", "Expires must be epoch seconds.")
        secret = self._secret(query["OSSAccessKeyId"])
        expected = v1_signature(secret, method, expires, bucket, key)
        if not hmac.compare_digest(expected, query["Signature"]):
            raise OssRefusal(403, "SignatureDoesNotMatch")
        if self.clock() > int(expires):
            raise OssRefusal(403, "AccessDenied", MESSAGES["Expired"])


def _parse_stamp(stamp: str) -> float:
    try:
        return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise OssRefusal(400, "InvalidArgument", "x-oss-date is not yyyymmddThhmmssZ.") from None


def _request_id() -> str:
    return uuid.uuid4().hex[:24].upper()


def _error(refusal: OssRefusal, host: str, bucket: str, key: str) -> web.Response:
    request_id = _request_id()
    extra = ""
    if refusal.code == "NoSuchKey":
        extra = f"\n  <Key>{escape(key)}</Key>"
    elif refusal.code == "NoSuchBucket":
        extra = f"\n  <BucketName>{escape(bucket)}</BucketName>"
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{escape(refusal.code)}</Code>\n"
        f"  <Message>{escape(refusal.message)}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        f"  <HostId>{escape(host)}</HostId>{extra}\n</Error>\n"
    )
    return web.Response(
        status=refusal.status,
        text=xml,
        content_type="application/xml",
        headers={"x-oss-request-id": request_id},
    )
