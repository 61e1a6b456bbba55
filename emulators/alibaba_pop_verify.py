"""Server-side verification of Alibaba Cloud POP (RPC-style) request signatures.

This is the *emulators'* code, written from the Alibaba MT spec (``alibaba-mt.md``), 'Request
signing'. It never imports the client's signing: a signing bug must not cancel itself out.
Nothing here is specific to Machine Translation, so other POP emulators (MTS 2014-06-18, …)
reuse it.

Two schemes:

- **V3** ``ACS3-HMAC-SHA256`` (``Authorization`` header). The canonical request is rebuilt
  from exactly the ``SignedHeaders`` the client listed; ``host``, every ``x-acs-*`` header
  present and — when there is a body — ``content-type`` must be among them (an unsigned
  ``Content-Type`` on an *empty* body is tolerated: the SDK's aiohttp transport adds one).
  ``x-acs-content-sha256`` must equal the SHA-256 of the raw body. The canonical query is
  built from the decoded parameters (``+`` read as a space), re-encoded per RFC 3986.
- **V2** ``SignatureVersion=1.0`` / ``HMAC-SHA1`` (``Signature`` query parameter): every
  query and form-body parameter except ``Signature``, key = secret + ``"&"``.

Then, for both: the date must lie within ``max_skew`` of the clock and the nonce must not
have been seen (per access key) within ``nonce_window``. A nonce is remembered only once
the signature is good, so a forged request cannot burn one.

Refusals carry a real HTTP status and a POP error code. The code names are not documented
for alimt [inferred from the general POP gateway behaviour]:

=======  ===============================  =====================================================
status   Code                             when
=======  ===============================  =====================================================
400      ``IncompleteSignature``          no signature, malformed ``Authorization``, other
                                          algorithm, a required header unsigned or missing
400      ``MissingParameter``             V2 common parameter or V3 action/version missing
404      ``InvalidAccessKeyId.NotFound``  unknown AccessKeyId
400      ``InvalidTimeStamp.Format``      date not ``YYYY-MM-DDTHH:MM:SSZ``
400      ``InvalidTimeStamp.Expired``     date outside ``max_skew``
400      ``SignatureDoesNotMatch``        signature or ``x-acs-content-sha256`` mismatch
400      ``SignatureNonceUsed``           nonce replayed within ``nonce_window``
=======  ===============================  =====================================================
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
FORM_TYPE = "application/x-www-form-urlencoded"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
V2_COMMON = frozenset(
    {
        "AccessKeyId",
        "Action",
        "Format",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureNonce",
        "SignatureType",
        "SignatureVersion",
        "Timestamp",
        "Version",
    }
)

Query = str | Mapping[str, str] | Iterable[tuple[str, str]]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]
SecretLookup = Mapping[str, str] | Callable[[str], str | None]
Scheme = Literal["v3", "v2"]


class PopRefusal(Exception):
    """A request the real gateway would refuse: ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Verified:
    action: str
    version: str
    access_key_id: str
    scheme: Scheme
    params: dict[str, str] = field(default_factory=dict)  # business parameters (last wins)
    security_token: str | None = None


# -- encoding helpers -----------------------------------------------------------------


def pct(text: str) -> str:
    """RFC 3986 percent-encoding: only ``A-Za-z0-9-_.~`` stay as they are."""
    return quote(text, safe="-_.~")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def query_pairs(query: Query) -> list[tuple[str, str]]:
    """Decoded ``(name, value)`` pairs; a raw string is parsed with ``+`` as a space."""
    if isinstance(query, str):
        return parse_qsl(query, keep_blank_values=True)
    if isinstance(query, Mapping):
        items = query.items()
        return [(str(k), str(v)) for k, v in items]
    return [(str(k), str(v)) for k, v in query]


def header_map(headers: Headers) -> dict[str, str]:
    """Lower-case names; repeated headers joined with a comma."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def form_pairs(headers: Mapping[str, str], body: bytes) -> list[tuple[str, str]]:
    """Parameters of a form body (empty unless the content type says form)."""
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if not body or content_type != FORM_TYPE:
        return []
    return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def request_params(query: Query, headers: Headers, body: bytes) -> dict[str, str]:
    """Every parameter of a request, query then form body (the body wins)."""
    return dict(query_pairs(query) + form_pairs(header_map(headers), body))


# -- V3 ---------------------------------------------------------------------------------


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((pct(k), pct(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request_v3(
    method: str,
    path: str,
    query: Query,
    headers: Headers,
    signed_headers: list[str],
    body_sha256: str,
) -> str:
    """The V3 canonical request built from exactly ``signed_headers`` (lower-case names)."""
    lowered = header_map(headers)
    lines = [f"{name}:{lowered.get(name, '').strip()}\n" for name in sorted(signed_headers)]
    return "\n".join(
        [
            method.upper(),
            quote(path or "/", safe="/-_.~"),
            canonical_query(query_pairs(query)),
            "".join(lines),
            ";".join(sorted(signed_headers)),
            body_sha256,
        ]
    )


def string_to_sign_v3(canonical_request: str) -> str:
    return f"{V3_ALGORITHM}\n{sha256_hex(canonical_request.encode('utf-8'))}"


def signature_v3(secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Authorization:
    access_key_id: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> Authorization:
    """``ACS3-HMAC-SHA256 Credential=…,SignedHeaders=a;b,Signature=hex``."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        raise _incomplete(f"Unsupported signature algorithm {algorithm or '(none)'}.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, item = part.strip().partition("=")
        if not sep:
            raise _incomplete("The Authorization header is malformed.")
        fields[name] = item.strip()
    try:
        key, names, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
    except KeyError as missing:
        raise _incomplete(f"The Authorization header lacks {missing.args[0]}.") from None
    signed = [n for n in names.split(";") if n]
    if not key or not signature or not signed or any(n != n.lower() for n in signed):
        raise _incomplete("The Authorization header is malformed.")
    return Authorization(key, signed, signature.lower())


# -- V2 ---------------------------------------------------------------------------------


def string_to_sign_v2(method: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
    canonical = canonical_query((k, v) for k, v in pairs if k != "Signature")
    return f"{method.upper()}&{pct(path or '/')}&{pct(canonical)}"


def signature_v2(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# -- the verifier ---------------------------------------------------------------------------


class PopVerifier:
    """Checks POP signatures, dates and nonces. ``secrets`` is read at every call, so a
    test may add or remove keys on the mapping it passed in."""

    def __init__(
        self,
        secrets: SecretLookup,
        *,
        clock: Callable[[], float] = time.time,
        max_skew: float | None = 900,
        nonce_window: float | None = 900,
    ) -> None:
        self.secrets = secrets
        self.clock = clock
        self.max_skew = max_skew
        self.nonce_window = nonce_window
        self._nonces: dict[tuple[str, str], float] = {}

    def verify(
        self, method: str, path: str, query: Query, headers: Headers, body: bytes = b""
    ) -> Verified:
        """Return who called what, or raise :class:`PopRefusal`."""
        lowered = header_map(headers)
        pairs = query_pairs(query)
        authorization = lowered.get("authorization", "")
        if authorization:
            return self._verify_v3(method, path, pairs, lowered, body, authorization)
        if any(k == "Signature" for k, _ in pairs):
            return self._verify_v2(method, path, pairs, lowered, body)
        raise _incomplete("The request is not signed.")

    # -- V3 -------------------------------------------------------------------------

    def _verify_v3(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
        authorization: str,
    ) -> Verified:
        auth = parse_authorization(authorization)
        _require_signed(auth.signed_headers, headers, body)
        for name in ("x-acs-action", "x-acs-version"):
            if not headers.get(name, "").strip():
                raise PopRefusal(400, "MissingParameter", f"The header {name} is required.")
        for name in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
            if not headers.get(name, "").strip():
                raise _incomplete(f"The header {name} is required.")
        secret = self._secret(auth.access_key_id)
        self._check_date(headers["x-acs-date"].strip())
        body_hash = sha256_hex(body)
        if headers["x-acs-content-sha256"].strip().lower() != body_hash:
            raise _mismatch("x-acs-content-sha256 does not match the body.")
        canonical = canonical_request_v3(
            method, path, pairs, headers, auth.signed_headers, body_hash
        )
        expected = signature_v3(secret, string_to_sign_v3(canonical))
        if not hmac.compare_digest(expected, auth.signature):
            raise _mismatch()
        self._check_nonce(auth.access_key_id, headers["x-acs-signature-nonce"].strip())
        return Verified(
            action=headers["x-acs-action"].strip(),
            version=headers["x-acs-version"].strip(),
            access_key_id=auth.access_key_id,
            scheme="v3",
            params=dict(pairs + form_pairs(headers, body)),
            security_token=headers.get("x-acs-security-token"),
        )

    # -- V2 -------------------------------------------------------------------------

    def _verify_v2(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Verified:
        every = pairs + form_pairs(headers, body)
        params = dict(every)
        for name in ("AccessKeyId", "SignatureNonce", "Timestamp", "Action", "Version"):
            if not params.get(name, "").strip():
                raise PopRefusal(400, "MissingParameter", f"The parameter {name} is required.")
        if params.get("SignatureMethod") != "HMAC-SHA1":
            raise _incomplete("SignatureMethod must be HMAC-SHA1.")
        if params.get("SignatureVersion") != "1.0":
            raise _incomplete("SignatureVersion must be 1.0.")
        key = params["AccessKeyId"]
        secret = self._secret(key)
        self._check_date(params["Timestamp"])
        expected = signature_v2(secret, string_to_sign_v2(method, path, every))
        if not hmac.compare_digest(expected, params["Signature"]):
            raise _mismatch()
        self._check_nonce(key, params["SignatureNonce"])
        return Verified(
            action=params["Action"],
            version=params["Version"],
            access_key_id=key,
            scheme="v2",
            params={k: v for k, v in params.items() if k not in V2_COMMON},
            security_token=params.get("SecurityToken"),
        )

    # -- shared checks --------------------------------------------------------------

    def _secret(self, access_key_id: str) -> str:
        if callable(self.secrets):
            secret = self.secrets(access_key_id)
        else:
            secret = self.secrets.get(access_key_id)
        if secret is None:
            raise PopRefusal(
                404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
            )
        return secret

    def _check_date(self, value: str) -> None:
        try:
            stamp = calendar.timegm(time.strptime(value, DATE_FORMAT))
        except ValueError:
            raise PopRefusal(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ) from None
        if self.max_skew is not None and abs(self.clock() - stamp) > self.max_skew:
            raise PopRefusal(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )

    def _check_nonce(self, access_key_id: str, nonce: str) -> None:
        if not self.nonce_window:
            return
        now = self.clock()
        self._nonces = {k: t for k, t in self._nonces.items() if now - t <= self.nonce_window}
        if (access_key_id, nonce) in self._nonces:
            raise PopRefusal(
                400, "SignatureNonceUsed", "Specified signature nonce was used already."
            )
        self._nonces[(access_key_id, nonce)] = now


def _require_signed(signed: list[str], headers: dict[str, str], body: bytes) -> None:
    """host, every x-acs-* header present and (with a body) content-type must be signed."""
    required = {"host"} | {name for name in headers if name.startswith("x-acs-")}
    if body and "content-type" in headers:
        required.add("content-type")
    unsigned = sorted(required - set(signed))
    if unsigned:
        raise _incomplete(f"The header(s) {', '.join(unsigned)} must be signed.")
    missing = sorted(name for name in signed if name not in headers)
    if missing:
        raise _incomplete(f"The signed header(s) {', '.join(missing)} are missing.")


def _incomplete(message: str) -> PopRefusal:
    return PopRefusal(400, "IncompleteSignature", message)


def _mismatch(detail: str = "") -> PopRefusal:
    message = "Specified signature is not matched with our calculation."
    return PopRefusal(400, "SignatureDoesNotMatch", f"{message} {detail}".strip())
